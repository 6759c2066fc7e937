"""The one verdict type: what an environment's verifier says of one completion.

The world's `Task.verify` and the math grader (`math.reward`) both return `Verdict`s, and every reward scores
verdicts (`rl.rewards`), so a reward never re-implements correctness or answer extraction and runs the same
on the controlled world and on real math data.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Verdict:
    """correct: the answer is right; answer: a hashable key of the extracted answer for voting (the world's
    int, a math answer key), None when there is none; well_formed: the completion follows the env's format
    (the world's grammar; a math answer that could be extracted); format: the strategy name (world) or the
    answer's form ("boxed"); confidence: a stated confidence in [0, 1], if any; extracted: the answer as
    written (math: compared with a wrong label by the `incorrect` reward); diagnostics: extra numbers the
    reward logs as components (math: `grade_failed`)."""

    correct: bool
    answer: Hashable | None
    well_formed: bool
    format: str | None
    confidence: float | None = None
    extracted: str | None = None
    diagnostics: Mapping[str, float] = field(default_factory=dict, compare=False)
