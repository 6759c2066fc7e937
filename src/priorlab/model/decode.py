"""Single-token decoding steps against a prefilled KVCache: the sampler's inner loop.

`Decoder` does the same maths as `GPT.forward_cached(token[:, None], ...)` (checked to 1e-5 in
tests/test_model_gpt.py), written on 2-D [B, C] tensors straight from the weights. At the sampler's
sizes (B ~ 64, C ~ 128) a step is ~60 kernels of a few microseconds each, so Python-side work (module
calls, attribute lookups, index parsing, 4-D head views) would cost as much as the maths; every view of
the weights and of the cache is therefore made once, per sampling call.

On CPU the linear layers go through oneDNN with weights packed once into its blocked layout
(`torch.ops.mkldnn._reorder_linear_weight`, the same ops Inductor's CPU freezing pass emits), with
GELU fused into the MLP's first matmul. A plain `F.linear` re-reads the weight in row-major order on
every call; at these sizes the packed path cuts the matmul time by about a third (`bench/sampling.py`).
Packing costs ~0.1 ms a matrix, so the packed weights are kept per model and remade only when a
weight has changed (a parameter's version counter moves with every in-place update: optimizer steps,
load_state_dict). Elsewhere (CUDA, fp16/bf16, a torch built without oneDNN) the plain ops are used;
both give the same values up to float rounding.

    decode = Decoder(model, cache)                 # after model.forward_cached(prompt, ..., cache, 0, ...)
    logits = decode(token, positions, t)           # token [B] at cache slot t -> [B, V]
"""

from __future__ import annotations

import weakref
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor

from priorlab.model.decode_step import compiled_step, linear, step
from priorlab.model.gpt import GPT, Block, KVCache

# Attention over fewer than 16 keys takes slow paths of the CPU softmax and batched matmul kernels
# (64 prompts x 4 heads, 2 threads: 49 us a layer at 8 keys, 27 us at 16, 34 us at 24), so while a
# step has fewer keys, it attends to MIN_KEYS slots, the ones not yet written masked out (bias -inf,
# zero keys and values): the same attention weights, exactly 0 on the extra slots.
MIN_KEYS = 16

# model -> (key, packed weights). Kept beside the model, not on it: packed (opaque) tensors can be
# neither deep-copied nor saved, and the RL trainer deep-copies its policy for the KL reference.
_PACKED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def onednn_available(weight: Tensor) -> bool:
    """True when packed oneDNN linears can run on this weight's device and dtype."""
    return (weight.device.type == "cpu" and weight.dtype == torch.float32
            and torch.backends.mkldnn.is_available()
            and hasattr(torch.ops.mkldnn, "_reorder_linear_weight")
            and hasattr(torch.ops.mkldnn, "_linear_pointwise"))


def _blocks(model: GPT) -> list[Block]:
    """The model's transformer blocks, typed (a ModuleList's items are plain Modules to a type checker)."""
    return cast(list[Block], list(model.blocks))


def _matrices(model: GPT) -> list[Tensor]:
    """The blocks' weights, in a fixed order: per layer qkv, out, fc, proj (the output layer is not packed)."""
    out = []
    for b in _blocks(model):
        out += [b.attn.c_attn.weight, b.attn.c_proj.weight, b.mlp.c_fc.weight, b.mlp.c_proj.weight]
    return out


def packed_weights(model: GPT, batch_size: int) -> list[Tensor]:
    """The model's matrices (see _matrices) in oneDNN's packed layout, cached per model.

    The cache key holds each weight's identity, storage and version counter, so any change to a weight
    (in place or by replacement) repacks on the next call. batch_size is oneDNN's layout hint, taken
    from the call that packs: a packed weight gives the same products at any batch size.
    """
    mats = _matrices(model)
    key = tuple((id(w), w.data_ptr(), w._version) for w in mats)
    cached = _PACKED.get(model)
    if cached is not None and cached[0] == key:
        return cached[1]
    with torch.inference_mode():
        packed = [torch.ops.mkldnn._reorder_linear_weight(w.detach().contiguous(), batch_size) for w in mats]
    _PACKED[model] = (key, packed)
    return packed


