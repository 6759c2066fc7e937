"""Library output goes through `logging` (one logger per module, under "priorlab"): silent unless the
application configures logging, routable inside a trainer's workers. Functions that report progress take a
`log` callable (the CLI passes its rich console's print) and otherwise log at INFO to their module's logger.

    log = logs.to(log, __name__)      # first line of such a function
"""

from __future__ import annotations

import logging
from collections.abc import Callable


def to(log: Callable[..., object] | None, name: str) -> Callable[..., object]:
    """`log` if given, else the INFO method of the logger `name` (a module's `__name__`)."""
    return log if log is not None else logging.getLogger(name).info
