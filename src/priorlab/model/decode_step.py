"""One decoding step of the tiny GPT as a single function, compiled with TorchScript where it can be.

At the sampler's sizes a step is ~60 kernels of a few microseconds each, and calling them one by one
from Python costs ~1.5 us each on top (argument parsing, attribute lookups, slicing): ~80 us of a
~700 us step. `step` is therefore written in the subset of Python that TorchScript compiles, and
`compiled_step()` returns the compiled version, which runs the same kernels in the same order without
Python between them (bitwise-identical results, tested in tests/test_model_gpt.py). TorchScript is
deprecated in PyTorch 2.13 but still shipped; where compiling fails (a torch without it, or without
oneDNN's ops), `compiled_step()` returns `step` itself and decoding runs eagerly, only slower.

This module does not use `from __future__ import annotations` and keeps typing.List / Optional:
TorchScript reads the annotations at compile time and does not parse PEP 604 unions.
"""

import warnings
from typing import List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor


def linear(x: Tensor, w: Tensor, packed: bool, gelu: bool) -> Tensor:
    """x [B, in] @ w.T, then GELU when gelu; w is oneDNN-packed when packed (see decode.packed_weights)."""
    if packed:
        if gelu:
            return torch.ops.mkldnn._linear_pointwise(x, w, None, "gelu", [], "none")
        return torch.ops.mkldnn._linear_pointwise(x, w, None, "none", [], "")
    y = F.linear(x, w)
    return F.gelu(y) if gelu else y


def step(token: Tensor, positions: Tensor, t: int, wte: Tensor, wpe: Optional[Tensor], rope: Optional[Tensor],
         layers: List[List[Tensor]], eps: List[float], packed: bool,
         k_cache: List[Tensor], v_cache: List[Tensor], keys_t: List[Tensor], values: List[Tensor],
         key_bias: Tensor, bias_weight: float, scale: float, min_keys: int, future: Tensor,
         q_complex: Optional[Tensor], q: Optional[Tensor]) -> Tensor:
    """token [B] long at cache slot t, positions [B] long -> next-token logits [B, V] float32.

    The weights: wte [V, C] (also the output layer), wpe [T, C] or None, rope complex [T, hd/2] or
    None; layers[i] = [ln_1, qkv, out, ln_2, fc, proj] weights (the four matrices packed when
    packed), then [ln_f]; eps[i] = ln_1's, ln_2's eps per layer, then ln_f's. The cache, per layer:
    k_cache [B, H, T_max, hd] (complex [B, H, T_max, hd/2] views of it with rope), v_cache the same
    (real), keys_t [B*H, hd, T_max] and values [B*H, T_max, hd] views of them; key_bias
    [B*H, 1, T_max]; bias_weight 0 skips an all-zero bias. While t + 1 < min_keys the step attends to
    min_keys slots, adding future[t] (0 up to slot t, -inf after) to the bias; the slots after t must
    hold finite values (the Decoder zeroes them). With rope, q_complex [B, H, hd/2] and q
    [B*H, 1, hd] are two views of one buffer that the rotated queries are written to.
    """
    B, C = token.size(0), wte.size(1)
    hd = values[0].size(2)
    H = C // hd
    n_layer = len(layers) - 1
    x = torch.embedding(wte, token)  # [B, C]
    if wpe is not None:
        x = x + torch.embedding(wpe, positions)
    rotation = torch.empty(0)
    if rope is not None:
        rotation = rope.index_select(0, positions).unsqueeze(1)  # [B, 1, hd/2]
    n_keys, beta = t + 1, bias_weight
    bias = key_bias.narrow(2, 0, n_keys)
    if n_keys < min_keys:
        n_keys, beta = min_keys, 1.0
        bias = key_bias.narrow(2, 0, n_keys) + future[t]
    for i in range(n_layer):
        w = layers[i]
        qkv = linear(torch.layer_norm(x, [C], w[0], None, eps[2 * i]), w[1], packed, False)  # [B, 3C]: q, k, v
        if rope is not None and q_complex is not None and q is not None:
            qkv_c = torch.view_as_complex(qkv.view(B, 3 * H, hd // 2, 2))  # rotary pairs
            torch.mul(qkv_c.narrow(1, 0, H), rotation, out=q_complex)
            torch.mul(qkv_c.narrow(1, H, H), rotation, out=k_cache[i].select(2, t))
            queries = q
        else:
            k_cache[i].select(2, t).copy_(qkv.narrow(1, C, C).view(B, H, hd))
            queries = qkv.narrow(1, 0, C).reshape(B * H, 1, hd)
        v_cache[i].select(2, t).copy_(qkv.narrow(1, 2 * C, C).view(B, H, hd))
        scores = torch.baddbmm(bias, queries, keys_t[i].narrow(2, 0, n_keys), beta=beta, alpha=scale)
        y = torch.bmm(scores.softmax(-1), values[i].narrow(1, 0, n_keys))  # [B*H, 1, hd]
        x = x + linear(y.view(B, C), w[2], packed, False)
        h = linear(torch.layer_norm(x, [C], w[3], None, eps[2 * i + 1]), w[4], packed, True)
        x = x + linear(h, w[5], packed, False)
    x = torch.layer_norm(x, [C], layers[n_layer][0], None, eps[2 * n_layer])
    return F.linear(x, wte).float()


_COMPILED: list = []  # [the compiled step, or `step` where compiling failed], filled on first use


def compiled_step():
    """`step` compiled with TorchScript (once per process), or `step` itself where that fails."""
    if not _COMPILED:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                _COMPILED.append(torch.jit.script(step))
        except Exception:  # any failure to compile means: run eagerly
            _COMPILED.append(step)
    return _COMPILED[0]
