"""Several tiny GPTs of one shape sampled as one population: weights stacked [R, ...], one kernel call per
op for all R members (issue 15's population execution; this module is its sampler).

At the world's sizes a decode step is a few dozen kernels whose fixed cost (~10 us a call) dominates
the arithmetic; stacking R members' weights and running each linear layer as one batched matmul
(`torch.bmm`) does R members' work per call. A member's samples must not depend on which population it
ran in, nor at which position, so everything a member computes is defined by the member alone:

- its prompts are left-padded to a fixed `prompt_len` (not the population's longest prompt), so its
  attention reads the same keys whatever the other members' prompts are;
- its random numbers come from its own generator: each step draws [B, V] uniforms for all of its B
  rows, finished or not, until all of them have finished, so the stream does not depend on when
  rows are dropped from the batch;
- rows that have finished are dropped from the batch (the live rows of every member packed to the
  front, the batch cut to the largest live count), which changes the row count M of each matmul;
  single-threaded CPU matmuls give each row the same bits for any M >= 4 (measured on torch 2.13 with
  oneDNN/MKL; tests/test_model_population.py checks it), so the batch never goes below MIN_ROWS rows,
  padded with copies of a live row.

The guarantee -- a member's tokens, log-probabilities and entropies are bitwise the same alone (R = 1)
or inside any population, at any position -- holds on CPU with one intra-op thread (the sweep's
workers run so) and is tested for R = 1, 3 and 8 in shuffled orders. With several threads, oneDNN may
split a matmul differently by shape and the samples agree only up to float rounding.

    pop = Population([model_a, model_b])          # same GPTConfig
    outs = sample_population(pop, [prompts_a, prompts_b], max_new_tokens=96, eos_id=2, pad_id=0,
                             prompt_len=20, seeds=[3, 4])       # one Samples per member
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from priorlab.model.gpt import GPT, padded_causal_mask, positions_from_mask
from priorlab.model.sampling import Samples, next_token_stats

DROP_FRACTION = 0.75  # finished rows are dropped once the live ones fit in this share of the batch
MIN_ROWS = 4  # below 4 rows, CPU matmuls take other kernels (per-row results change); see the module doc


@dataclass
class _Layer:
    ln_1: Tensor  # [R, 1, C]
    qkv: Tensor  # [R, C, 3C] (a transposed view: bmm(x, qkv) = x @ W_qkv.T per member)
    out: Tensor  # [R, C, C]
    ln_2: Tensor  # [R, 1, C]
    fc: Tensor  # [R, C, 4C]
    proj: Tensor  # [R, 4C, C]


class Population:
    """R GPTs of one GPTConfig with their weights stacked (copies: later changes to the models are not seen)."""

    def __init__(self, models: list[GPT]):
        if not models:
            raise ValueError("a population needs at least one model")
        cfg = models[0].cfg
        if any(m.cfg != cfg for m in models):
            raise ValueError("every member of a population must have the same GPTConfig")
        if cfg.pos != "rope":
            raise ValueError("population sampling supports rotary positions only")
        self.cfg, self.R = cfg, len(models)

        def stack(get) -> Tensor:
            return torch.stack([get(m).detach() for m in models])

        self.wte = stack(lambda m: m.wte.weight)  # [R, V, C]
        self.wte_t = self.wte.transpose(1, 2)  # [R, C, V]
        rope = models[0].rope
        assert rope is not None  # cfg.pos == "rope", checked above
        self.rope = torch.view_as_complex(rope.float())  # [T, hd/2]
        self.layers = [
            _Layer(ln_1=stack(lambda m, i=i: m.blocks[i].ln_1.weight)[:, None],
                   qkv=stack(lambda m, i=i: m.blocks[i].attn.c_attn.weight).transpose(1, 2),
                   out=stack(lambda m, i=i: m.blocks[i].attn.c_proj.weight).transpose(1, 2),
                   ln_2=stack(lambda m, i=i: m.blocks[i].ln_2.weight)[:, None],
                   fc=stack(lambda m, i=i: m.blocks[i].mlp.c_fc.weight).transpose(1, 2),
                   proj=stack(lambda m, i=i: m.blocks[i].mlp.c_proj.weight).transpose(1, 2))
            for i in range(cfg.n_layer)
        ]
        self.ln_f = stack(lambda m: m.ln_f.weight)[:, None]  # [R, 1, C]
        self.eps = models[0].ln_f.eps

    def forward(self, idx: Tensor, positions: Tensor, bias: Tensor, k_cache: Tensor, v_cache: Tensor,
                start: int) -> Tensor:
        """idx [R, M, T] tokens written to cache slots [start, start + T) -> last-token logits [R, M, V].

        positions [R, M, T] long; bias [R*M*H, T, start + T] additive attention bias (0 may attend, -inf
        may not); k_cache, v_cache [n_layer, R*M*H, T_max, hd], rows member-major, then batch row, then head.
        """
        R, M, T = idx.shape
        cfg = self.cfg
        C, H, hd = cfg.n_embd, cfg.n_head, cfg.head_dim
        n_keys = start + T
        offsets = torch.arange(0, R * cfg.vocab_size, cfg.vocab_size)[:, None, None]
        x = F.embedding(idx + offsets, self.wte.view(-1, C)).view(R, M * T, C)
        rot = self.rope.index_select(0, positions.reshape(-1)).view(R * M, T, 1, hd // 2)
        for i, layer in enumerate(self.layers):
            h = F.layer_norm(x, (C,), None, None, self.eps) * layer.ln_1
            qkv = torch.bmm(h, layer.qkv).view(R * M, T, 3 * H, hd)
            qk = torch.view_as_real(torch.view_as_complex(qkv[:, :, :2 * H].unflatten(-1, (-1, 2))) * rot).flatten(-2)
            k_cache[i].view(R * M, H, -1, hd)[:, :, start:n_keys] = qk[:, :, H:].transpose(1, 2)
            v_cache[i].view(R * M, H, -1, hd)[:, :, start:n_keys] = qkv[:, :, 2 * H:].transpose(1, 2)
            q = qk[:, :, :H].transpose(1, 2).reshape(R * M * H, T, hd)
            keys = k_cache[i][:, :n_keys].transpose(1, 2)  # [R*M*H, hd, n_keys]
            scores = torch.baddbmm(bias, q, keys, alpha=hd ** -0.5)
            y = torch.bmm(scores.softmax(-1), v_cache[i][:, :n_keys])  # [R*M*H, T, hd]
            y = y.view(R * M, H, T, hd).transpose(1, 2).reshape(R, M * T, C)
            x = x + torch.bmm(y, layer.out)
            h = F.gelu(torch.bmm(F.layer_norm(x, (C,), None, None, self.eps) * layer.ln_2, layer.fc))
            x = x + torch.bmm(h, layer.proj)
        last = x.view(R, M, T, C)[:, :, -1]
        return torch.bmm(F.layer_norm(last, (C,), None, None, self.eps) * self.ln_f, self.wte_t).float()


def sample_population(pop: Population, prompts: list[list[list[int]]], *, max_new_tokens: int, eos_id: int,
                      pad_id: int, prompt_len: int, seeds: list[int], temperature: float = 1.0) -> list[Samples]:
    """Sample up to max_new_tokens continuations of each member's prompts; one `Samples` per member.

    prompts[r]: member r's prompts (every member the same number B); each is left-padded to prompt_len
    tokens. seeds[r]: member r's generator seed. temperature 0 is greedy (scored at temperature 1, as
    `sampling.sample`). A member's outputs depend only on its own weights, prompts, seed and the
    arguments (see the module doc).
    """
    R, cfg = pop.R, pop.cfg
    if len(prompts) != R or len(seeds) != R:
        raise ValueError(f"a population of {R} needs {R} prompt lists and {R} seeds, got {len(prompts)} and {len(seeds)}")
    B = len(prompts[0])
    if B == 0 or any(len(p) != B for p in prompts):
        raise ValueError("every member needs the same number (>= 1) of prompts")
    if any(not 1 <= len(p) <= prompt_len for ps in prompts for p in ps):
        raise ValueError(f"every prompt needs 1 to prompt_len={prompt_len} tokens")
    if prompt_len + max_new_tokens > cfg.block_size:
        raise ValueError(f"prompt_len + max_new_tokens = {prompt_len + max_new_tokens} exceeds block_size {cfg.block_size}")
    if eos_id == pad_id:
        raise ValueError(f"eos_id and pad_id must differ, both are {pad_id}")
    with torch.inference_mode():
        outs = _sample(pop, prompts, B, max_new_tokens, eos_id, pad_id, prompt_len, seeds, temperature)
    return [Samples(*(t.clone() for t in o)) for o in outs]


def _sample(pop, prompts, B, max_new_tokens, eos_id, pad_id, P, seeds, temperature):
    R, cfg = pop.R, pop.cfg
    H, hd, V = cfg.n_head, cfg.head_dim, cfg.vocab_size
    M = max(B, MIN_ROWS)  # batch rows per member; rows >= B repeat prompt 0 and are never read
    rows = list(range(B)) + [0] * (M - B)
    idx = torch.tensor([[[pad_id] * (P - len(ps[j])) + list(ps[j]) for j in rows] for ps in prompts])  # [R, M, P]
    n_pad = torch.tensor([[P - len(ps[j]) for j in rows] for ps in prompts])  # [R, M]
    real = torch.arange(P) >= n_pad[..., None]  # [R, M, P] False = left padding
    positions = positions_from_mask(real)
    T_max = P + max_new_tokens
    key_bias = torch.zeros(R, M, 1, T_max).masked_fill_(~F.pad(real, (0, max_new_tokens), value=True)[:, :, None], float("-inf"))
    key_bias = key_bias[:, :, None].expand(R, M, H, 1, T_max).reshape(R * M * H, 1, T_max)
    # prefill: causal over real keys; a padding query sees itself (no all -inf row)
    see = padded_causal_mask(real.view(R * M, P)).view(R, M, P, P)
    prefill_bias = torch.zeros(R, M, P, P).masked_fill_(~see, float("-inf"))
    prefill_bias = prefill_bias[:, :, None].expand(R, M, H, P, P).reshape(R * M * H, P, P)
    k_cache = torch.zeros(cfg.n_layer, R * M * H, T_max, hd)
    v_cache = torch.zeros_like(k_cache)
    logits = pop.forward(idx, positions, prefill_bias, k_cache, v_cache, 0)  # [R, M, V]

    gens = [torch.Generator().manual_seed(s) for s in seeds]
    # outputs per member and prompt row; row B is a sink for the batch rows that only pad the batch
    tokens = torch.full((R, B + 1, max_new_tokens), pad_id, dtype=torch.long)
    logps = torch.zeros(R, B + 1, max_new_tokens)
    ents = torch.zeros(R, B + 1, max_new_tokens)
    finished = torch.zeros(R, B + 1, dtype=torch.bool)
    finished[:, B] = True
    lengths = torch.zeros(R, B + 1, dtype=torch.long)
    steps = [0] * R  # the steps member r ran: until all its rows had finished
    rowmap = torch.tensor(rows)[None].repeat(R, 1)  # [R, M]: the prompt row of each batch row
    rowmap[:, B:] = B  # rows that pad the batch write to the sink
    src = torch.tensor(rows)[None].repeat(R, 1)  # [R, M]: the prompt row whose tokens each batch row computes
    next_pos = positions[..., -1] + 1  # [R, M]
    member = torch.arange(R)[:, None]
    uniforms = torch.ones(R, B, V)  # a finished member draws no more: its stale rows are masked out
    for step in range(max_new_tokens):
        logp, probs, entropy = next_token_stats(logits, temperature)  # [R, M, V], [R, M]
        running = (~finished[:, :B].all(1)).tolist()  # members with a row still running
        if temperature == 0:
            token = logits.argmax(-1)
        else:  # each member's own uniforms, [B, V] a step while it runs (see sampling._pick: exponential race)
            for r in range(R):
                if running[r]:
                    torch.rand((B, V), generator=gens[r], out=uniforms[r])
            log_u = uniforms.gather(1, src[..., None].expand(-1, -1, V)).log_()
            token = (probs / log_u).argmin(-1)
        for r in range(R):
            if running[r]:
                steps[r] = step + 1
        done = finished[member, rowmap]  # [R, M]
        token = token.masked_fill(done, pad_id)
        tokens[member, rowmap, step] = token
        logps[member, rowmap, step] = logp.gather(-1, token[..., None]).squeeze(-1).masked_fill(done, 0.0)
        ents[member, rowmap, step] = entropy.masked_fill(done, 0.0)
        lengths[member, rowmap] += ~done
        finished[member, rowmap] |= token == eos_id
        finished[:, B] = True
        if bool(finished.all()) or step == max_new_tokens - 1:
            break
        live = ~finished[member, rowmap]  # [R, M]
        n_live = int(live.sum(1).max())
        M_now = rowmap.shape[1]
        if max(n_live, MIN_ROWS) <= M_now * DROP_FRACTION:  # drop finished rows: live rows first, then padding
            M_new = max(n_live, MIN_ROWS)
            order = torch.sort((~live).long(), dim=1, stable=True).indices[:, :M_new]  # [R, M_new]
            keep_live = live.gather(1, order)
            first = order[:, :1].expand(-1, M_new)
            order = torch.where(keep_live, order, first)  # padding rows compute a copy of a live row
            rowmap = torch.where(keep_live, rowmap.gather(1, order), B)
            src, next_pos, token = src.gather(1, order), next_pos.gather(1, order), token.gather(1, order)
            k_cache, v_cache, key_bias = (_take_rows(t, order, R, M_now, H) for t in (k_cache, v_cache, key_bias))
        logits = pop.forward(token[..., None], (next_pos + step)[..., None], key_bias[:, :, :P + step + 1],
                             k_cache, v_cache, P + step)
    return [(tokens[r, :B, :steps[r]], lengths[r, :B], logps[r, :B, :steps[r]], ents[r, :B, :steps[r]],
             finished[r, :B]) for r in range(R)]


def _take_rows(t: Tensor, order: Tensor, R: int, M: int, H: int) -> Tensor:
    """Batch rows `order` [R, M'] of each member of a member-major cache tensor: k/v [n_layer, R*M*H, T, hd]
    or key_bias [R*M*H, 1, T] -> the same with R*M'*H rows (a contiguous copy)."""
    member = torch.arange(R)[:, None]
    if t.dim() == 4:
        return t.unflatten(1, (R, M, H))[:, member, order].flatten(1, 3).contiguous()
    return t.unflatten(0, (R, M, H))[member, order].flatten(0, 2).contiguous()
