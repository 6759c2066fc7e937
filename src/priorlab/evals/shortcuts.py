"""Shortcut and degenerate-behaviour detectors on completions of the arithmetic world.

Each detector returns a bool per completion; `shortcut_rates` averages them. Definitions:

- `operand_repeat`: the answer is wrong and equals a number that appears in the prompt (the model
  copied an operand instead of computing);
- `skipped_step`: a trace (nl or code) writes fewer operations than the problem has (n_operands - 1);
- `answer_repeated`: more than one `A: <int>` line;
- `truncated`: the completion hit the length limit without `<eos>`.
`any` is the share of completions with at least one of them.
"""

from __future__ import annotations

from priorlab.world.formats import Parsed
from priorlab.world.tasks import Problem

DETECTORS = ("operand_repeat", "skipped_step", "answer_repeated", "truncated")


def detect(problem: Problem, parsed: Parsed, finished: bool = True) -> dict[str, bool]:
    wrong = parsed.answer is not None and parsed.answer != problem.answer
    flags = {
        "operand_repeat": wrong and parsed.answer in problem.operands,
        "skipped_step": parsed.format in ("nl", "code") and parsed.n_ops < len(problem.operands) - 1,
        "answer_repeated": parsed.n_answer_lines > 1,
        "truncated": not finished,
    }
    flags["any"] = any(flags.values())
    return flags


def shortcut_rates(flags: list[dict[str, bool]]) -> dict[str, float]:
    if not flags:
        return {k: 0.0 for k in (*DETECTORS, "any")}
    return {k: sum(f[k] for f in flags) / len(flags) for k in (*DETECTORS, "any")}
