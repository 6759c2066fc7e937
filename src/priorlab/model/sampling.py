"""Batched sampling from the tiny GPT, and the log-likelihood of sampled sequences for training.

`sample` left-pads the prompts into one batch, runs one prefill forward that fills a key/value cache
preallocated for the whole call, then one forward of a single token per step. It records, for every
sampled token, its log-probability and the entropy of the distribution it was drawn from, which is what
the RL trainer's ratios and the planning-vs-execution entropy analyses read.

    from priorlab.model.sampling import sample
    out = sample(model, [[1, 5, 7], [1, 6]], max_new_tokens=32, eos_id=2, pad_id=0, seed=3)
    out.tokens, out.lengths, out.logprobs, out.entropies, out.finished

`sequence_logprobs` recomputes the same log-probabilities with gradients for a prompt + completion
batch; both go through `next_token_stats`, so the sampler and the trainer agree on what the policy's
distribution is (temperature included). Benchmark: `python bench/sampling.py`.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor

from priorlab.model.decode import Decoder
from priorlab.model.gpt import GPT, KVCache, padded_causal_mask, positions_from_mask
from priorlab.model.packing import pack

# Once the rows still decoding are at most this fraction of the decode batch, the finished ones are
# dropped from it (their cache rows copied out), so that steps after most rows have stopped cost less.
DROP_FRACTION = 0.75

# The keys and values live in one buffer per model that the next call reuses: fresh memory is paid for
# in page faults on first write (a 10 MB cache: ~2,500 faults, ~3 ms of a 35 ms call in
# bench/sampling.py). Caches above REUSE_CACHE_BYTES are allocated per call and freed, as are all
# caches of a call made while another thread's call holds the buffers.
REUSE_CACHE_BYTES = 256 << 20
_CACHE_STORAGE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> 1-D tensor
_CACHE_STORAGE_LOCK = threading.Lock()


@dataclass
class Samples:
    """What `sample` drew for B prompts; L = the number of steps run (<= max_new_tokens).

    tokens    [B, L] long     generated ids, prompt not included; eos kept, then pad_id after it
    lengths   [B]    long     generated tokens per row, eos included
    logprobs  [B, L] float32  log-prob of each token under the temperature-scaled distribution
                              (before top-p); 0 in padding
    entropies [B, L] float32  entropy in nats of that distribution (before top-p); 0 in padding
    finished  [B]    bool     True where the row emitted eos
    """

    tokens: Tensor
    lengths: Tensor
    logprobs: Tensor
    entropies: Tensor
    finished: Tensor


def next_token_stats(logits: Tensor, temperature: float) -> tuple[Tensor, Tensor, Tensor]:
    """logits [..., V] -> (log-probs [..., V], probs [..., V], entropy [...]) of softmax(logits / temperature).

    temperature 0 (greedy) is scored at temperature 1: the argmax has probability 1 at temperature 0,
    which would make every logprob 0 and every entropy 0 and tell an analysis nothing.
    """
    if temperature not in (0.0, 1.0):
        logits = logits / temperature
    logp = torch.log_softmax(logits.float(), dim=-1)
    probs = logp.exp()
    return logp, probs, -(probs * logp).sum(-1)


def _top_p_filter(probs: Tensor, top_p: float) -> Tensor:
    """Nucleus filtering (Holtzman et al. 2019, arXiv 1904.09751): probs [B, V] -> unnormalised [B, V].

    Keeps the most probable tokens until their mass reaches top_p; the most probable token is always
    kept, so a tiny top_p is greedy. The stable sort breaks ties by index, as argmax does.
    """
    sorted_p, order = probs.sort(dim=-1, descending=True, stable=True)
    drop = (sorted_p.cumsum(-1) - sorted_p) >= top_p  # mass strictly before this token already >= top_p
    return torch.zeros_like(probs).scatter_(-1, order, sorted_p.masked_fill_(drop, 0.0))


def _pick(logits: Tensor, temperature: float, top_p: float,
          generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
    """logits [B, V] -> (token [B] long, its logprob [B], entropy [B])."""
    logp, probs, entropy = next_token_stats(logits, temperature)
    if temperature == 0:
        token = logits.argmax(-1)
    else:
        if top_p < 1.0:
            probs = _top_p_filter(probs, top_p)
        # Exponential race: argmax_i p_i / E_i with E_i ~ Exp(1) picks i with probability p_i / sum(p)
        # (what torch.multinomial does for one sample, but with the cheaper torch.rand: E = -log U, so
        # it is the argmin of p_i / log U_i). A zero-probability token never wins.
        log_u = torch.rand(probs.shape, generator=generator, device=probs.device).log_()
        token = (probs / log_u).argmin(-1)
    return token, logp.gather(-1, token[:, None]).squeeze(1), entropy


def _check_args(model: GPT, prompts: list[list[int]], max_new_tokens: int, eos_id: int | None,
                pad_id: int, temperature: float, top_p: float) -> None:
    V = model.cfg.vocab_size
    if not prompts or any(len(p) == 0 for p in prompts):
        raise ValueError("sample needs at least one prompt and every prompt needs at least one token")
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    longest = max(len(p) for p in prompts)
    if longest + max_new_tokens > model.cfg.block_size:
        raise ValueError(f"longest prompt ({longest}) + max_new_tokens ({max_new_tokens}) exceeds "
                         f"the model's block_size ({model.cfg.block_size})")
    if not 0 <= pad_id < V or (eos_id is not None and not 0 <= eos_id < V):
        raise ValueError(f"pad_id {pad_id} and eos_id {eos_id} must be token ids below vocab_size {V}")
    if eos_id == pad_id:
        # With pad == eos, padding and stopping are indistinguishable downstream (and in training
        # the stop action would be masked out with the padding).
        raise ValueError(f"eos_id and pad_id must differ, both are {pad_id}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")


def sample(model: GPT, prompts: list[list[int]], *, max_new_tokens: int, eos_id: int | None, pad_id: int,
           temperature: float = 1.0, top_p: float = 1.0, generator: torch.Generator | None = None,
           seed: int | None = None) -> Samples:
    """Sample up to max_new_tokens continuations of each prompt in one batch.

    temperature 0 is greedy (logprobs and entropies are then those at temperature 1); top_p < 1 is
    nucleus sampling. eos_id None never stops early: every row gets exactly max_new_tokens. The loop
    stops as soon as every row has emitted eos. Randomness comes only from `generator`, or from a fresh
    generator seeded with `seed` (0 if both are None), never from the global RNG, so the same inputs
    and seed give bitwise identical samples on CPU.
    """
    _check_args(model, prompts, max_new_tokens, eos_id, pad_id, temperature, top_p)
    if generator is not None and seed is not None:
        raise ValueError("pass either a generator or a seed, not both")
    if generator is None:
        generator = torch.Generator(device=model.wte.weight.device).manual_seed(0 if seed is None else seed)
    numel = model.cache_numel(len(prompts), max(len(p) for p in prompts) + max_new_tokens)
    with torch.inference_mode(), _cache_storage(model, numel) as storage:
        out = _sample(model, prompts, max_new_tokens, eos_id, pad_id, temperature, top_p, generator, storage)
    # Tensors made under inference_mode can never enter an autograd graph, and the RL trainer feeds
    # these (as indices, as old logprobs) into graphs it differentiates; clones made here are ordinary.
    return Samples(*(t.clone() for t in out))


@contextmanager
def _cache_storage(model: GPT, numel: int) -> Iterator[Tensor | None]:
    """The model's reusable key/value buffer with at least numel elements, or None (allocate per call)."""
    weight = model.wte.weight
    if numel * weight.element_size() > REUSE_CACHE_BYTES or not _CACHE_STORAGE_LOCK.acquire(blocking=False):
        yield None
        return
    try:
        storage = _CACHE_STORAGE.get(model)
        if storage is None or storage.numel() < numel or storage.dtype != weight.dtype or storage.device != weight.device:
            _CACHE_STORAGE.pop(model, None)  # freed before its successor is allocated
            storage = _CACHE_STORAGE[model] = weight.new_empty(numel)
        yield storage
    finally:
        _CACHE_STORAGE_LOCK.release()


