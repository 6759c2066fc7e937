import json

import pytest
import torch
from safetensors.torch import save_file

from priorlab.analysis.params import (
    Checkpoint,
    chance_jaccard,
    diff_checkpoints,
    half_ulp_bf16,
    iter_tensors,
    layer_group,
    resolve_checkpoint,
)


def base_state() -> dict[str, torch.Tensor]:
    """A tiny GPT-like state dict in fp32: 2 blocks, an embedding, a final norm (218 parameters)."""
    g = torch.Generator().manual_seed(0)
    return {
        "wte.weight": torch.rand(10, 4, generator=g) * 2 - 1,            # 40
        "blocks.0.attn.weight": torch.rand(8, 6, generator=g) * 2 - 1,   # 48
        "blocks.0.ln_1.weight": torch.ones(6),                           # 6
        "blocks.1.mlp.weight": torch.rand(10, 10, generator=g) * 2 - 1,  # 100
        "ln_f.weight": torch.ones(4) * 0.5,                              # 4
        "blocks.1.ln_1.weight": torch.rand(20, generator=g),             # 20
    }


def write(dirpath, state, name="model.safetensors"):
    dirpath.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(dirpath / name))
    return dirpath


def with_changes(state, name, flat_idx, delta):
    out = {k: v.clone() for k, v in state.items()}
    flat = out[name].view(-1)
    flat[list(flat_idx)] += delta
    return out


def test_identical_checkpoints_report_zero_changed(tmp_path):
    s = base_state()
    r = diff_checkpoints(write(tmp_path / "a", s), [write(tmp_path / "b", s)], atol=1e-5)
    g = r["per_run"][0]["global"]
    assert g["numel"] == 218 and g["n_tensors"] == 6
    assert g["changed_bf16"] == g["changed_fp32"] == g["changed_atol"] == 0
    assert g["frac_bf16"] == 0.0
    assert r["per_run"][0]["per_tensor"]["blocks.1.mlp.weight"]["rank"] == 0
    assert r["overlap"] == []  # one run: no pairs


def test_exactly_m_changes_show_in_fp32_and_bf16(tmp_path):
    s = base_state()
    # +1.0 on weights in [-1, 1] is far above bf16 spacing (<= 2^-7 there): 3 + 5 = 8 changed entries
    run = with_changes(s, "blocks.0.attn.weight", [0, 7, 20], 1.0)
    run = with_changes(run, "wte.weight", [1, 2, 3, 4, 39], 1.0)
    r = diff_checkpoints(write(tmp_path / "a", s), [write(tmp_path / "b", run)])
    res = r["per_run"][0]
    assert res["global"]["changed_fp32"] == res["global"]["changed_bf16"] == 8
    assert res["global"]["frac_bf16"] == pytest.approx(8 / 218)
    assert "changed_atol" not in res["global"]
    assert res["per_tensor"]["blocks.0.attn.weight"]["changed_bf16"] == 3
    assert res["per_layer"]["blocks.0"]["changed_fp32"] == 3           # 48 + 6 parameters in blocks.0
    assert res["per_layer"]["blocks.0"]["frac_fp32"] == pytest.approx(3 / 54)
    assert res["per_layer"]["other"]["changed_fp32"] == 5              # wte and ln_f
    assert list(res["per_layer"]) == ["blocks.0", "blocks.1", "other"]
    assert r["tensors"]["blocks.1.mlp.weight"] == {"shape": [10, 10], "numel": 100, "group": "blocks.1"}


def test_change_below_bf16_resolution_shows_in_fp32_only(tmp_path):
    s = base_state()
    # ln_1 weights are exactly 1.0; bf16 spacing at 1 is 2^-7 = 0.0078, so 1 + 1e-4 rounds back to 1.0
    run = with_changes(s, "blocks.0.ln_1.weight", [0, 1], 1e-4)
    a, b = write(tmp_path / "a", s), write(tmp_path / "b", run)
    g = diff_checkpoints(a, [b], atol=1e-3)["per_run"][0]["global"]
    assert (g["changed_fp32"], g["changed_bf16"], g["changed_atol"]) == (2, 0, 0)  # 1e-4 < atol 1e-3
    g = diff_checkpoints(a, [b], atol=1e-5)["per_run"][0]["global"]
    assert g["changed_atol"] == 2                                                  # 1e-4 > atol 1e-5


