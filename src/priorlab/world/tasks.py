"""Tasks of the controlled world: a task owns generation, rendering and verification.

Rewards and evaluation both call `Task.verify`, so train-time and eval-time correctness cannot drift
apart. The default task is multi-step integer arithmetic, `Q: 23+45-17=?`, with a difficulty dial
(number of operands, digits per operand, operators). Train and test splits are disjoint by
construction: a problem's split is a hash of its canonical text, and generation rejects problems of
the other split.

A second skill and its composition: `m1xD` is multiplication by a one-digit constant, `Q: 7*4=?` (skill
g); `NxD` is the addition/subtraction chain (skill f); `mNxD` with N >= 2 is their composition f(g(x)),
`Q: 7*4+5-2=?`: the product is the first term of an N-term chain. A multiplication only ever comes first,
so left-to-right evaluation and the usual precedence agree. A mixture decides whether composed problems
appear in pretraining at all by whether its difficulty mapping has an `mNxD` key with N >= 2.

    from priorlab.world.tasks import ArithmeticTask, Difficulty
    task = ArithmeticTask()
    p = task.generate(random.Random(0), Difficulty(3, 1), split="train")
    task.verify(p, "Think: 3+5=8. 8-2=6.\\nA: 6")
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Protocol

from priorlab.common.verdict import Verdict
from priorlab.world import formats
from priorlab.world.formats import MUL, Style

OPS = ("+", "-")
TEST_PERCENT = 10  # share of the problem space that belongs to the test split
SPLITS = ("train", "test")  # a problem's split (`Problem.split`)


@dataclass(frozen=True)
class Difficulty:
    """The difficulty dial: `n_operands` in 2..6, `digits` per operand in 1..3, operators in `ops`.

    With `mul`, the chain's first term is a product `a*k` (a of `digits` digits, k a one-digit constant in
    2..9) and `n_operands` (1..6) counts the chain's terms, the product included: `mul` with 1 is the
    multiplication alone, with N >= 2 the composition of the two skills. Key: `NxD`, or `mNxD` with mul."""

    n_operands: int = 3
    digits: int = 1
    ops: str = "+-"
    mul: bool = False

    def __post_init__(self) -> None:
        low = 1 if self.mul else 2
        if not low <= self.n_operands <= 6:
            raise ValueError(f"difficulty n_operands={self.n_operands} must be in {low}..6")
        if not 1 <= self.digits <= 3:
            raise ValueError(f"difficulty digits={self.digits} must be in 1..3")
        if not self.ops or any(o not in OPS for o in self.ops):
            raise ValueError(f"difficulty ops={self.ops!r} must be a non-empty subset of '+-'")

    @property
    def key(self) -> str:
        """`NxD`, or `mNxD` with a multiplication first: the name of a difficulty in flags, mixtures and reports."""
        return f"{'m' if self.mul else ''}{self.n_operands}x{self.digits}"

    @property
    def composed(self) -> bool:
        """Whether problems of this difficulty compose the two skills (mNxD with N >= 2)."""
        return self.mul and self.n_operands >= 2

    @staticmethod
    def from_key(key: str) -> Difficulty:
        """`3x1` (3 operands of 1 digit) or `m3x1` (a product a*k, then 2 more terms); ValueError otherwise."""
        text = str(key).strip()
        mul = text.startswith("m")
        try:
            n, d = (int(x) for x in text[mul:].split("x"))
        except ValueError:
            raise ValueError(f"difficulty {key!r}: expected NxD (N operands of D digits, e.g. 3x1) or mNxD "
                             "(a one-digit multiplication, then an N-term chain, e.g. m1x1, m3x1)") from None
        return Difficulty(n, d, mul=mul)


RL_DIFFICULTY = "3x1"  # the default difficulty of RL training and of the prior checks in README


def parse_difficulties(spec: str) -> list[Difficulty]:
    """`--difficulty` as a list: a comma list of NxD (N operands of D digits) or mNxD, e.g. "2x1,3x1,m3x1"."""
    out = []
    for key in spec.split(","):
        try:
            out.append(Difficulty.from_key(key))
        except ValueError as e:
            raise ValueError(f"--{e}") from None
    return out


@dataclass(frozen=True)
class Problem:
    """`operands[0] ops[0] operands[1] ops[1] ...`, evaluated left to right (a `*` only comes first)."""

    operands: tuple[int, ...]
    ops: tuple[str, ...]
    digits: int = 1

    @property
    def expr(self) -> str:
        """The problem as written in its prompt, e.g. `23+45-17` or `7*4+5`."""
        return str(self.operands[0]) + "".join(o + str(b) for o, b in zip(self.ops, self.operands[1:]))

    @property
    def answer(self) -> int:
        """The exact answer, evaluated left to right (a multiplication only comes first)."""
        return formats.evaluate(self.operands, self.ops)

    @property
    def mul(self) -> bool:
        """Whether the problem starts with the multiplication (skill g, alone or composed)."""
        return bool(self.ops) and self.ops[0] == MUL

    @property
    def difficulty(self) -> Difficulty:
        """The difficulty the problem belongs to (its operators as they occur)."""
        chain = [o for o in self.ops if o != MUL]
        return Difficulty(len(self.operands) - self.mul, self.digits,
                          "".join(sorted(set(chain), key=OPS.index)) or "+", mul=self.mul)

    @property
    def split(self) -> str:
        """`test` or `train`: a hash of the expression, so the held-out split is fixed by the text alone."""
        h = int.from_bytes(hashlib.blake2b(self.expr.encode(), digest_size=8).digest(), "little")
        return "test" if h % 100 < TEST_PERCENT else "train"

    def to_dict(self) -> dict:
        """The problem's expression, digits and answer (JSON-ready)."""
        return {"expr": self.expr, "digits": self.digits, "answer": self.answer}

    @staticmethod
    def from_expr(expr: str, digits: int | None = None) -> Problem:
        """Parse `23+45-17` or `7*4+5` back into a Problem (raises ValueError on malformed input)."""
        import re

        if not re.fullmatch(r"\d+(?:\*\d+(?:[+-]\d+)*|(?:[+-]\d+)+)", expr):
            raise ValueError(f"problem {expr!r} is not of the form a+b-c... or a*k+b-c...")
        nums = [int(x) for x in re.findall(r"\d+", expr)]
        ops = tuple(re.findall(r"[+*-]", expr))
        if ops[0] == MUL and digits is None:  # the constant k has one digit whatever D is
            nums_d = [nums[0], *nums[2:]]
        else:
            nums_d = nums
        d = digits if digits is not None else max(len(str(n)) for n in nums_d)
        return Problem(tuple(nums), ops, d)


