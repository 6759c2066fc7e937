import json
from functools import partial

import pytest

pytest.importorskip("transformers")
import torch

from priorlab.common import runfiles
from priorlab.common.finite import NonFiniteError
from priorlab.math.data import DataSpec
from priorlab.model.hf.load import load_hf
from priorlab.rl.policies import HFPolicy
from priorlab.sft.batchers import HFBatcher, batch_indices, torch_permutation
from priorlab.sft.loop import SFTConfig, train
from tests.tiny_hf import ADDITION_ROWS, cli, save_tiny_qwen, write_jsonl

ROWS = [{"problem": "1+1=?", "answer": "2", "solution": "\\boxed{2}"},
        {"problem": "2+2=?", "answer": "4", "solution": "\\boxed{4}"}]


def test_batch_layout_and_loss_is_the_target_token_mean_nll(tmp_path):
    lm = load_hf(save_tiny_qwen(tmp_path / "q"))
    pairs = [([5, 6, 7], [8, 0]), ([9], [10, 11, 0])]
    ids, attn, target = HFBatcher.collate(pairs, lm.pad_id)
    assert ids.tolist() == [[5, 6, 7, 8, 0], [9, 10, 11, 0, 1]]  # right-padded with pad (1)
    assert target.tolist() == [[False, False, False, True, True], [False, True, True, True, False]]
    with torch.no_grad():
        loss = HFBatcher.loss(lm.model, (ids, attn, target))
        # by hand: the 5 target tokens, each predicted by the logits one position earlier, one sequence at a time
        nll = []
        for seq, tgt_start in (([5, 6, 7, 8, 0], 3), ([9, 10, 11, 0], 1)):
            logp = torch.log_softmax(lm.model(torch.tensor([seq])).logits[0], -1)
            nll += [-logp[t - 1, seq[t]] for t in range(tgt_start, len(seq))]
    assert float(loss) == pytest.approx(float(sum(nll) / 5), abs=1e-5)


def test_batches_cover_each_epoch_once():
    def hf(n, step, seed, batch_size):
        return batch_indices(n, step, batch_size, partial(torch_permutation, seed))

    seen = [i for step in range(3) for i in hf(6, step, seed=0, batch_size=2)]
    assert sorted(seen) == list(range(6))  # steps 0-2 = epoch 0 exactly
    assert hf(6, 0, 0, 2) == hf(6, 0, 0, 2)
    # the HF stream, pinned (a change would silently change every HF SFT run): torch.randperm(6) with a
    # generator seeded by derive(0, "epoch", e); step 1 of batch 4 = slots 4, 5 of epoch 0 + 0, 1 of epoch 1
    perm0, perm1 = (torch_permutation(0, e, 6).tolist() for e in (0, 1))
    assert hf(6, 1, 0, 4) == perm0[4:] + perm1[:2] == [1, 4, 1, 5]
    assert hf(6, 0, 0, 4) == [2, 5, 3, 0]


def _hf_cfg(tmp_path, **kw):
    base = tmp_path / "base"
    if not base.exists():
        save_tiny_qwen(base)
    data = write_jsonl(tmp_path / "add.jsonl", ADDITION_ROWS)
    args = dict(init=f"hf:{base}", data=DataSpec(str(data)), steps=6, batch_size=3, lr=1e-3, ckpt_every=2)
    return SFTConfig(**{**args, **kw})


def test_hf_batcher_batch_is_the_records_of_the_step_by_hand(tmp_path):
    cfg = _hf_cfg(tmp_path, max_length=14)
    policy = HFPolicy.load(cfg.init, cfg)
    batcher = HFBatcher(cfg, policy, log=print)
    ids, attn, target = batcher.batch(1)
    # step 1 of batch 3 over 4 records: slot 3 of epoch 0, slots 0, 1 of epoch 1
    idx = batch_indices(4, 1, 3, partial(torch_permutation, 0))
    tok = policy.lm.tokenizer
    for b, i in enumerate(idx):
        row = ADDITION_ROWS[i]  # one character = one token; the plain template is the problem itself
        prompt, target_ids = tok(row["problem"])["input_ids"], tok(row["solution"])["input_ids"] + [policy.lm.eos_id]
        seq = (prompt + target_ids)[:14]  # --max-length 14 cuts the target, never the prompt
        assert ids[b, : len(seq)].tolist() == seq and (ids[b, len(seq):] == policy.lm.pad_id).all()
        assert attn[b].tolist() == [True] * len(seq) + [False] * (ids.shape[1] - len(seq))
        assert target[b].tolist() == [False] * len(prompt) + [True] * (len(seq) - len(prompt)) + \
            [False] * (ids.shape[1] - len(seq))
    assert batcher.truncated == 4  # prompts "What is a+b?" are 12 tokens: room for 2, every target is longer
    assert batcher.metrics((ids, attn, target)) == {} and batcher.evaluate(policy.model) == {}


