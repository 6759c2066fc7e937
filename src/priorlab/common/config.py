"""Configuration pieces that several stages share, so each is written once and saved whole in config.json.

    opt = cfg.adam.build(model.parameters(), lr=cfg.lr)        # every trainer's optimizer
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def require_finite(cfg) -> None:
    """A stage config's check: every float field (and float in a tuple field) is a finite number -- nan and
    inf make no sense as a setting (`--kl-beta nan` would silently turn the KL term off) -- else ValueError
    naming its CLI option."""
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        values = value if isinstance(value, tuple) else (value,)
        if any(isinstance(v, float) and not math.isfinite(v) for v in values):
            raise ValueError(f"--{f.name.replace('_', '-')} must be a finite number, got {value}")


def require_positive(cfg, names: tuple[str, ...]) -> None:
    """A stage config's check: each named integer field is >= 1, else ValueError naming its CLI option."""
    for name in names:
        if getattr(cfg, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(cfg, name)}")


@dataclass(frozen=True)
class AdamWConfig:
    """AdamW's constants (Loshchilov & Hutter 2019; `torch.optim.AdamW`). The learning rate and weight decay
    are the stage's own dials (`--lr` and its schedule, `--weight-decay`; RL uses none); these are the
    settings a run keeps fixed. RL stages use β2 = 0.99 (the
    RL literature's choice for sparse, noisy policy gradients), pretraining and SFT β2 = 0.95 (nanoGPT's)."""

    betas: tuple[float, float] = (0.9, 0.99)
    eps: float = 1e-8

    def __post_init__(self) -> None:
        require_finite(self)
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"AdamW betas {self.betas} must be two numbers in [0, 1)")
        if not self.eps > 0:
            raise ValueError(f"AdamW eps {self.eps} must be > 0")
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))

    def build(self, params, *, lr: float, weight_decay: float = 0.0) -> torch.optim.AdamW:
        """AdamW over `params` (a parameter iterable, or param groups that may set their own weight decay)."""
        import torch  # not at import time: the CLI imports this module, and torch takes ~1.5 s

        return torch.optim.AdamW(params, lr=lr, betas=self.betas, eps=self.eps, weight_decay=weight_decay)


RL_ADAM = AdamWConfig(betas=(0.9, 0.99))
PRETRAIN_ADAM = AdamWConfig(betas=(0.9, 0.95))
