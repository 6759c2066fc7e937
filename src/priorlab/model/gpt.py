"""The tiny GPT that the controlled world pretrains from scratch, and its key/value cache.

A pre-norm decoder in the style of nanoGPT (https://github.com/karpathy/nanoGPT, model.py): LayerNorm
without bias, causal self-attention through `F.scaled_dot_product_attention`, a GELU MLP, no dropout,
no biases, input and output embeddings tied. Positions are rotary (RoPE, Su et al. 2021,
arXiv 2104.09864) by default or learned.

Batches of prompts are LEFT-padded so that every row's next token sits in the same column; `forward`
therefore takes per-row `positions` and a key-padding `attn_mask`, and a prompt gets the same
distribution alone or inside a padded batch. Model size is one dial, `config_for_size(size, ...)`.

    from priorlab.model.gpt import GPT, config_for_size
    model = GPT(config_for_size("s", vocab_size=32, block_size=128))
    logits, loss = model(idx, targets)        # idx, targets: [B, T]

Sampling with the cache lives in `priorlab.model.sampling`; its single-token steps in
`priorlab.model.decode`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from priorlab.model.packing import segment_causal_mask

POSITION_KINDS = ("rope", "learned")
ROPE_BASE = 10_000.0
SHORT_KEYS = 64  # up to this many keys, attention on CPU takes SDPA's math backend (see _attend)


@dataclass(frozen=True)
class GPTConfig:
    vocab_size: int
    n_layer: int
    n_head: int
    n_embd: int
    block_size: int  # max total sequence length (prompt + completion)
    mlp_hidden: int = 0  # 0 -> 4 * n_embd, resolved in __post_init__
    pos: str = "rope"  # "rope" or "learned"

    def __post_init__(self) -> None:
        for name in ("vocab_size", "n_layer", "n_head", "n_embd", "block_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"GPTConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.n_embd % self.n_head:
            raise ValueError(f"GPTConfig.n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if self.pos not in POSITION_KINDS:
            raise ValueError(f"GPTConfig.pos must be one of {POSITION_KINDS}, got {self.pos!r}")
        if self.pos == "rope" and self.head_dim % 2:
            raise ValueError(f"rope needs an even head dimension, got n_embd/n_head = {self.head_dim}")
        if self.mlp_hidden < 0:
            raise ValueError(f"GPTConfig.mlp_hidden must be >= 0 (0 means 4 * n_embd), got {self.mlp_hidden}")
        if self.mlp_hidden == 0:
            # Resolved here, once, so that config.json records the width that was actually built.
            object.__setattr__(self, "mlp_hidden", 4 * self.n_embd)

    @property
    def head_dim(self) -> int:
        """Width of one attention head."""
        return self.n_embd // self.n_head


# Model size is one dial. Parameters ~ 12 * n_layer * n_embd^2 (+ vocab * n_embd): "s" is the 3 x 96
# model a feasibility probe (2026-11-26: 3x96 > 4x128 > 6x192 at a fixed 300 s, the number of steps dominates)
# found best for a 5-minute pretraining budget on 2 cores.
SIZES: dict[str, dict] = {
    "xs": {"n_layer": 2, "n_embd": 64, "n_head": 4},  # ~0.1M
    "s": {"n_layer": 3, "n_embd": 96, "n_head": 4},  # ~0.34M
    "m": {"n_layer": 6, "n_embd": 160, "n_head": 5},  # ~1.9M
    "l": {"n_layer": 6, "n_embd": 256, "n_head": 8},  # ~4.7M
}
DEFAULT_SIZE = "s"


def config_for_size(size: str, vocab_size: int, block_size: int, pos: str = "rope") -> GPTConfig:
    """The GPTConfig of a named size preset (see SIZES)."""
    if size not in SIZES:
        raise ValueError(f"unknown model size {size!r}; valid sizes: {', '.join(SIZES)}")
    return GPTConfig(vocab_size=vocab_size, block_size=block_size, pos=pos, **SIZES[size])


def param_count(cfg: GPTConfig) -> int:
    """Parameters of a GPT of this config, counted without allocating its weights (on the meta device)."""
    with torch.device("meta"):
        return GPT(cfg).num_params()


def positions_from_mask(attn_mask: Tensor) -> Tensor:
    """Positions of a left-padded batch: [B, T] bool (True = real token) -> [B, T] long.

    Each row's first real token is position 0; padding gets 0 too (it is never attended to).
    """
    return (attn_mask.long().cumsum(-1) - 1).clamp_(min=0)


def padded_causal_mask(attn_mask: Tensor) -> Tensor:
    """Attention mask of a padded batch: [B, T] bool (True = real token) -> [B, 1, T, T] bool.

    Query t may see key s <= t when s is a real token. A padding query also sees itself: a row with
    no visible key would make softmax NaN, and NaN values leak into real rows through 0-weighted sums.
    """
    T = attn_mask.shape[-1]
    causal = torch.ones(T, T, dtype=torch.bool, device=attn_mask.device).tril()
    return (causal & attn_mask[:, None, None, :]) | torch.eye(T, dtype=torch.bool, device=attn_mask.device)


def rope_table(block_size: int, head_dim: int) -> Tensor:
    """cos/sin of the rotary angles: [block_size, head_dim/2, 2] float32 (viewed as complex at use)."""
    inv_freq = ROPE_BASE ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angles = torch.outer(torch.arange(block_size, dtype=torch.float64), inv_freq)
    return torch.stack([angles.cos(), angles.sin()], dim=-1).float()


def _attend(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, is_causal: bool) -> Tensor:
    """F.scaled_dot_product_attention; q [B, H, T, hd], k, v [B, H, T_keys, hd] -> [B, H, T, hd].

    On CPU, short sequences go through the math backend: the fused CPU kernel has a fixed cost that
    dominates them (64 prompts x 4 heads: 0.40 ms vs 0.16 ms at 7 tokens, 0.51 vs 0.28 at 20) but wins
    on long ones (3x faster at 128 tokens). Measured on 2 cores, torch 2.13.
    """
    if q.device.type == "cpu" and k.shape[-2] <= SHORT_KEYS:
        with sdpa_kernel(SDPBackend.MATH):
            return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal)


@dataclass
class KVCache:
    """Keys and values of every layer, preallocated once per sampling call and written in place.

    k, v: [n_layer, B, n_head, T_max, head_dim]; layer i reads and writes k[i], v[i].
    key_bias: [B * n_head, 1, T_max] float, 0 for a slot holding a real token, -inf for padding; the
    Decoder adds it to its attention scores (row b * n_head + h is batch row b, head h).
    """

    k: Tensor
    v: Tensor
    key_bias: Tensor


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.n_head, self.head_dim = cfg.n_head, cfg.head_dim
        self.c_attn = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=False)  # fused q, k, v: one matmul
        self.c_proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=False)

    def forward(self, x: Tensor, rope: Tensor | None, mask: Tensor | None,
                cache: tuple[Tensor, Tensor] | None = None, start: int = 0) -> Tensor:
        """x [B, T, C] -> [B, T, C].

        rope: complex [B or 1, T, 1, 1, head_dim/2] rotations, or None for learned positions.
        mask: bool, broadcastable to [B, n_head, T, T_keys], True = may attend. None means plain causal
        attention over the T tokens, or, when decoding one token (T == 1), every cached key.
        cache: (k, v) each [B, n_head, T_max, head_dim]; the new keys/values go to [start, start+T)
        and attention reads [0, start+T).
        """
        B, T, C = x.shape
        qkv = self.c_attn(x).view(B, T, 3, self.n_head, self.head_dim)
        if rope is not None:
            # q and k rotate together in one complex multiply; pairs are (2i, 2i+1) as in Meta's Llama.
            qk = torch.view_as_complex(qkv[:, :, :2].unflatten(-1, (-1, 2)))  # [B, T, 2, H, hd/2]
            qk = torch.view_as_real(qk * rope).flatten(-2)  # [B, T, 2, H, hd]
        else:
            qk = qkv[:, :, :2]
        q, k, v = qk[:, :, 0].transpose(1, 2), qk[:, :, 1].transpose(1, 2), qkv[:, :, 2].transpose(1, 2)
        if cache is not None:
            k_cache, v_cache = cache
            k_cache[:, :, start:start + T] = k
            v_cache[:, :, start:start + T] = v
            k, v = k_cache[:, :, :start + T], v_cache[:, :, :start + T]
        if mask is None and cache is not None and start > 0 and T > 1:
            raise ValueError("several new tokens after a cached prefix need an explicit mask")
        y = _attend(q, k, v, mask, is_causal=mask is None and T > 1)
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))


class MLP(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.c_fc = nn.Linear(cfg.n_embd, cfg.mlp_hidden, bias=False)
        self.c_proj = nn.Linear(cfg.mlp_hidden, cfg.n_embd, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        """GELU MLP: up to `mlp_hidden`, down to the width."""
        return self.c_proj(F.gelu(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd, bias=False)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.n_embd, bias=False)
        self.mlp = MLP(cfg)

    def forward(self, x: Tensor, rope: Tensor | None, mask: Tensor | None,
                cache: tuple[Tensor, Tensor] | None = None, start: int = 0) -> Tensor:
        """Pre-norm residual block: attention (with the KV cache when given), then the MLP."""
        x = x + self.attn(self.ln_1(x), rope, mask, cache, start)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    rope: Tensor | None  # the rotary table (a non-persistent buffer) when cfg.pos == "rope"

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)  # also the output projection (tied)
        self.wpe: nn.Embedding | None = nn.Embedding(cfg.block_size, cfg.n_embd) if cfg.pos == "learned" else None
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd, bias=False)
        if cfg.pos == "rope":
            # Not persistent: derived from the config, so checkpoints hold only learned weights.
            self.register_buffer("rope", rope_table(cfg.block_size, cfg.head_dim), persistent=False)
        else:
            self.rope = None
        self.apply(self._init_weights)
        # GPT-2 scaling: each block adds two residual branches, so their output projections get
        # std 0.02 / sqrt(2 * n_layer) to keep the residual stream's variance flat with depth.
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_params(self) -> int:
        """All parameters, counted once (the tied embedding is one tensor)."""
        return sum(p.numel() for p in self.parameters())

    def _embed(self, idx: Tensor, positions: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """idx [B, T], positions [B, T] or None (= 0..T-1) -> (x [B, T, C], rope or None)."""
        T = idx.shape[1]
        if positions is None:
            positions = torch.arange(T, device=idx.device)
        x = self.wte(idx)
        if self.wpe is not None:  # pos == "learned"; otherwise "rope"
            return x + self.wpe(positions), None
        assert self.rope is not None  # pos == "rope"
        rope = torch.view_as_complex(self.rope.float()[positions])  # [B, T, hd/2] or [T, hd/2]
        return x, rope.view(-1, T, 1, 1, rope.shape[-1])

    def _check_length(self, T: int) -> None:
        if T > self.cfg.block_size:
            raise ValueError(f"sequence length {T} exceeds block_size {self.cfg.block_size}")

    def forward(self, idx: Tensor, targets: Tensor | None = None, *, positions: Tensor | None = None,
                attn_mask: Tensor | None = None, segments: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """idx [B, T] long -> (logits [B, T, V] float32, mean cross-entropy or None).

        targets [B, T] long, -100 = ignored. attn_mask [B, T] bool, True = real token; without it
        attention takes the is_causal fast path. positions [B, T] long default to 0..T-1, or, when
        attn_mask is given, to positions_from_mask(attn_mask) (left padding). segments [B, T] long marks
        a packed batch (see priorlab.model.packing): attention stays within a segment; it needs positions.
        """
        self._check_length(idx.shape[1])
        mask = None
        if segments is not None:
            if attn_mask is not None or positions is None:
                raise ValueError("a packed batch (segments) takes explicit positions and no attn_mask")
            mask = segment_causal_mask(segments)
        elif attn_mask is not None:
            attn_mask = attn_mask.bool()
            mask = padded_causal_mask(attn_mask)
            if positions is None:
                positions = positions_from_mask(attn_mask)
        x, rope = self._embed(idx, positions)
        for block in self.blocks:
            x = block(x, rope, mask)
        logits = F.linear(self.ln_f(x), self.wte.weight).float()
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100)
        return logits, loss

    def cache_numel(self, batch_size: int, max_len: int) -> int:
        """Elements of the keys and values of a cache for batch_size rows of max_len tokens, together."""
        cfg = self.cfg
        return 2 * cfg.n_layer * batch_size * cfg.n_head * max_len * cfg.head_dim

    def new_cache(self, batch_size: int, max_len: int, key_mask: Tensor | None = None,
                  storage: Tensor | None = None) -> KVCache:
        """An empty cache for batch_size rows of up to max_len tokens (prompt + completion).

        key_mask [B, max_len] bool, True = a slot that will hold a real token (None = all real).
        storage: a 1-D tensor of at least cache_numel(batch_size, max_len) elements, of the weights'
        dtype and device, to hold the keys and values (their old contents are never read); None
        allocates new memory.
        """
        self._check_length(max_len)
        cfg, p = self.cfg, self.wte.weight
        shape = (cfg.n_layer, batch_size, cfg.n_head, max_len, cfg.head_dim)
        key_bias = p.new_zeros(batch_size, 1, max_len)
        if key_mask is not None:
            key_bias.masked_fill_(~key_mask.bool()[:, None, :], float("-inf"))
        key_bias = key_bias.repeat_interleave(cfg.n_head, dim=0)  # [B*H, 1, max_len], row b*H + h
        if storage is None:
            return KVCache(k=p.new_empty(shape), v=p.new_empty(shape), key_bias=key_bias)
        n = self.cache_numel(batch_size, max_len)
        if storage.dim() != 1 or storage.numel() < n or storage.dtype != p.dtype or storage.device != p.device:
            raise ValueError(f"cache storage must be a 1-D {p.dtype} tensor on {p.device} of at least {n} "
                             f"elements, got {tuple(storage.shape)} {storage.dtype} on {storage.device}")
        k, v = storage[:n].view(2, *shape)
        return KVCache(k=k, v=v, key_bias=key_bias)

    def forward_cached(self, idx: Tensor, positions: Tensor, cache: KVCache, start: int,
                       mask: Tensor | None = None) -> Tensor:
        """Run idx [B, T] as cache slots [start, start+T); return the LAST token's logits [B, V] float32.

        The sampler's prefill: start 0, the whole padded prompt, mask [B, 1, T, T] or None. It also
        takes single-token steps (T = 1, mask [B, 1, 1, start+1] over the keys, or None), the reference
        that the faster Decoder is tested against. positions [B, T] long are the tokens' real positions
        (left padding shifts them per row).
        """
        if start + idx.shape[1] > cache.k.shape[3]:
            raise ValueError(f"cache holds {cache.k.shape[3]} tokens, asked to write up to {start + idx.shape[1]}")
        x, rope = self._embed(idx, positions)
        for i, block in enumerate(self.blocks):
            x = block(x, rope, mask, (cache.k[i], cache.v[i]), start)
        # Only the last position is sampled from, so only it pays for the norm and the output layer.
        return F.linear(self.ln_f(x[:, -1]), self.wte.weight).float()
