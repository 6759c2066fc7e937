"""Nothing non-finite is trained on or written: every trainer stops at a non-finite loss or gradient, and
no checkpoint or final model holding a NaN or an infinity is saved (so none enters the cache).

    finite.check_step(loss, grad_norm, step, lr_flag="--lr")     # after backward, before the optimizer step
    finite.check_weights(model.state_dict(), "checkpoint step 20")  # before a save
"""

from __future__ import annotations

import torch


class NonFiniteError(RuntimeError):
    """Training produced a NaN or an infinity; the message names the step (and the trainer adds the last good
    checkpoint)."""


def check_step(loss: torch.Tensor | float, grad_norm: torch.Tensor | float | None, step: int) -> None:
    """Raise NonFiniteError if the loss or the gradient norm of step `step` (1-based) is NaN or infinite."""
    if not torch.isfinite(torch.as_tensor(loss)).all():
        raise NonFiniteError(f"non-finite loss at step {step}; lower --lr")
    if grad_norm is not None and not torch.isfinite(torch.as_tensor(grad_norm)).all():
        raise NonFiniteError(f"non-finite gradient at step {step} (loss {float(loss):.4g}); lower --lr")


def check_weights(state: dict[str, torch.Tensor], what: str) -> None:
    """Raise NonFiniteError naming `what` and the first tensor holding a NaN or an infinity."""
    for name, t in state.items():
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise NonFiniteError(f"non-finite weights in {name}, not saved as {what}; lower --lr")
