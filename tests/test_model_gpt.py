"""Tests for priorlab.model.gpt: shapes, loss, masking, positions, the KV cache, configs and sizes."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F

from priorlab.model.decode import Decoder, onednn_available
from priorlab.model.gpt import (
    DEFAULT_SIZE,
    GPT,
    SIZES,
    GPTConfig,
    config_for_size,
    padded_causal_mask,
    positions_from_mask,
)

V = 11


def tiny(pos: str = "rope", seed: int = 0, **kw) -> GPT:
    torch.manual_seed(seed)
    cfg = {"vocab_size": V, "n_layer": 2, "n_head": 2, "n_embd": 16, "block_size": 24, "pos": pos} | kw
    return GPT(GPTConfig(**cfg)).eval()


def left_pad(rows: list[list[int]], pad: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    T = max(map(len, rows))
    idx = torch.tensor([[pad] * (T - len(r)) + r for r in rows])
    mask = torch.tensor([[False] * (T - len(r)) + [True] * len(r) for r in rows])
    return idx, mask


def test_forward_shapes_and_loss_equal_cross_entropy():
    model = tiny()
    idx = torch.randint(0, V, (3, 9))
    targets = torch.randint(0, V, (3, 9))
    targets[0, :4] = -100  # ignored positions
    logits, loss = model(idx, targets)
    assert logits.shape == (3, 9, V) and logits.dtype == torch.float32
    kept = targets != -100
    reference = F.cross_entropy(logits[kept], targets[kept])  # mean over the 23 kept positions only
    assert torch.allclose(loss, reference, atol=1e-6)
    assert model(idx)[1] is None


def test_causal_future_tokens_do_not_change_past_logits():
    model = tiny()
    idx = torch.randint(0, V, (2, 10))
    changed = idx.clone()
    changed[:, 6:] = (changed[:, 6:] + 1) % V
    a, b = model(idx)[0], model(changed)[0]
    assert torch.allclose(a[:, :6], b[:, :6], atol=1e-6)
    assert not torch.allclose(a[:, 6:], b[:, 6:], atol=1e-3)


def test_positions_from_mask_and_padded_causal_mask_by_hand():
    mask = torch.tensor([[False, False, True, True, True]])
    assert positions_from_mask(mask).tolist() == [[0, 0, 0, 1, 2]]
    allowed = padded_causal_mask(mask)[0, 0].int().tolist()
    # pad queries see only themselves; real queries see real keys at or before them
    assert allowed == [[1, 0, 0, 0, 0],
                       [0, 1, 0, 0, 0],
                       [0, 0, 1, 0, 0],
                       [0, 0, 1, 1, 0],
                       [0, 0, 1, 1, 1]]


@pytest.mark.parametrize("pos", ["rope", "learned"])
def test_left_padding_does_not_change_a_rows_logits(pos):
    model = tiny(pos)
    rows = [[1, 2, 3, 4, 5, 6, 7], [3, 1, 4], [9, 2, 6, 5, 3]]
    idx, mask = left_pad(rows)
    padded = model(idx, attn_mask=mask)[0]
    for i, row in enumerate(rows):
        alone = model(torch.tensor([row]))[0][0]
        assert torch.allclose(padded[i, -len(row):], alone, atol=1e-5), row
    assert torch.isfinite(padded).all()  # padding queries are finite too (they attend to themselves)


PACKED = [False, pytest.param(True, marks=pytest.mark.skipif(
    not onednn_available(torch.zeros(1)), reason="this torch build has no oneDNN"))]


@pytest.mark.parametrize("packed", PACKED)
@pytest.mark.parametrize("pos", ["rope", "learned"])
def test_kv_cache_decoding_matches_full_forward(pos, packed):
    model = tiny(pos)
    rows = [[1, 2, 3, 4, 5], [6, 7], [8, 9, 10]]
    n_new = 6
    prompt, prompt_mask = left_pad(rows)
    cont = torch.randint(1, V, (3, n_new))
    full_idx = torch.cat([prompt, cont], 1)
    full_mask = torch.cat([prompt_mask, torch.ones(3, n_new, dtype=torch.bool)], 1)
    full = model(full_idx, attn_mask=full_mask)[0]  # [3, T0 + n_new, V]
    positions = positions_from_mask(full_mask)

    T0 = prompt.shape[1]
    with torch.no_grad():
        fast = model.new_cache(3, T0 + n_new, full_mask)
        slow = model.new_cache(3, T0 + n_new, full_mask)
        fast.k.fill_(float("nan"))  # slots not yet written are never read unmasked (see decode.MIN_KEYS)
        fast.v.fill_(float("nan"))
        first = model.forward_cached(prompt, positions[:, :T0], fast, 0, padded_causal_mask(prompt_mask))
        model.forward_cached(prompt, positions[:, :T0], slow, 0, padded_causal_mask(prompt_mask))
        assert torch.allclose(first, full[:, T0 - 1], atol=1e-5)
        decode = Decoder(model, fast, packed=packed)
        assert decode.packed == packed
        for s in range(n_new - 1):
            t = T0 + s
            step = decode(cont[:, s], positions[:, t], t)
            key_mask = full_mask[:, None, None, : t + 1]
            module_path = model.forward_cached(cont[:, s:s + 1], positions[:, t:t + 1], slow, t, key_mask)
            assert torch.allclose(step, full[:, t], atol=1e-5)
            assert torch.allclose(module_path, full[:, t], atol=1e-5)


@pytest.mark.parametrize("packed", PACKED)
def test_kv_cache_without_padding_uses_unmasked_paths(packed):
    model = tiny()
    idx = torch.randint(0, V, (2, 8))
    full = model(idx)[0]
    positions = torch.arange(8).expand(2, 8)
    with torch.no_grad():
        cache = model.new_cache(2, 8)
        assert torch.allclose(model.forward_cached(idx[:, :5], positions[:, :5], cache, 0), full[:, 4], atol=1e-5)
        decode = Decoder(model, cache, packed=packed)
        for t in range(5, 8):
            assert torch.allclose(decode(idx[:, t], positions[:, t], t), full[:, t], atol=1e-5)


@pytest.mark.skipif(not onednn_available(torch.zeros(1)), reason="this torch build has no oneDNN")
def test_packed_weights_are_remade_after_an_in_place_update():
    model = tiny()
    idx = torch.randint(0, V, (2, 6))
    positions = torch.arange(6).expand(2, 6)

    def last_step() -> torch.Tensor:
        with torch.no_grad():
            cache = model.new_cache(2, 6)
            model.forward_cached(idx[:, :5], positions[:, :5], cache, 0)
            return Decoder(model, cache, packed=True)(idx[:, 5], positions[:, 5], 5)

    before = last_step()
    assert torch.allclose(before, model(idx)[0][:, 5], atol=1e-5)
    with torch.no_grad():
        model.blocks[0].mlp.c_fc.weight.mul_(3.0)  # what an optimizer step does: in place
    after = last_step()
    copy.deepcopy(model)  # the packed copies live beside the model: it still deep-copies (KL reference)
    assert not torch.allclose(after, before, atol=1e-3)  # the stale packed copy would give `before`
    assert torch.allclose(after, model(idx)[0][:, 5], atol=1e-5)


def test_init_scales_residual_projections():
    model = tiny(n_layer=4, n_embd=64, n_head=4)
    assert model.wte.weight.std().item() == pytest.approx(0.02, rel=0.1)
    # 0.02 / sqrt(2 * 4 layers) = 0.00707
    assert model.blocks[0].mlp.c_proj.weight.std().item() == pytest.approx(0.02 / math.sqrt(8), rel=0.1)


def test_checkpoint_holds_only_learned_weights_once():
    model = tiny()
    keys = set(model.state_dict())
    assert "wte.weight" in keys and not any("lm_head" in k or k == "rope" for k in keys)
    assert model.num_params() == sum(v.numel() for v in model.state_dict().values())


def test_mlp_hidden_defaults_to_four_times_width():
    assert GPTConfig(vocab_size=V, n_layer=1, n_head=2, n_embd=16, block_size=8).mlp_hidden == 64
    assert GPTConfig(vocab_size=V, n_layer=1, n_head=2, n_embd=16, block_size=8, mlp_hidden=24).mlp_hidden == 24


@pytest.mark.parametrize("bad, message", [
    ({"n_embd": 30, "n_head": 4}, "divisible"),
    ({"pos": "alibi"}, "pos"),
    ({"n_embd": 12, "n_head": 4}, "even head dimension"),  # head_dim 3 cannot hold rotary pairs
    ({"n_layer": 0}, "n_layer"),
    ({"mlp_hidden": -1}, "mlp_hidden"),
])
def test_bad_config_raises_value_error(bad, message):
    cfg = {"vocab_size": V, "n_layer": 2, "n_head": 2, "n_embd": 16, "block_size": 24} | bad
    with pytest.raises(ValueError, match=message):
        GPTConfig(**cfg)


def test_sequence_longer_than_block_size_raises():
    model = tiny()
    with pytest.raises(ValueError, match="block_size"):
        model(torch.zeros(1, 25, dtype=torch.long))


def test_unknown_size_names_the_valid_ones():
    with pytest.raises(ValueError, match="xs, s, m, l"):
        config_for_size("xxl", vocab_size=V, block_size=32)


def test_size_presets_param_counts():
    counts = {size: GPT(config_for_size(size, vocab_size=32, block_size=128)).num_params() for size in SIZES}
    print(counts)
    # ~12 * n_layer * n_embd^2 + vocab * n_embd (+ norms): e.g. "s": 12 * 3 * 96^2 = 331,776 + 3,072
    assert 0.08e6 < counts["xs"] < 0.13e6
    assert 0.30e6 < counts["s"] < 0.40e6
    assert 1.6e6 < counts["m"] < 2.4e6
    assert 4.0e6 < counts["l"] < 6.0e6
    assert DEFAULT_SIZE == "s"
    assert config_for_size("s", vocab_size=32, block_size=128).n_layer == 3


@pytest.mark.parametrize("packed", PACKED)
@pytest.mark.parametrize("pos", ["rope", "learned"])
@pytest.mark.parametrize("padded", [True, False])
def test_decoder_prefill_matches_the_module_prefill(pos, packed, padded):
    model = tiny(pos, n_layer=3)
    rows = [[1, 2, 3, 4, 5], [6, 7], [8, 9, 10]] if padded else [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 1, 2]]
    prompt, prompt_mask = left_pad(rows)
    T0, total = prompt.shape[1], prompt.shape[1] + 4
    key_mask = torch.cat([prompt_mask, torch.ones(3, 4, dtype=torch.bool)], 1)
    positions = positions_from_mask(prompt_mask)
    mask = padded_causal_mask(prompt_mask) if padded else None
    with torch.no_grad():
        module_cache, fast_cache = model.new_cache(3, total, key_mask), model.new_cache(3, total, key_mask)
        fast_cache.k.fill_(float("nan"))  # what a reused buffer may hold: never read unmasked
        fast_cache.v.fill_(float("nan"))
        expected = model.forward_cached(prompt, positions, module_cache, 0, mask)
        logits = Decoder(model, fast_cache, packed=packed).prefill(prompt, positions, mask)
    assert torch.allclose(logits, expected, atol=1e-5)
    assert torch.allclose(logits, model(prompt, attn_mask=prompt_mask)[0][:, -1], atol=1e-5)
    # every layer's keys and values of every prompt slot, the padding's included, as the module wrote them
    assert torch.allclose(fast_cache.k[:, :, :, :T0], module_cache.k[:, :, :, :T0], atol=1e-5)
    assert torch.allclose(fast_cache.v[:, :, :, :T0], module_cache.v[:, :, :, :T0], atol=1e-5)
    with pytest.raises(ValueError, match="do not fit"):
        Decoder(model, fast_cache).prefill(torch.zeros(3, total + 1, dtype=torch.long), positions, None)


def test_cache_storage_is_used_in_place_and_checked():
    model = tiny()
    n = model.cache_numel(3, 8)
    assert n == 2 * 2 * 3 * 2 * 8 * 8  # k and v x layers x rows x heads x slots x head_dim
    storage = torch.full((n + 5,), float("nan"))
    cache = model.new_cache(3, 8, storage=storage)
    assert cache.k.shape == cache.v.shape == (2, 3, 2, 8, 8)
    cache.k.fill_(1.0)
    cache.v.fill_(2.0)
    assert storage[: n // 2].eq(1).all() and storage[n // 2: n].eq(2).all() and storage[n:].isnan().all()
    with pytest.raises(ValueError, match="at least 1536"):
        model.new_cache(3, 8, storage=torch.zeros(n - 1))
    with pytest.raises(ValueError, match="float32"):
        model.new_cache(3, 8, storage=torch.zeros(n, dtype=torch.float64))


@pytest.mark.parametrize("packed", PACKED)
@pytest.mark.parametrize("pos", ["rope", "learned"])
def test_compiled_decoding_step_equals_the_eager_step_bitwise(pos, packed):
    from priorlab.model.decode_step import compiled_step, step

    assert compiled_step() is not step  # TorchScript compiles the step in the pinned torch
    model = tiny(pos, n_layer=3)
    prompt, prompt_mask = left_pad([[1, 2, 3, 4, 5], [6, 7], [8, 9, 10]])
    T0, n_new = prompt.shape[1], 5
    key_mask = torch.cat([prompt_mask, torch.ones(3, n_new, dtype=torch.bool)], 1)
    positions = positions_from_mask(key_mask)
    cont = torch.randint(1, V, (3, n_new))
    logits = {}
    with torch.no_grad():
        for scripted in (True, False):
            cache = model.new_cache(3, T0 + n_new, key_mask)
            decode = Decoder(model, cache, packed=packed, scripted=scripted)
            out = [decode.prefill(prompt, positions[:, :T0], padded_causal_mask(prompt_mask))]
            out += [decode(cont[:, s], positions[:, T0 + s], T0 + s) for s in range(n_new)]
            logits[scripted] = (torch.stack(out), cache.k.clone(), cache.v.clone())
    for a, b in zip(logits[True], logits[False]):
        assert torch.equal(a, b)
    full = model(torch.cat([prompt, cont], 1), attn_mask=key_mask)[0]
    assert torch.allclose(logits[True][0][1:], full[:, T0:].transpose(0, 1), atol=1e-5)