class Decoder:
    """Single-token steps for one sampling call. Build one per call: it holds views of the cache."""

    def __init__(self, model: GPT, cache: KVCache, *, packed: bool | None = None, scripted: bool | None = None):
        """packed: use oneDNN packed linears (None = wherever onednn_available says they run).
        scripted: run steps through the TorchScript-compiled decode_step.step (None = where it
        compiles; False = eagerly, the same kernels; True = compiled or a RuntimeError)."""
        cfg = model.cfg
        self.n_embd, self.n_head, self.head_dim = cfg.n_embd, cfg.n_head, cfg.head_dim
        self.scale = cfg.head_dim ** -0.5
        self.wte, self.wpe = model.wte.weight, None if model.wpe is None else model.wpe.weight
        self.rope = None if model.rope is None else torch.view_as_complex(model.rope.float())  # [T, hd/2]
        self.ln_f = (model.ln_f.weight, model.ln_f.eps)
        B = cache.k.shape[1]
        self.packed = onednn_available(self.wte) if packed is None else packed
        mats = packed_weights(model, B) if self.packed else _matrices(model)
        self.layers: list[tuple[Any, ...]] = [  # per block: ln_1 weight, eps, qkv, out, ln_2 weight, eps, fc, proj
            (b.ln_1.weight, b.ln_1.eps, *mats[4 * i: 4 * i + 2], b.ln_2.weight, b.ln_2.eps, *mats[4 * i + 2: 4 * i + 4])
            for i, b in enumerate(_blocks(model))
        ]
        if self.rope is not None:  # the rotary multiply writes q into q_buffer (and k into its cache slot)
            q_buffer = cache.k.new_empty(B, self.n_head, self.head_dim)
            self.q_c = torch.view_as_complex(q_buffer.unflatten(-1, (-1, 2)))  # [B, H, hd/2] complex
            self.q = q_buffer.view(B * self.n_head, 1, self.head_dim)
        self.k_layers, self.v_layers = cache.k.unbind(0), cache.v.unbind(0)  # [layer] -> [B, H, T_max, hd]
        self.keys_t = [k.flatten(0, 1).transpose(1, 2) for k in cache.k]  # [B*H, hd, T_max] views
        self.values = [v.flatten(0, 1) for v in cache.v]  # [B*H, T_max, hd] views
        self.key_bias = cache.key_bias
        self.bias_weight = 1.0 if bool(cache.key_bias.ne(0).any()) else 0.0  # baddbmm skips an all-0 bias
        self.B = B
        T_max = cache.k.shape[3]
        self.min_keys = min(MIN_KEYS, T_max)
        self.k_all, self.v_all = cache.k, cache.v
        self.zeroed_from = T_max + 1  # no slot zeroed yet
        # row t: 0 for slots <= t, -inf after; added to the key bias while t + 1 < min_keys
        future = torch.full((self.min_keys, self.min_keys), float("-inf"), device=cache.k.device).triu_(1)
        self.step = compiled_step() if scripted in (None, True) else step
        if scripted and self.step is step:
            raise RuntimeError("TorchScript could not compile the decoding step in this torch build")
        k_views = cache.k.unbind(0) if self.rope is None else [torch.view_as_complex(k.unflatten(-1, (-1, 2))) for k in cache.k]
        self.step_args = (
            self.wte, self.wpe, self.rope,
            [[w_ln1, w_qkv, w_o, w_ln2, w_fc, w_proj] for w_ln1, _, w_qkv, w_o, w_ln2, _, w_fc, w_proj in self.layers]
            + [[self.ln_f[0]]],
            [eps for layer in self.layers for eps in (layer[1], layer[5])] + [self.ln_f[1]],
            self.packed, list(k_views), list(self.v_layers), self.keys_t, self.values, self.key_bias,
            self.bias_weight, self.scale, self.min_keys, future,
            None if self.rope is None else self.q_c, None if self.rope is None else self.q,
        )

    def prefill(self, idx: Tensor, positions: Tensor, mask: Tensor | None = None) -> Tensor:
        """Run the prompts idx [B, T] as cache slots [0, T); return the last token's logits [B, V] float32.

        The same maths as `GPT.forward_cached(idx, positions, cache, 0, mask)`: positions [B, T] long,
        mask [B, 1, T, T] bool (True = may attend; see padded_causal_mask) or None for plain causal
        attention. Every layer writes the keys and values of all T tokens, but only the last token's
        logits are read, so the last layer's attention output and MLP run for that token alone.
        """
        B, T = idx.shape
        C, H, hd = self.n_embd, self.n_head, self.head_dim
        if B != self.B or T > self.values[0].shape[1]:
            raise ValueError(f"prompts [{B}, {T}] do not fit a cache of {self.B} rows x {self.values[0].shape[1]} slots")
        packed = self.packed
        x = F.embedding(idx.reshape(-1), self.wte)  # [B*T, C], row b*T + s
        if self.wpe is not None:
            x = x + F.embedding(positions.reshape(-1), self.wpe)
        rope = None if self.rope is None else self.rope[positions].view(B, T, 1, hd // 2)
        # Attention reads at least min_keys slots (see MIN_KEYS): those not yet written hold zeros
        # and get a -inf bias, so they weigh exactly 0.
        n_keys = max(T, self.min_keys)
        self._zero_slots(T)
        if mask is None:
            bias = torch.full((T, n_keys), float("-inf"), device=x.device).triu_(1)  # broadcast over B*H
        else:  # [B, 1, T, T] bool -> [B*H, T, n_keys] additive
            bias = torch.full((B, 1, T, n_keys), float("-inf"), device=x.device)
            bias[..., :T].masked_fill_(mask, 0.0)
            bias = bias.expand(B, H, T, n_keys).reshape(B * H, T, n_keys)
        last = len(self.layers) - 1
        for i, (w_ln1, eps1, w_qkv, w_o, w_ln2, eps2, w_fc, w_proj) in enumerate(self.layers):
            qkv = linear(F.layer_norm(x, (C,), w_ln1, None, eps1), w_qkv, packed, False).view(B, T, 3 * H, hd)
            qk = qkv[:, :, : 2 * H]  # [B, T, 2H, hd]: q heads, then k heads
            if rope is not None:
                qk = torch.view_as_real(torch.view_as_complex(qk.unflatten(-1, (-1, 2))) * rope).flatten(-2)
            self.k_layers[i][:, :, :T].copy_(qk[:, :, H:].transpose(1, 2))  # cache [B, H, T_max, hd]
            self.v_layers[i][:, :, :T].copy_(qkv[:, :, 2 * H:].transpose(1, 2))
            q, b = qk[:, :, :H].transpose(1, 2), bias  # [B, H, T, hd]
            if i == last:  # only the last token goes on
                q, b, x = q[:, :, -1:], bias[..., -1:, :], x.view(B, T, C)[:, -1]
            q = q.reshape(B * H, -1, hd)
            scores = torch.baddbmm(b, q, self.keys_t[i][:, :, :n_keys], alpha=self.scale)  # [B*H, Tq, n_keys]
            y = torch.bmm(scores.softmax(-1), self.values[i][:, :n_keys])  # [B*H, Tq, hd]
            y = y.view(B, H, -1, hd).transpose(1, 2).reshape(-1, C)  # [B*Tq, C], row b*Tq + s
            x = x + linear(y, w_o, packed, False)
            h = linear(F.layer_norm(x, (C,), w_ln2, None, eps2), w_fc, packed, True)
            x = x + linear(h, w_proj, packed, False)
        x = F.layer_norm(x, (C,), self.ln_f[0], None, self.ln_f[1])
        return F.linear(x, self.wte).float()  # output layer unpacked: at V=21, 9 vs 16 us a call

    def __call__(self, token: Tensor, positions: Tensor, t: int) -> Tensor:
        """token [B] long at cache slot t, positions [B] long -> next-token logits [B, V] float32."""
        if t < self.zeroed_from:  # the cache was filled by someone else (or rows were dropped)
            self._zero_slots(t)
        return self.step(token, positions, t, *self.step_args)

    def _zero_slots(self, start: int) -> None:
        """Zero the keys and values of slots [start, min_keys): written later, read (with weight 0) before."""
        if start < self.min_keys:
            self.k_all[:, :, :, start: self.min_keys].zero_()
            self.v_all[:, :, :, start: self.min_keys].zero_()
        self.zeroed_from = start
