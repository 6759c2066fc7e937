"""Tests for priorlab.model.packing and the packed path of sequence_logprobs."""

import pytest
import torch

from priorlab.model.gpt import GPT, GPTConfig
from priorlab.model.packing import pack, segment_causal_mask
from priorlab.model.sampling import sequence_logprobs


def rows_mask(spans, T):
    """[(start, length), ...] -> [B, T] bool with one True run per row."""
    m = torch.zeros(len(spans), T, dtype=torch.bool)
    for b, (s, n) in enumerate(spans):
        m[b, s:s + n] = True
    return m


def test_pack_first_fit_decreasing_by_hand():
    # lengths 5, 2, 4, 3, 1 in rows of 6: 5 -> row 0 (room 1); 4 -> row 1 (room 2); 3 -> row 2 (room 3);
    # 2 -> row 1 (room 0); 1 -> row 0 (room 0). Three rows instead of five.
    mask = rows_mask([(1, 5), (4, 2), (0, 4), (3, 3), (5, 1)], 6)
    p = pack(mask)
    assert p.rows == 3
    assert p.segments.tolist() == [[1, 1, 1, 1, 1, 2], [1, 1, 1, 1, 2, 2], [1, 1, 1, 0, 0, 0]]
    assert p.positions.tolist() == [[0, 1, 2, 3, 4, 0], [0, 1, 2, 3, 0, 1], [0, 1, 2, 0, 0, 0]]
    ids = torch.arange(30).view(5, 6)
    packed = p.gather(ids, fill=-1)
    assert packed.tolist() == [[1, 2, 3, 4, 5, 29], [12, 13, 14, 15, 10, 11], [21, 22, 23, -1, -1, -1]]
    assert torch.equal(p.unpack(packed), torch.where(mask, ids, 0))


def test_pack_rejects_a_row_with_two_runs():
    mask = torch.tensor([[True, False, True, True]])
    with pytest.raises(ValueError, match="contiguous"):
        pack(mask)


def test_segment_causal_mask_by_hand():
    m = segment_causal_mask(torch.tensor([[1, 1, 2, 0]]))[0, 0].int().tolist()
    assert m == [[1, 0, 0, 0],
                 [1, 1, 0, 0],
                 [0, 0, 1, 0],
                 [0, 0, 0, 1]]  # padding sees only itself


def _batch(seed=0, B=9, T=20, V=13):
    g = torch.Generator().manual_seed(seed)
    prompt = torch.randint(2, 6, (B,), generator=g)
    comp = torch.randint(0, T - 6, (B,), generator=g)
    ids = torch.randint(1, V, (B, T), generator=g)
    attn = torch.zeros(B, T, dtype=torch.bool)
    cmask = torch.zeros(B, T, dtype=torch.bool)
    P = 6
    for b in range(B):
        attn[b, P - prompt[b]:P + comp[b]] = True
        cmask[b, P:P + comp[b]] = True
    return torch.where(attn, ids, 0), attn, cmask


@pytest.mark.parametrize("pos", ["rope", "learned"])
def test_packed_logprobs_and_gradients_match_the_padded_forward(pos):
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=13, n_layer=2, n_head=2, n_embd=16, block_size=20, pos=pos))
    ids, attn, cmask = _batch()
    assert pack(attn).rows < ids.shape[0]
    results = {}
    for packed in (False, True):
        model.zero_grad()
        lp, ent = sequence_logprobs(model, ids, attn, None, cmask, temperature=0.7, packed=packed)
        (lp.sum() + 0.1 * ent.sum()).backward()
        results[packed] = (lp.detach(), ent.detach(), [p.grad.clone() for p in model.parameters()])
    (lp0, ent0, g0), (lp1, ent1, g1) = results[False], results[True]
    assert torch.allclose(lp0, lp1, atol=1e-5) and torch.allclose(ent0, ent1, atol=1e-5)
    assert (lp1[~cmask] == 0).all() and (lp1[cmask] < 0).all()
    for a, b in zip(g0, g1):
        assert torch.allclose(a, b, atol=1e-5)


def test_packing_is_chosen_only_when_it_saves_rows():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=13, n_layer=1, n_head=2, n_embd=16, block_size=20))
    full = torch.ones(4, 20, dtype=torch.bool)
    ids = torch.randint(1, 13, (4, 20))
    # every row full: nothing to pack; positions given: the padded path keeps them
    lp, _ = sequence_logprobs(model, ids, full, None, None)
    assert torch.allclose(lp, sequence_logprobs(model, ids, full, None, None, packed=False)[0])
    with pytest.raises(ValueError, match="positions"):
        sequence_logprobs(model, ids, full, torch.zeros_like(ids), None, packed=True)