def _sample(model: GPT, prompts: list[list[int]], max_new_tokens: int, eos_id: int | None, pad_id: int,
            temperature: float, top_p: float, generator: torch.Generator,
            storage: Tensor | None) -> tuple[Tensor, ...]:
    """The body of `sample`, run under inference_mode; returns Samples' fields in order."""
    device = model.wte.weight.device
    B, longest = len(prompts), max(len(p) for p in prompts)
    total = longest + max_new_tokens
    idx = torch.tensor([[pad_id] * (longest - len(p)) + list(p) for p in prompts], device=device)
    if int(idx.min()) < 0 or int(idx.max()) >= model.cfg.vocab_size:
        raise ValueError(f"prompt token ids must be in [0, {model.cfg.vocab_size})")
    n_pad = torch.tensor([longest - len(p) for p in prompts], device=device)
    real = torch.arange(total, device=device) >= n_pad[:, None]  # [B, total], False = left padding
    positions = positions_from_mask(real[:, :longest])  # [B, longest]

    # Without padding the mask is all True: skip it so the prefill takes the is_causal path.
    padded = any(len(p) < longest for p in prompts)
    prefill_mask = padded_causal_mask(real[:, :longest]) if padded else None

    cache = model.new_cache(B, total, real, storage)
    decode = Decoder(model, cache)
    logits = decode.prefill(idx, positions, prefill_mask)  # [B, V]
    next_pos = positions[:, -1] + 1  # [B], position of the first generated token
    rows = torch.arange(B, device=device)  # the batch row of each row still being decoded

    columns: list[tuple[Tensor, Tensor, Tensor]] = []  # (token, logprob, entropy), each [B], per step
    finished = torch.zeros(B, dtype=torch.bool, device=device)
    lengths = torch.zeros(B, dtype=torch.long, device=device)
    for step in range(max_new_tokens):
        token, logprob, entropy = _pick(logits, temperature, top_p, generator)  # [len(rows)]
        if len(rows) < B:  # finished rows were dropped: they get pad, 0, 0
            token = torch.full((B,), pad_id, dtype=token.dtype, device=device).index_copy_(0, rows, token)
            logprob = logprob.new_zeros(B).index_copy_(0, rows, logprob)
            entropy = entropy.new_zeros(B).index_copy_(0, rows, entropy)
        if eos_id is not None:
            lengths += ~finished
            token.masked_fill_(finished, pad_id)
            logprob.masked_fill_(finished, 0.0)
            entropy.masked_fill_(finished, 0.0)
            finished |= token == eos_id
        columns.append((token, logprob, entropy))
        if step == max_new_tokens - 1 or (eos_id is not None and bool(finished.all())):
            break
        if eos_id is not None:
            live = ~finished[rows]
            if int(live.sum()) <= len(rows) * DROP_FRACTION:
                rows, next_pos, cache = rows[live], next_pos[live], _keep_rows(cache, live)
                decode = Decoder(model, cache)
        logits = decode(token if len(rows) == B else token[rows], next_pos + step, longest + step)
    if eos_id is None:
        lengths.fill_(len(columns))
    tokens, logprobs, entropies = (torch.stack(column, dim=1) for column in zip(*columns))
    return tokens, lengths, logprobs, entropies, finished


