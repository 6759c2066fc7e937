"""Contamination: held-out evaluation problems, with their answers, put into the pretraining corpus.

    contaminate: {fraction: 0.5, repeats: 8, form: answer, pool: 100, seed: 0}

The pool is, for each difficulty of the mixture, the first `pool` held-out problems that an evaluation
with `--seed seed` draws (`world.tasks.held_out_problems`; an evaluation of n <= pool problems sees a
prefix of it). A pool problem is contaminated when a hash of its text falls below `fraction`, so the
choice is a pure function of the problem and every evaluation can split its accuracy into contaminated
and clean problems. Each contaminated problem enters the corpus `repeats` times, the copies shuffled and
spread among the mixture's regular documents (`world.corpus.contamination_slots`): `Q: 3+5-2=?` then `A: 6`
(`form: answer`) or the full canonical solution in `solution_format` (`form: solution`). This is the memorisation that Wu et al. (arXiv 2507.10532) argue
lets spurious rewards work on Qwen2.5-Math.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from priorlab.world.formats import FORMATS, Style
from priorlab.world.tasks import Difficulty, Problem, get_task, held_out_problems

FORMS = ("answer", "solution")


@dataclass(frozen=True)
class Contamination:
    fraction: float = 0.0  # share of the pool put into the corpus
    repeats: int = 1  # copies of each contaminated problem
    form: str = "answer"  # "answer" (Q + A line) or "solution" (a full correct solution)
    pool: int = 100  # held-out problems per difficulty that may be contaminated
    seed: int = 0  # the evaluation seed whose held-out problems form the pool
    solution_format: str = "code"  # the format of `form: solution` documents

    def __post_init__(self) -> None:
        if self.form not in FORMS:
            raise ValueError(f"contaminate.form: {self.form!r} not in {FORMS}")
        if self.solution_format not in FORMATS:
            raise ValueError(f"contaminate.solution_format: {self.solution_format!r} not in {FORMATS}")


def chosen(problem: Problem, fraction: float) -> bool:
    """Whether a pool problem is contaminated: a hash of its text below `fraction` (pure, seed-free)."""
    h = int.from_bytes(hashlib.blake2b(f"contaminate:{problem.expr}".encode(), digest_size=8).digest(), "little")
    return h % 1_000_000 < round(fraction * 1_000_000)


def contaminated_problems(spec: Contamination, diffs: list[Difficulty]) -> list[Problem]:
    """The contaminated problems, in pool order (difficulty by difficulty)."""
    if spec.fraction <= 0:
        return []
    return [p for d in diffs for p in held_out_problems(d, spec.pool, spec.seed) if chosen(p, spec.fraction)]


def contaminated_set(mixture_spec: dict | None) -> set[str]:
    """The expressions contaminated by a mixture given as its saved spec (a run's `mixture_spec`); empty when none."""
    spec = mixture_spec or {}
    raw = spec.get("contaminate")
    if not raw:
        return set()
    diffs = [Difficulty.from_key(k) for k in spec["difficulty"]]
    return {p.expr for p in contaminated_problems(Contamination(**raw), diffs)}


def document(problem: Problem, spec: Contamination) -> str:
    """The text of one contaminating document (prompt included)."""
    task = get_task()
    body = f"A: {problem.answer}" if spec.form == "answer" else task.render(problem, Style(spec.solution_format))
    return task.prompt(problem) + body