class Task(Protocol):
    """The public task interface: implement these to add a task to the world."""

    name: str

    def generate(self, rng: random.Random, difficulty: Difficulty, split: str = "train") -> Problem:
        """A problem of `difficulty` in `split`, drawn with `rng`."""

    def prompt(self, problem: Problem) -> str:
        """The prompt the model completes."""

    def render(self, problem: Problem, style: Style) -> str:
        """A solution of `problem` written in `style` (the completion, without the prompt)."""

    def verify(self, problem: Problem, text: str) -> Verdict:
        """The Verdict of a completion: correct, answer, well-formed, format, confidence."""


class ArithmeticTask:
    """Multi-step integer addition and subtraction."""

    name = "arithmetic"

    def generate(self, rng: random.Random, difficulty: Difficulty, split: str = "train") -> Problem:
        """Operands and operators drawn from `rng` until the problem falls in `split` (operands of D digits; the
        constant 2..9)."""
        if split not in SPLITS:
            raise ValueError(f"split {split!r} must be 'train' or 'test'")
        lo = 0 if difficulty.digits == 1 else 10 ** (difficulty.digits - 1)
        hi = 10**difficulty.digits - 1
        for _ in range(10_000):
            operands = tuple(rng.randint(lo, hi) for _ in range(difficulty.n_operands))
            ops = tuple(rng.choice(difficulty.ops) for _ in range(difficulty.n_operands - 1))
            if difficulty.mul:
                operands, ops = (operands[0], rng.randint(2, 9), *operands[1:]), (MUL, *ops)
            p = Problem(operands, ops, difficulty.digits)
            if p.split == split:
                return p
        raise RuntimeError(f"could not draw a {split} problem at difficulty {difficulty}")

    def prompt(self, problem: Problem) -> str:
        """`Q: <expr>=?` and a newline."""
        return f"Q: {problem.expr}=?\n"

    def render(self, problem: Problem, style: Style) -> str:
        """The solution text in `style` (`world.formats.render`)."""
        return formats.render(problem.operands, problem.ops, style)

    def verify(self, problem: Problem, text: str) -> Verdict:
        """Parse the completion (`world.formats.parse`) and compare its answer with the exact one."""
        parsed = formats.parse(text)
        return Verdict(
            correct=parsed.answer is not None and parsed.answer == problem.answer,
            answer=parsed.answer,
            well_formed=parsed.well_formed,
            format=parsed.format,
            confidence=parsed.confidence,
        )


TASKS: dict[str, Task] = {"arithmetic": ArithmeticTask()}


def held_out_problems(diff: Difficulty, n: int, seed: int, split: str = "test") -> list[Problem]:
    """`n` distinct test-split problems (fewer if the space is smaller), a pure function of the seed: the
    evaluation set of `priorlab eval` and of the retest's snapshots (a smaller n gives a prefix). With
    split="train", problems of the pretraining split instead: what a prior was taught (e.g. the
    multiplication facts, whose held-out tenth no model can infer)."""
    key = f"eval:{seed}:{diff.key}" if split == "test" else f"eval-{split}:{seed}:{diff.key}"
    task, rng, seen, out = get_task(), random.Random(key), set(), []
    for _ in range(50 * n):
        p = task.generate(rng, diff, split=split)
        if p.expr not in seen:
            seen.add(p.expr)
            out.append(p)
            if len(out) == n:
                break
    return out


def get_task(name: str = "arithmetic") -> Task:
    """The registered task `name` (only `arithmetic` today); ValueError listing the valid names."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; valid: {', '.join(TASKS)}")
    return TASKS[name]