def test_rank_of_known_low_rank_updates(tmp_path):
    s = base_state()
    u, v = torch.arange(1.0, 11.0), torch.linspace(-1, 1, 10)
    rank1 = {**s, "blocks.1.mlp.weight": s["blocks.1.mlp.weight"] + torch.outer(u, v)}
    u2, v2 = torch.ones(10), torch.tensor([1.0, -1] * 5)
    rank2 = {**rank1, "blocks.1.mlp.weight": rank1["blocks.1.mlp.weight"] + torch.outer(u2, v2)}
    full = {**s, "blocks.0.attn.weight": s["blocks.0.attn.weight"] + torch.randn(8, 6, generator=torch.Generator().manual_seed(1))}
    a = write(tmp_path / "a", s)
    r = diff_checkpoints(a, [write(tmp_path / "r1", rank1), write(tmp_path / "r2", rank2), write(tmp_path / "f", full)])
    t = [run["per_tensor"] for run in r["per_run"]]
    assert t[0]["blocks.1.mlp.weight"] == {**t[0]["blocks.1.mlp.weight"], "rank": 1, "full_rank": 10, "rank_frac": 0.1}
    assert t[1]["blocks.1.mlp.weight"]["rank"] == 2
    assert t[2]["blocks.0.attn.weight"]["rank"] == 6 and t[2]["blocks.0.attn.weight"]["rank_frac"] == 1.0
    assert "rank" not in t[0]["ln_f.weight"]  # 1-D: no rank
    # run 0: three 2-D matrices ranked, ranks 0 (wte), 0 (attn), 1/10 (mlp) -> mean 1/30
    assert r["per_run"][0]["global"]["n_matrices_ranked"] == 3
    assert r["per_run"][0]["global"]["mean_rank_frac"] == pytest.approx(1 / 30)


def test_jaccard_overlap_vs_chance_on_constructed_masks(tmp_path):
    s = base_state()
    name = "blocks.1.mlp.weight"  # 100 entries; all other tensors unchanged
    runs = [with_changes(s, name, range(0, 20), 1.0),    # A: entries 0..19,  p = 0.2
            with_changes(s, name, range(10, 30), 1.0),   # B: entries 10..29, q = 0.2
            with_changes(s, name, range(50, 70), 1.0)]   # C: entries 50..69, disjoint from A
    r = diff_checkpoints(write(tmp_path / "base", s), [write(tmp_path / f"r{i}", st) for i, st in enumerate(runs)])
    assert [o["runs"] for o in r["overlap"]] == [[0, 1], [0, 2], [1, 2]]
    ab = r["overlap"][0]
    # |A & B| = 10, |A | B| = 30 -> J = 1/3; chance pq/(p+q-pq) = 0.04/0.36 = 1/9
    got = {k: v for k, v in ab["per_tensor"][name].items() if k != "chance_magnitude"}  # tested below
    assert got == {"intersection": 10, "union": 30, "jaccard": pytest.approx(1 / 3),
                   "chance": pytest.approx(1 / 9), "chance_stratified": pytest.approx(1 / 9)}
    # globally J is still 10/30, but the densities are 20/218 each:
    # chance = p^2 / (2p - p^2) = p / (2 - p) with p = 20/218; stratified keeps the tensor's 1/9
    p = 20 / 218
    assert ab["global"]["jaccard"] == pytest.approx(1 / 3)
    assert ab["global"]["chance"] == pytest.approx(p / (2 - p))
    assert ab["global"]["chance_stratified"] == pytest.approx(1 / 9)
    assert ab["per_layer"]["blocks.1"]["jaccard"] == pytest.approx(1 / 3)
    assert r["overlap"][1]["global"]["jaccard"] == 0.0                      # A vs C disjoint
    assert ab["per_tensor"]["wte.weight"]["jaccard"] is None                # nothing changed: 0/0
    assert chance_jaccard(0.2, 0.2) == pytest.approx(1 / 9)
    assert chance_jaccard(0.0, 0.0) is None


