"""The controlled world's SFT examples: a traces file, or gold traces the world renders (a perfect teacher).

    examples, skipped, first_error = load_traces("traces.jsonl", skip_bad_lines=True, block_size=256)
    examples = teacher_traces("code", "2x1,3x1", n=2000, seed=0)

A traces file is JSONL, one `{"problem": "3+5-2", "completion": "..."}` per line (other fields are
ignored). Teacher traces are train-split problems with their gold solution in one format (canonical
style: left to right, no check); a format the student never saw in pretraining makes SFT a distillation
into a new format, the `distillation-expands` claim's condition (arXiv 2504.13837 §5).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

from priorlab.world.formats import Style
from priorlab.world.tasks import Problem, get_task, parse_difficulties
from priorlab.world.tokenizer import Tokenizer


class TracesError(ValueError):
    """A traces file or one of its lines is unusable; the message names the file and the line."""


@dataclass(frozen=True)
class Example:
    problem: Problem
    completion: str


def _parse_line(line: str, tok: Tokenizer, block_size: int) -> Example:
    """One traces line -> Example; raises ValueError with the reason (no file or line: the caller adds it)."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as e:
        raise ValueError(f"invalid JSON ({e.msg})") from None
    if not isinstance(row, dict) or "problem" not in row or "completion" not in row:
        raise ValueError("expected a JSON object with fields 'problem' and 'completion'")
    problem, completion = row["problem"], row["completion"]
    if not isinstance(problem, str):
        raise ValueError(f"field 'problem' must be a string like '3+5-2', got {problem!r}")
    p = Problem.from_expr(problem.strip())  # ValueError names the problem
    if not isinstance(completion, str) or not completion:
        raise ValueError("field 'completion' must be a non-empty string")
    task = get_task()
    n = len(tok.encode(task.prompt(p) + completion, bos=True, eos=True))  # ValueError names the character
    if n - 1 > block_size:
        raise ValueError(f"prompt + completion is {n} tokens, more than the model's block size {block_size} + 1")
    return Example(p, completion)


def load_traces(path: str | Path, *, skip_bad_lines: bool = False, block_size: int = 256,
                tokenizer: Tokenizer | None = None) -> tuple[list[Example], int, str | None]:
    """Read a traces file: (examples, number of skipped lines, the first skipped line's error or None).

    Blank lines are ignored. A malformed line raises TracesError `FILE:LINE: reason`, unless
    skip_bad_lines, which skips it and counts it. A file with no usable line is always an error.
    """
    path, tok = Path(path), tokenizer or Tokenizer()
    if not path.is_file():
        raise TracesError(f"--traces {path}: file not found")
    examples, skipped, first_error = [], 0, None
    try:
        lines = path.read_text(encoding="utf-8").split("\n")  # as iterating the file splits
    except UnicodeDecodeError as e:
        raise TracesError(f"--traces {path}: not UTF-8 text ({e.reason} at byte {e.start}); JSONL expected") from None
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            examples.append(_parse_line(line, tok, block_size))
        except ValueError as e:
            msg = f"{path}:{lineno}: {e.args[0] if e.args else e}"
            if not skip_bad_lines:
                raise TracesError(msg) from None
            skipped += 1
            first_error = first_error or msg
    if not examples:
        raise TracesError(f"{path}: no usable traces" + (f" ({skipped} malformed lines skipped)" if skipped else ""))
    return examples, skipped, first_error


def teacher_traces(fmt: str, difficulty: str, n: int, seed: int) -> list[Example]:
    """`n` train-split problems with their gold `fmt` solution (canonical style: left to right, no check)."""
    task, diffs = get_task(), parse_difficulties(difficulty)
    rng = random.Random(f"sft-teacher:{seed}")
    problems = [task.generate(rng, rng.choice(diffs), split="train") for _ in range(n)]
    return [Example(p, task.render(p, Style(fmt))) for p in problems]