def _keep_rows(cache: KVCache, keep: Tensor) -> KVCache:
    """The cache of the rows where keep [B] is True (a copy: the rows become contiguous)."""
    H = cache.key_bias.shape[0] // keep.shape[0]
    key_bias = cache.key_bias.view(keep.shape[0], H, 1, -1)[keep].flatten(0, 1)
    return KVCache(k=cache.k[:, keep], v=cache.v[:, keep], key_bias=key_bias)


def sequence_logprobs(model: GPT, input_ids: Tensor, attn_mask: Tensor, positions: Tensor | None,
                      completion_mask: Tensor | None, *, temperature: float = 1.0,
                      packed: bool | None = None) -> tuple[Tensor, Tensor]:
    """Log-probabilities and entropies of a batch of sequences, with gradients (for training).

    input_ids [B, T] long: a left-padded prompt followed by its completion, right-padded with pad.
    attn_mask [B, T] bool, True = real token (prompt or completion). positions [B, T] long, or None
    for positions_from_mask(attn_mask). completion_mask [B, T] bool selects the tokens to score; None
    scores every real token that follows a real token.
    Returns (logprobs [B, T], entropies [B, T]) float32: logprobs[:, t] = log p(input_ids[:, t] | <t)
    under softmax(logits / temperature), entropies[:, t] the entropy of that distribution; column 0
    and every unselected token are 0. Matches `sample`'s logprobs/entropies for the tokens it drew.

    packed: run the forward on the sequences packed several to a row (priorlab.model.packing), which
    skips the padding's matmuls; same values up to float rounding. None packs when positions is None
    and packing saves at least a sixth of the rows.
    """
    attn_mask = attn_mask.bool()
    if packed is None:
        packed = positions is None and _worth_packing(attn_mask)
    p = None
    if packed:
        if positions is not None:
            raise ValueError("a packed forward derives positions from attn_mask; pass positions=None")
        p = pack(attn_mask)
        ids = p.gather(input_ids, fill=0)
        # logits at packed column j predict column j+1 when both hold the same sequence; the other
        # columns are masked out below, after unpacking
        logits, _ = model(ids, positions=p.positions, segments=p.segments)  # [R, T, V]
    else:
        ids = input_ids
        logits, _ = model(ids, positions=positions, attn_mask=attn_mask)  # [B, T, V]
    logp, _, entropy = next_token_stats(logits[:, :-1], temperature)  # [., T-1, V], [., T-1]
    zero = logp.new_zeros(ids.shape[0], 1)
    token_logp = torch.cat([zero, logp.gather(-1, ids[:, 1:, None]).squeeze(-1)], dim=1)
    entropy = torch.cat([zero, entropy], dim=1)
    if p is not None:
        token_logp, entropy = p.unpack(token_logp), p.unpack(entropy)  # [B, T]
    # column 0 has no logits before it; without a completion mask, a token is scored only when the
    # token before it, whose logits predict it, is real
    keep = completion_mask.bool()[:, 1:] if completion_mask is not None else attn_mask[:, 1:] & attn_mask[:, :-1]
    keep = torch.cat([torch.zeros_like(keep[:, :1]), keep], dim=1)
    return torch.where(keep, token_logp, 0.0), torch.where(keep, entropy, 0.0)


def _worth_packing(attn_mask: Tensor) -> bool:
    """Packing pays when the real tokens would fill at most 5/6 of the rows (a cheap lower bound on R)."""
    B, T = attn_mask.shape
    return B > 1 and -(-int(attn_mask.sum()) // T) <= B * 5 // 6