def test_sharded_checkpoint_is_read_like_a_single_file(tmp_path):
    s = base_state()
    shard_dir = tmp_path / "sharded"
    names = sorted(s)
    first, second = names[:3], names[3:]
    write(shard_dir, {k: s[k] for k in first}, "model-00001-of-00002.safetensors")
    write(shard_dir, {k: s[k] for k in second}, "model-00002-of-00002.safetensors")
    weight_map = {**{k: "model-00001-of-00002.safetensors" for k in first},
                  **{k: "model-00002-of-00002.safetensors" for k in second}}
    (shard_dir / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))

    got = dict(iter_tensors(shard_dir))
    assert sorted(got) == names
    for k in names:
        assert torch.equal(got[k], s[k])
    files = resolve_checkpoint(shard_dir)
    assert files["wte.weight"].name == "model-00002-of-00002.safetensors"

    single = write(tmp_path / "single", s)
    assert diff_checkpoints(single, [shard_dir])["per_run"][0]["global"]["changed_fp32"] == 0
    run = write(tmp_path / "run", with_changes(s, "ln_f.weight", [0, 3], 1.0))
    assert diff_checkpoints(shard_dir, [run])["per_run"][0]["global"]["changed_bf16"] == 2


def test_bf16_stored_checkpoint(tmp_path):
    s = {k: v.to(torch.bfloat16) for k, v in base_state().items()}
    run = with_changes(s, "blocks.1.mlp.weight", [5], 0.5)
    with Checkpoint(write(tmp_path / "run", run)) as ck:
        assert ck.get("blocks.1.mlp.weight").dtype == torch.bfloat16
        assert ck.shape("blocks.1.mlp.weight") == (10, 10)
    g = diff_checkpoints(write(tmp_path / "a", s), [tmp_path / "run"])["per_run"][0]["global"]
    assert g["changed_bf16"] == g["changed_fp32"] == 1


def test_layer_group_names():
    assert layer_group("blocks.3.attn.c_attn.weight") == "blocks.3"
    assert layer_group("model.layers.12.mlp.experts.7.w1.weight") == "model.layers.12"
    assert layer_group("transformer.h.0.ln_1.weight") == "transformer.h.0"
    assert layer_group("lm_head.weight") == "other"


def test_clear_errors(tmp_path):
    s = base_state()
    a = write(tmp_path / "a", s)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        diff_checkpoints(a, [tmp_path / "nowhere"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="empty"):
        resolve_checkpoint(tmp_path / "empty")
    missing_name = write(tmp_path / "m", {k: v for k, v in s.items() if k != "ln_f.weight"})
    with pytest.raises(ValueError, match=r"tensor names differ.*ln_f.weight"):
        diff_checkpoints(a, [missing_name])
    reshaped = write(tmp_path / "r", {**s, "wte.weight": s["wte.weight"].reshape(4, 10)})
    with pytest.raises(ValueError, match=r"wte.weight has shape \[4, 10\]"):
        diff_checkpoints(a, [reshaped])
    bad_index = tmp_path / "bad"
    bad_index.mkdir()
    (bad_index / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"x": "gone.safetensors"}}))
    with pytest.raises(FileNotFoundError, match="gone.safetensors"):
        resolve_checkpoint(bad_index)
    write(bad_index, {"y": torch.zeros(2)}, "shard.safetensors")
    (bad_index / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"x": "shard.safetensors"}}))
    with pytest.raises(ValueError, match="lacks tensor x"):
        dict(iter_tensors(bad_index))
    (bad_index / "model.safetensors.index.json").write_text("{}")
    with pytest.raises(ValueError, match="malformed"):
        resolve_checkpoint(bad_index)
    with pytest.raises(ValueError, match="at least one run"):
        diff_checkpoints(a, [])


