"""The one completion type: B sampled completions packed with their prompts, as every sampler returns them.

    ro = rollout(model, prompt_ids, group_size=8, ...)        # the world's sampler (rl.rollout)
    ro = hf_rollout(lm, prompt_ids, n=8, ...)                  # Hugging Face generate (model.hf.generate)
    ro.input_ids, ro.completion_mask, ro.logprobs, ro.texts   # the same fields, the same layout

Rows are prompt-major (row p·G + g is sample g of prompt p), so rewards and advantages reshape to [P, G].
Below it sits the world decoder's own output, `model.sampling.Samples` (one `sample` call's generated tokens,
without prompts): `rl.rollout.rollout` packs it into Rollouts, and the evaluations that only read the
generated tokens (`evals.world_eval`, SRL's step similarity) take it as it is, saving the packing.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from torch import Tensor

from priorlab.model.gpt import positions_from_mask


@dataclass
class Rollouts:
    """B = P·G sequences; T = longest prompt + longest completion.

    input_ids       [B, T] long   left-padded prompt, then the completion, right-padded with pad
    attn_mask       [B, T] bool   True on real tokens (prompt and completion)
    completion_mask [B, T] bool   True on generated tokens (eos included)
    logprobs        [B, T] float  the sampling policy's log-prob of each generated token, 0 elsewhere
                                  (None when the sampler was not asked for them)
    entropies       [B, T] float  entropy of the distribution each generated token was drawn from (or None)
    texts           B completion strings; finished [B] bool (emitted eos); lengths [B] long
    planning_mask   [B, T] bool   generated tokens labelled `planning` (the world only; else None)
    execution_mask  [B, T] bool   generated tokens labelled `execution` (the world only; else None)
    """

    input_ids: Tensor
    attn_mask: Tensor
    completion_mask: Tensor
    logprobs: Tensor | None
    entropies: Tensor | None
    texts: list[str]
    finished: Tensor
    lengths: Tensor
    planning_mask: Tensor | None = None
    execution_mask: Tensor | None = None

    @property
    def positions(self) -> Tensor:
        """Position ids of every token, counted from each row's first non-pad token."""
        return positions_from_mask(self.attn_mask)

    def select(self, rows: Tensor) -> Rollouts:
        """The rollouts at row indices `rows` (a 1-D long tensor)."""
        idx = rows.tolist()
        kw: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        picked: dict[str, Any] = {k: (v[rows] if v is not None else None) if k != "texts" else [v[i] for i in idx]
                                  for k, v in kw.items()}
        return Rollouts(**picked)
