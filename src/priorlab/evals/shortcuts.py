"""Shortcut and degenerate-behaviour detectors on completions of the arithmetic world.

Each detector returns a bool per completion; `shortcut_rates` averages them. Definitions:

- `operand_repeat`: the answer equals a number that appears in the prompt and no complete trace computed
  it (the answer is wrong, or the completion writes fewer operations than the problem has: a direct
  answer). A shortcut counts whether it succeeds or fails: a copied operand that happens to be the
  answer is the rare success that GRPO then reinforces (arXiv 2605.28388). The text cannot tell a
  correct direct answer that equals an operand from a copy, so those count too; how often a problem's
  answer is one of its operands (`operand_answer_share`) bounds that;
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
    """The shortcut flags of one completion (operand repeated, step skipped, answer repeated, truncated) and `any`."""
    wrong = parsed.answer is not None and parsed.answer != problem.answer
    computed = parsed.format in ("nl", "code") and parsed.n_ops >= len(problem.operands) - 1 and not wrong
    flags = {
        "operand_repeat": parsed.answer is not None and parsed.answer in problem.operands and not computed,
        "skipped_step": parsed.format in ("nl", "code") and parsed.n_ops < len(problem.operands) - 1,
        "answer_repeated": parsed.n_answer_lines > 1,
        "truncated": not finished,
    }
    flags["any"] = any(flags.values())
    return flags


def operand_answer_share(problems: list[Problem]) -> float:
    """Share of problems whose answer is one of their operands (where a direct answer looks like a copy)."""
    return sum(p.answer in p.operands for p in problems) / len(problems) if problems else 0.0


def shortcut_rates(flags: list[dict[str, bool]]) -> dict[str, float]:
    """The share of completions with each shortcut flag."""
    if not flags:
        return {k: 0.0 for k in (*DETECTORS, "any")}
    return {k: sum(f[k] for f in flags) / len(flags) for k in (*DETECTORS, "any")}