def test_chance_magnitude_stratifies_by_the_base_weights_exponent(tmp_path):
    # 50 tiny weights (1e-3, frexp exponent -9) and 50 unit weights (exponent 1): two strata of 50
    w = torch.cat([torch.full((50,), 1e-3), torch.ones(50)])
    s = {"w": w}
    a = with_changes(s, "w", list(range(0, 20)) + list(range(50, 55)), 1.0)   # 20 tiny + 5 unit
    b = with_changes(s, "w", list(range(10, 30)) + list(range(55, 60)), 1.0)  # 20 tiny + 5 unit
    r = diff_checkpoints(write(tmp_path / "base", s), [write(tmp_path / "a", a), write(tmp_path / "b", b)])
    o = r["overlap"][0]["per_tensor"]["w"]
    # observed: tiny 10..19 shared, unit disjoint -> J = 10 / (30 + 10) = 0.25
    # uniform chance: p = q = 25/100 -> 0.0625 / 0.4375 = 1/7
    # by stratum: tiny E& = 20*20/50 = 8, E| = 40 - 8 = 32; unit E& = 5*5/50 = 0.5, E| = 9.5 -> 8.5/41.5
    assert o["jaccard"] == pytest.approx(0.25)
    assert o["chance"] == pytest.approx(1 / 7)
    assert o["chance_magnitude"] == pytest.approx(8.5 / 41.5)
    assert r["overlap"][0]["global"]["chance_magnitude"] == pytest.approx(8.5 / 41.5)


def test_half_ulp_bf16_by_hand():
    # 0.02 = 0.64 * 2^-5 lies in [2^-6, 2^-5): bf16 spacing 2^(-6-7), half of it 2^-14
    w = torch.tensor([0.02, -0.02, 1.0, 1.5, 0.0, 2.0 ** -130])
    assert half_ulp_bf16(w).tolist() == [2.0 ** -14, 2.0 ** -14, 2.0 ** -8, 2.0 ** -8, 2.0 ** -134, 2.0 ** -134]
    # the definition agrees with bf16 rounding: w + 0.9 h rounds back to bf16(w), w + 1.1 h does not
    # (w on the bf16 grid, away from a binade edge)
    b = torch.tensor([0.01953125, 1.0078125, -0.75])  # exact bf16 values
    h = half_ulp_bf16(b)
    assert torch.equal((b + 0.9 * h).bfloat16(), b.bfloat16()) and not torch.equal((b + 1.1 * h).bfloat16(), b.bfloat16())


def test_rho_and_precision_shares_by_hand(tmp_path):
    s = {"w.weight": torch.tensor([0.02, 0.02, 1.0, 1.0]), "idx": torch.tensor([1, 2])}
    run = {"w.weight": torch.tensor([0.02 + 3 * 2.0 ** -14, 0.02, 1.0 + 2.0 ** -9, 1.0]), "idx": torch.tensor([1, 2])}
    g = diff_checkpoints(write(tmp_path / "a", s), [write(tmp_path / "b", run)], rank=False)["per_run"][0]["global"]
    # |Delta| = 3*2^-14, 0, 2^-9, 0; h = 2^-14, 2^-14, 2^-8, 2^-8
    sum_h = 2 * 2.0 ** -14 + 2 * 2.0 ** -8
    assert g["numel_float"] == 4  # the integer buffer is left out of the precision measures
    assert g["rho"] == pytest.approx((3 * 2.0 ** -14 + 2.0 ** -9) / sum_h, rel=1e-4)
    assert g["frac_above_half_ulp"] == 0.25  # only the first entry moved by more than h (3h; the third by h/2)
    # expected bf16 share: min(1, |Delta| / 2h) = 1, 0, 1/4, 0 -> mean 5/16
    assert g["frac_bf16_expected"] == pytest.approx(5 / 16, rel=1e-4)
