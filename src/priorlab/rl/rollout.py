"""Rollouts: batched sampling of G completions per prompt, packed for the trainer.

    ro = rollout(model, prompt_ids, group_size=8, max_new_tokens=96, temperature=1.0, generator=g)
    ro.input_ids, ro.attn_mask, ro.completion_mask, ro.logprobs, ro.planning_mask, ro.texts  # model.completions.Rollouts

Every completion token carries the world's token label (planning / execution / other / unparsed), read
from the grammar of the decoded text (one character = one token), so planning-vs-execution entropy and
HICRA's planning-token credit come from ground truth rather than a heuristic.
"""

from __future__ import annotations

import torch

from priorlab.model.completions import Rollouts
from priorlab.model.sampling import sample
from priorlab.world.labels import EXECUTION, PLANNING, token_labels
from priorlab.world.tokenizer import Tokenizer


def rollout(model, prompts: list[list[int]], *, group_size: int, max_new_tokens: int, temperature: float = 1.0,
            top_p: float = 1.0, generator: torch.Generator | None = None, tokenizer: Tokenizer | None = None) -> Rollouts:
    """Sample `group_size` completions for each prompt (token ids, `<bos>` included) and pack them."""
    tok = tokenizer or Tokenizer()
    jobs = [p for p in prompts for _ in range(group_size)]
    s = sample(model, jobs, max_new_tokens=max_new_tokens, eos_id=tok.eos_id, pad_id=tok.pad_id,
               temperature=temperature, top_p=top_p, generator=generator)
    B, L = s.tokens.shape
    P = max(len(p) for p in jobs)
    T = P + L
    input_ids = torch.full((B, T), tok.pad_id, dtype=torch.long)
    attn = torch.zeros(B, T, dtype=torch.bool)
    comp = torch.zeros(B, T, dtype=torch.bool)
    planning = torch.zeros(B, T, dtype=torch.bool)
    execution = torch.zeros(B, T, dtype=torch.bool)
    old = torch.zeros(B, T)
    ent = torch.zeros(B, T)
    texts = []
    for b, p in enumerate(jobs):
        n = int(s.lengths[b])
        input_ids[b, P - len(p) : P] = torch.tensor(p)
        input_ids[b, P : P + n] = s.tokens[b, :n]
        attn[b, P - len(p) : P + n] = True
        comp[b, P : P + n] = True
        old[b, P : P + n] = s.logprobs[b, :n]
        ent[b, P : P + n] = s.entropies[b, :n]
        ids = s.tokens[b, :n].tolist()
        text = tok.decode(ids)
        texts.append(text)
        for j, lab in enumerate(token_labels(ids, text)):
            if lab == PLANNING:
                planning[b, P + j] = True
            elif lab == EXECUTION:
                execution[b, P + j] = True
    return Rollouts(input_ids, attn, comp, old, ent, texts, s.finished.clone(), s.lengths.clone(), planning, execution)
