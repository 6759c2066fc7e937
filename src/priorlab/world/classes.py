"""Problem classes: deterministic properties of a problem that a format's correctness may depend on.

Strategy–problem affinity: a mixture can say that a format fails on a class (`formats.code.fails_on:
repeated-operand`), so that the problems one strategy gets wrong are the ones another gets right, and
coverage at large k needs the minority strategy. A class is a pure function of the problem, never of the
sampled text, so RL can select the strategy that avoids it but cannot sharpen noise away.

    negative-intermediate   a running value, left to right, goes below 0        (3-5+4: 3-5 = -2)
    repeated-operand        an operand value appears more than once              (4+2-4)
"""

from __future__ import annotations

from priorlab.world.formats import apply_op
from priorlab.world.tasks import Problem


def negative_intermediate(p: Problem) -> bool:
    """Whether a running value, left to right, goes below 0 (`3-5+4`: 3-5 = -2)."""
    value = p.operands[0]
    for op, b in zip(p.ops, p.operands[1:]):
        value = apply_op(value, op, b)
        if value < 0:
            return True
    return False


def repeated_operand(p: Problem) -> bool:
    """Whether an operand value appears more than once (`4+2-4`)."""
    return len(set(p.operands)) < len(p.operands)


CLASSES = {"negative-intermediate": negative_intermediate, "repeated-operand": repeated_operand}


def check_class(name: str) -> None:
    """ValueError naming `name` and the valid classes unless it is one."""
    if name not in CLASSES:
        raise ValueError(f"problem class {name!r}: valid: {', '.join(CLASSES)}")


def in_class(p: Problem, name: str) -> bool:
    """Whether problem `p` belongs to class `name` (checked)."""
    check_class(name)
    return CLASSES[name](p)


def classes_of(p: Problem) -> tuple[str, ...]:
    """The classes `p` belongs to (possibly none), in CLASSES order."""
    return tuple(name for name, f in CLASSES.items() if f(p))
