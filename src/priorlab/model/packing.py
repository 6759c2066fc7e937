"""Sequence packing: several short sequences share one row, so that no matmul is spent on padding.

A rollout batch is left-padded prompts followed by right-padded completions: with completions of very
different lengths, 40-50% of the positions are padding, and the training forward/backward costs in
proportion to positions. `pack` moves each row's real tokens (a contiguous run) into bins of the same
width, first-fit by decreasing length, and labels every token with a segment id; attention is then
causal within a segment (`GPT.forward(..., segments=...)`), and positions restart at 0 in each segment,
so every token sees exactly the context it had in the padded batch. `unpack` scatters per-token
values back to the padded layout (differentiably).

    p = pack(attn_mask)                       # attn_mask [B, T] bool, True runs contiguous per row
    ids = p.gather(input_ids, fill=pad_id)    # [R, T], R <= B rows
    logits, _ = model(ids, positions=p.positions, segments=p.segments)
    values = p.unpack(per_token)              # [R, T] -> [B, T], 0 where nothing was packed
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class Packing:
    """Where each real token of a [B, T] batch sits in the packed [R, T] batch.

    src, dst  [N] long  flat indices (row * T + column) of the N real tokens in the padded / packed batch
    segments  [R, T] long  1, 2, ... per sequence within a packed row; 0 = padding
    positions [R, T] long  position of each token within its own sequence (0 for padding)
    shape     (B, T) of the padded batch
    """

    src: Tensor
    dst: Tensor
    segments: Tensor
    positions: Tensor
    shape: tuple[int, int]

    @property
    def rows(self) -> int:
        """Rows of the packed batch."""
        return self.segments.shape[0]

    def gather(self, x: Tensor, fill: float | int = 0) -> Tensor:
        """x [B, T] (padded layout) -> [R, T] (packed), `fill` where the packed batch has padding."""
        out = x.new_full((self.rows * self.shape[1],), fill)
        return out.index_copy(0, self.dst, x.flatten()[self.src]).view(self.rows, self.shape[1])

    def unpack(self, x: Tensor) -> Tensor:
        """x [R, T] (packed) -> [B, T] (padded layout), 0 at padding; gradients flow through."""
        B, T = self.shape
        return x.new_zeros(B * T).index_copy(0, self.src, x.flatten()[self.dst]).view(B, T)


def pack(attn_mask: Tensor) -> Packing:
    """Pack the real tokens of attn_mask [B, T] (True runs must be contiguous in each row) into rows of T.

    First-fit decreasing (ties by row index): deterministic, and close to the fewest rows possible.
    """
    mask = attn_mask.bool()
    B, T = mask.shape
    lengths = mask.sum(1)
    starts = mask.long().argmax(1)  # first real column (0 for an empty row)
    runs = mask[:, 0].long() + (mask[:, 1:] & ~mask[:, :-1]).sum(1)  # starts of True runs per row
    if bool((runs > 1).any()):
        raise ValueError("pack needs each row's real tokens to be one contiguous run")
    free: list[int] = []  # room left in each packed row
    place: list[tuple[int, int, int]] = []  # (row b, packed row r, offset) per non-empty row
    for b in sorted(range(B), key=lambda b: (-int(lengths[b]), b)):
        n = int(lengths[b])
        if n == 0:
            continue
        r = next((i for i, room in enumerate(free) if room >= n), len(free))
        if r == len(free):
            free.append(T)
        place.append((b, r, T - free[r]))
        free[r] -= n
    R = max(len(free), 1)
    segments = torch.zeros(R, T, dtype=torch.long, device=mask.device)
    positions = torch.zeros(R, T, dtype=torch.long, device=mask.device)
    src, dst, count = [], [], [0] * R
    for b, r, offset in sorted(place, key=lambda x: (x[1], x[2])):
        n, s = int(lengths[b]), int(starts[b])
        count[r] += 1
        segments[r, offset:offset + n] = count[r]
        positions[r, offset:offset + n] = torch.arange(n, device=mask.device)
        src.append(torch.arange(b * T + s, b * T + s + n))
        dst.append(torch.arange(r * T + offset, r * T + offset + n))
    flat = [torch.cat(x).to(mask.device) if x else torch.zeros(0, dtype=torch.long, device=mask.device)
            for x in (src, dst)]
    return Packing(flat[0], flat[1], segments, positions, (B, T))


def segment_causal_mask(segments: Tensor) -> Tensor:
    """Attention mask of a packed batch: segments [R, T] long -> [R, 1, T, T] bool.

    Query t sees key s <= t of the same segment; a padding query (segment 0) sees only itself, so that
    no softmax row is empty (a NaN there would leak through 0-weighted sums).
    """
    T = segments.shape[-1]
    causal = torch.ones(T, T, dtype=torch.bool, device=segments.device).tril()
    same = (segments[:, :, None] == segments[:, None, :]) & (segments[:, None, :] > 0)
    eye = torch.eye(T, dtype=torch.bool, device=segments.device)
    return ((causal & same) | eye)[:, None]