def test_hf_interrupted_resume_is_bitwise(tmp_path):
    cfg = _hf_cfg(tmp_path)
    train(cfg, tmp_path / "a", progress=False, log=quiet)
    weights = (tmp_path / "a" / "model" / "model.safetensors").read_bytes()
    rows = runfiles.MetricsLog(tmp_path / "a" / "metrics.jsonl").read()
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6] and "update/grad_norm" in rows[0]
    assert sorted(p.name for p in (tmp_path / "a" / "checkpoints").iterdir()) == [
        "step_00000002", "step_00000004", "step_00000006"]  # no step 0: the base checkpoint is on disk

    class Stop(Exception):
        pass

    real_batch = HFBatcher.batch

    def dies_at_step_4(self, step):
        if step == 3:
            raise Stop  # steps 1-3 done and logged, the last checkpoint is step 2
        return real_batch(self, step)

    HFBatcher.batch = dies_at_step_4
    try:
        with pytest.raises(Stop):
            train(cfg, tmp_path / "b", progress=False, log=quiet)
    finally:
        HFBatcher.batch = real_batch
    assert len(runfiles.MetricsLog(tmp_path / "b" / "metrics.jsonl").read()) == 3
    s = train(cfg, tmp_path / "b", resume=True, progress=False, log=quiet)
    assert s["resumed_from"] == 2
    assert (tmp_path / "b" / "model" / "model.safetensors").read_bytes() == weights

    def strip(rs):
        return [{k: v for k, v in r.items() if not k.startswith("time/")} for r in rs]

    assert strip(runfiles.MetricsLog(tmp_path / "b" / "metrics.jsonl").read()) == strip(rows)
    # resuming under another config is refused, naming the field (the model's pad_source is not compared)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "config.json").write_text((tmp_path / "a" / "config.json").read_text())
    with pytest.raises(runfiles.RunError, match=r"started with other settings \(lr: \S+ -> \S+\); resuming would make it two runs"):
        train(_hf_cfg(tmp_path, lr=2e-3), tmp_path / "c", resume=True, progress=False, log=quiet)


def test_a_non_finite_loss_stops_the_run_naming_the_step_and_the_last_checkpoint(tmp_path, monkeypatch):
    real_loss, calls = HFBatcher.loss, []

    def nan_at_step_3(model, batch):
        calls.append(1)
        loss = real_loss(model, batch)
        return loss * float("nan") if len(calls) == 3 else loss

    monkeypatch.setattr(HFBatcher, "loss", staticmethod(nan_at_step_3))
    with pytest.raises(NonFiniteError, match=r"non-finite loss at step 3; lower --lr; stopped, last good checkpoint: "
                                             r".*step_00000002$"):
        train(_hf_cfg(tmp_path), tmp_path / "run", progress=False, log=quiet)


def test_config_checks_name_the_missing_or_misplaced_data(tmp_path):
    base = save_tiny_qwen(tmp_path / "base")
    with pytest.raises(ValueError, match="is a Hugging Face model: pass .* with --data"):
        SFTConfig(init=f"hf:{base}")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "model.json").write_text("{}")
    with pytest.raises(ValueError, match="--data needs a Hugging Face model"):
        SFTConfig(init=str(tmp_path / "run"), data=DataSpec("d.jsonl"))


def quiet(*_):
    pass


def test_sft_learns_the_solutions_then_eval_finds_them(tmp_path):
    base = save_tiny_qwen(tmp_path / "base")
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    r, out = cli("sft", "--model", f"hf:{base}", "--data", data, "--steps", 40, "--lr", 1e-2, "--batch-size", 2,
                 "--warmup-steps", 0, "--out", tmp_path / "sft")
    assert r.exit_code == 0, out
    s = json.loads((tmp_path / "sft" / "summary.json").read_text())
    assert s["loss/sft/last"] < 0.1 < s["loss/sft/first"]
    r, out = cli("eval", "--model", f"hf:{tmp_path / 'sft'}", "--data", data, "--samples", 4, "--temperature", 0.5,
                 "--max-new-tokens", 12, "--n-boot", 10, "--out", tmp_path / "ev")
    assert r.exit_code == 0, out
    ev = json.loads((tmp_path / "ev" / "summary.json").read_text())
    assert ev["pass@1"] >= 0.75 and ev["status_counts"]["ok"] == 8  # graded by Math-Verify's integer path


def test_missing_solution_field_is_named(tmp_path):
    base = save_tiny_qwen(tmp_path / "base")
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"problem": "1+1=?", "answer": "2"}) + "\n")
    r, out = cli("sft", "--model", f"hf:{base}", "--data", data, "--steps", 1, "--out", tmp_path / "sft")
    assert r.exit_code == 2 and "no solution field 'solution'" in out and "Traceback" not in out
