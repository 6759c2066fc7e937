"""Sampling from Hugging Face causal LMs with `generate`, packed for grading and for the RL trainer.

    from priorlab.model.hf.generate import hf_rollout, sequence_logprobs_hf
    ro = hf_rollout(lm, prompt_ids, n=8, max_new_tokens=256, temperature=1.0, seed=0, batch_size=64)
    ro.texts, ro.input_ids, ro.attn_mask, ro.completion_mask, ro.logprobs, ro.lengths, ro.finished

pass@k batching: the prompts are left-padded into one batch and each row is repeated `n` times, so a
`generate` call holds (prompts per call) x n sequences, at most `batch_size` rows (one prompt per call
when n > batch_size). Rows are prompt-major (row p*n + j is sample j of prompt p), as in `model.completions.Rollouts`, the type it returns.

Determinism: every call of `generate` runs under `torch.random.fork_rng` seeded with
(seed, call index), so the same seed, prompts and batch size give the same tokens (bitwise on CPU; on
CUDA as far as its kernels are deterministic) and the caller's global RNG state is left untouched.

Sampling is exactly softmax(logits / temperature) with nucleus `top_p`: the checkpoint's own
`generation_config` (Qwen's top_k 20, repetition_penalty 1.05, ...) is set aside for the call, and
top_k is off. temperature 0 is greedy. `eos_ids` = the tokenizer's EOS plus the checkpoint's
generation EOS ids (chat models stop at `<|im_end|>`).

Log-probs: `generate` is not asked for its logits (a [B, L, V] stack is too large at real vocabulary
sizes); with `logprobs=True` one no-grad forward per chunk recomputes them with
`sequence_logprobs_hf`, the function the trainer differentiates, so the sampler and the update agree on
the policy (softmax(logits / T), T = 0 scored at 1, before top-p; entropies likewise).

Tests: `.venv/bin/pytest tests/test_model_hf_generate.py`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from priorlab.common.seeds import derive
from priorlab.model.completions import Rollouts
from priorlab.model.gpt import positions_from_mask
from priorlab.model.sampling import next_token_stats


def eos_ids(lm) -> list[int]:
    """Every token id that ends a completion: the tokenizer's eos and the generation config's."""
    ids = [lm.eos_id]
    gen = getattr(lm.model, "generation_config", None)
    extra = getattr(gen, "eos_token_id", None) if gen is not None else None
    for i in extra if isinstance(extra, (list, tuple)) else [extra]:
        if i is not None and i not in ids:
            ids.append(int(i))
    return ids


def encode_prompts(lm, texts: list[str], add_special_tokens: bool = True) -> list[list[int]]:
    """Prompts as token ids; a prompt that encodes to no token is an error naming it."""
    out = [lm.tokenizer(t, add_special_tokens=add_special_tokens)["input_ids"] for t in texts]
    for t, ids in zip(texts, out):
        if not ids:
            raise ValueError(f"prompt {t[:40]!r} encodes to no tokens")
    return out


def _left_pad(rows: list[list[int]], pad_id: int) -> tuple[Tensor, Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.bool)
    for i, r in enumerate(rows):
        ids[i, width - len(r):] = torch.tensor(r, dtype=torch.long)
        mask[i, width - len(r):] = True
    return ids, mask


def sequence_logprobs_hf(model, input_ids: Tensor, attn_mask: Tensor, completion_mask: Tensor, *,
                         temperature: float = 1.0) -> tuple[Tensor, Tensor]:
    """(logprobs [B, T], entropies [B, T]) float32 of the tokens selected by completion_mask, with gradients.

    logprobs[:, t] = log p(input_ids[:, t] | <t) under softmax(logits / temperature) (temperature 0 scored
    at 1); column 0 and unselected tokens are 0. The HF counterpart of `model.sampling.sequence_logprobs`.
    """
    attn_mask = attn_mask.bool()
    dev = next(model.parameters()).device
    logits = model(input_ids=input_ids.to(dev), attention_mask=attn_mask.long().to(dev),
                   position_ids=positions_from_mask(attn_mask).to(dev)).logits[:, :-1].float()  # [B, T-1, V]
    logp, _, entropy = next_token_stats(logits, temperature)  # the world sampler's definition of the policy
    token_logp = logp.gather(-1, input_ids[:, 1:, None].to(dev)).squeeze(-1)  # [B, T-1]
    keep = completion_mask.bool()[:, 1:].to(dev)
    zero = token_logp.new_zeros(input_ids.shape[0], 1)
    return (torch.cat([zero, torch.where(keep, token_logp, 0.0)], 1).cpu(),
            torch.cat([zero, torch.where(keep, entropy, 0.0)], 1).cpu())


def _generation_config(lm, *, max_new_tokens: int, temperature: float, top_p: float):
    from transformers import GenerationConfig

    sample = temperature > 0
    return GenerationConfig(do_sample=sample, temperature=temperature if sample else None,
                            top_p=top_p if sample else None, top_k=0 if sample else None,
                            max_new_tokens=max_new_tokens, pad_token_id=lm.pad_id, eos_token_id=eos_ids(lm))


def _generate_chunk(lm, rows: list[list[int]], gcfg, seed: int) -> Tensor:
    """Completion ids [b, L] of left-padded `rows` (pad_id after EOS)."""
    model = lm.model
    dev = next(model.parameters()).device
    ids, mask = _left_pad(rows, lm.pad_id)
    saved = model.generation_config
    model.generation_config = gcfg  # the checkpoint's sampling defaults must not leak in (module doc)
    try:
        with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []), torch.no_grad():
            torch.manual_seed(seed)
            out = model.generate(input_ids=ids.to(dev), attention_mask=mask.long().to(dev), generation_config=gcfg)
    finally:
        model.generation_config = saved
    return out[:, ids.shape[1]:].cpu()


def _finish(gen: Tensor, stop: list[int]) -> tuple[Tensor, Tensor]:
    """lengths [b] (through the first EOS, inclusive) and finished [b] of completion ids [b, L]."""
    is_eos = torch.isin(gen, torch.tensor(stop))
    finished = is_eos.any(1)
    first = torch.where(finished, is_eos.float().argmax(1), torch.full_like(finished, gen.shape[1] - 1, dtype=torch.long))
    return first + 1, finished


def hf_rollout(lm, prompts: list[list[int]], *, n: int, max_new_tokens: int, temperature: float = 1.0,
               top_p: float = 1.0, seed: int = 0, batch_size: int = 64, logprobs: bool = False) -> Rollouts:
    """`n` completions of each prompt (token ids) with `generate`, packed (module doc)."""
    if n < 1 or max_new_tokens < 1 or batch_size < 1:
        raise ValueError(f"n={n}, max_new_tokens={max_new_tokens}, batch_size={batch_size} must all be >= 1")
    if temperature < 0 or not 0 < top_p <= 1:
        raise ValueError(f"temperature={temperature} must be >= 0 and top_p={top_p} in (0, 1]")
    gcfg = _generation_config(lm, max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p)
    stop = eos_ids(lm)
    per_call = max(1, batch_size // n)
    gens: list[list[int]] = []
    for c, start in enumerate(range(0, len(prompts), per_call)):
        rows = [p for p in prompts[start:start + per_call] for _ in range(n)]
        gen = _generate_chunk(lm, rows, gcfg, derive(seed, "chunk", c))
        lengths, _ = _finish(gen, stop)
        gens += [gen[i, :int(lengths[i])].tolist() for i in range(len(rows))]
    jobs = [p for p in prompts for _ in range(n)]
    P, L = max(len(p) for p in jobs), max(len(g) for g in gens)
    B = len(jobs)
    input_ids = torch.full((B, P + L), lm.pad_id, dtype=torch.long)
    attn = torch.zeros(B, P + L, dtype=torch.bool)
    comp = torch.zeros(B, P + L, dtype=torch.bool)
    lengths = torch.tensor([len(g) for g in gens], dtype=torch.long)
    finished = torch.tensor([bool(g) and g[-1] in stop for g in gens])
    texts = []
    for b, (p, g) in enumerate(zip(jobs, gens)):
        input_ids[b, P - len(p):P] = torch.tensor(p)
        input_ids[b, P:P + len(g)] = torch.tensor(g, dtype=torch.long)
        attn[b, P - len(p):P + len(g)] = True
        comp[b, P:P + len(g)] = True
        texts.append(lm.tokenizer.decode(g[:-1] if finished[b] else g, skip_special_tokens=True))
    lp = ent = None
    if logprobs:
        lp, ent = torch.zeros(B, P + L), torch.zeros(B, P + L)
        with torch.no_grad():
            for s in range(0, B, batch_size):
                sl = slice(s, s + batch_size)
                lp[sl], ent[sl] = sequence_logprobs_hf(lm.model, input_ids[sl], attn[sl], comp[sl],
                                                       temperature=temperature)
    return Rollouts(input_ids, attn, comp, lp, ent, texts, finished, lengths)
