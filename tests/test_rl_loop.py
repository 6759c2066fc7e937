import dataclasses
import json
import math
import shutil

import pytest
import torch

from priorlab.common import rundirs, runfiles
from priorlab.common.finite import NonFiniteError
from priorlab.pretrain import PretrainConfig, pretrain
from priorlab.rl import algos
from priorlab.rl.loop import RLConfig, train
from tests.conftest import TINY_MIXTURE, run_cli


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A tiny pretrained prior (xs, ~200 steps): well-formed output, some accuracy on 2x1."""
    d = tmp_path_factory.mktemp("rlbase")
    mix = d / "tiny.yaml"
    mix.write_text(TINY_MIXTURE)
    cfg = PretrainConfig(mixture=str(mix), size="xs", tokens=16 * 64 * 200, batch_size=16, seq_len=64)
    pretrain(cfg, d / "pt", use_cache=False, progress=False, log=lambda *_: None)
    return d / "pt"


def _cfg(base, **kw):
    args = dict(init=str(base), steps=4, prompts_per_step=4, group_size=4, minibatches=2, max_new_tokens=40,
                difficulty="2x1", eval_every=2, eval_problems=8, eval_samples=2, ckpt_every=2, label_samples=4)
    return RLConfig(**{**args, **kw})


def _strip_time(rows):
    return [{k: v for k, v in r.items() if not k.startswith("time/")} for r in rows]


def quiet(*_):
    pass


def test_same_seed_same_metrics_and_interrupted_resume_is_bitwise(base, tmp_path):
    cfg = _cfg(base)
    train(cfg, tmp_path / "a", progress=False, log=quiet)
    train(cfg, tmp_path / "b", progress=False, log=quiet)
    a = _strip_time(runfiles.MetricsLog(tmp_path / "a" / "metrics.jsonl").read())
    assert a == _strip_time(runfiles.MetricsLog(tmp_path / "b" / "metrics.jsonl").read())
    assert [r["step"] for r in a] == [0, 1, 2, 3, 4]
    for key in ("reward/mean", "correct/mean", "loss/clip_frac_low", "loss/clip_frac_high", "entropy/planning",
                "entropy/execution", "format/code", "adv/frac_groups_all_equal", "length/mean"):
        assert key in a[1], key
    assert "eval/acc_greedy" in a[0] and "eval/acc_t1" in a[2]

    class Stop(Exception):
        pass

    def stop_after_step_3(msg):
        if str(msg).startswith("step 3/"):
            raise Stop  # dies after step 3 was logged but before it was checkpointed

    with pytest.raises(Stop):
        train(cfg, tmp_path / "c", progress=True, log=stop_after_step_3)
    assert not rundirs.is_finished(tmp_path / "c")
    train(cfg, tmp_path / "c", resume=True, progress=False, log=quiet)
    assert (tmp_path / "c" / "model.safetensors").read_bytes() == (tmp_path / "a" / "model.safetensors").read_bytes()
    assert _strip_time(runfiles.MetricsLog(tmp_path / "c" / "metrics.jsonl").read()) == a
    assert (tmp_path / "a" / "checkpoints" / "step_00000000").is_dir()  # step 0 is saved for the analyses


def test_a_finished_run_extended_with_more_steps_is_the_longer_run(base, tmp_path):
    cfg = _cfg(base, reward="random:0.5", lr=1e-3)  # random rewards: every step moves the weights
    longer = train(dataclasses.replace(cfg, steps=6), tmp_path / "long", progress=False, log=quiet)
    train(cfg, tmp_path / "ext", progress=False, log=quiet)
    logs = []
    extended = train(dataclasses.replace(cfg, steps=6), tmp_path / "ext", resume=True, progress=False,
                     log=logs.append)
    assert f"run {tmp_path / 'ext'} is finished at 4 steps: continuing it to 6" in logs
    assert (tmp_path / "ext" / "model.safetensors").read_bytes() == (tmp_path / "long" / "model.safetensors").read_bytes()
    rows = runfiles.MetricsLog(tmp_path / "ext" / "metrics.jsonl").read()
    assert _strip_time(rows) == _strip_time(runfiles.MetricsLog(tmp_path / "long" / "metrics.jsonl").read())
    timing = ("elapsed_s", "resumed_from")
    assert {k: v for k, v in extended.items() if k not in timing} == {k: v for k, v in longer.items() if k not in timing}
    assert json.loads((tmp_path / "ext" / "config.json").read_text())["resumed"] == [
        {"step": 4, "changed": {"steps": [4, 6]}}]
    with pytest.raises(runfiles.RunError, match=r"--steps 3: the run in .* is finished at 6 steps, and a run cannot "
                                                r"be cut short"):
        train(dataclasses.replace(cfg, steps=3), tmp_path / "ext", resume=True, progress=False, log=quiet)


def test_resume_refuses_other_settings_listing_old_and_new(base, tmp_path):
    cfg = _cfg(base, steps=2)
    train(cfg, tmp_path / "r", progress=False, log=quiet)
    other = dataclasses.replace(cfg, reward="random:0.5", lr=1e-4, seed=7)
    for out in ("r", "unfinished"):  # a finished run, and one killed after its first checkpoint
        if out == "unfinished":
            shutil.copytree(tmp_path / "r", tmp_path / out)
            (tmp_path / out / "summary.json").unlink()
        with pytest.raises(runfiles.RunError, match=r"started with other settings \(lr: 3e-05 -> 0.0001; reward: "
                                                    r'"correct" -> "random:0.5"; seed: 0 -> 7\)'):
            train(other, tmp_path / out, resume=True, progress=False, log=quiet)
    logs = []
    assert train(cfg, tmp_path / "r", resume=True, progress=False, log=logs.append)["steps"] == 2
    assert logs == [f"run {tmp_path / 'r'} is already finished"]


@pytest.mark.parametrize("reward", ["correct", "random:0.5", "incorrect", "format", "majority", "brier",
                                    "correct+length:0.001"])
def test_every_reward_runs_end_to_end(base, tmp_path, reward):
    s = train(_cfg(base, reward=reward, steps=2, train_problems=0), tmp_path / "r", progress=False, log=quiet)
    rows = runfiles.MetricsLog(tmp_path / "r" / "metrics.jsonl").read()
    assert s["steps"] == 2 and len(rows) == 3
    assert all(0 <= r["correct/mean"] <= 1 for r in rows[1:])  # the shadow correctness is always logged
    if reward == "incorrect":
        data = json.loads((tmp_path / "r" / "data.json").read_text())
        assert data["labels"] and set(data["pool"]) == set(data["labels"])


@pytest.mark.parametrize("algo", sorted(algos.PRESETS))
def test_every_algo_preset_runs(base, tmp_path, algo):
    s = train(_cfg(base, algo=algo, steps=1, eval_every=5), tmp_path / algo, progress=False, log=quiet)
    assert s["steps"] == 1 and (tmp_path / algo / "model.safetensors").exists()


def test_rollout_store_writes_one_parquet_per_step(base, tmp_path):
    import pyarrow.parquet as pq

    train(_cfg(base, steps=2, store_rollouts=True, eval_every=5), tmp_path / "ro", progress=False, log=quiet)
    files = sorted((tmp_path / "ro" / "rollouts").glob("*.parquet"))
    assert [f.name for f in files] == ["step_000001.parquet", "step_000002.parquet"]
    t = pq.read_table(files[0]).to_pydict()
    assert len(t["completion"]) == 16 and set(t["prompt_id"]) == {0, 1, 2, 3}  # P=4 prompts x G=4 samples
    for key in ("problem", "reward", "correct", "advantage", "length", "components"):
        assert len(t[key]) == 16


def test_one_shot_repeats_the_chosen_example(base, tmp_path):
    train(_cfg(base, train_problems=1, steps=1), tmp_path / "one", progress=False, log=quiet)
    data = json.loads((tmp_path / "one" / "data.json").read_text())
    assert len(data["pool"]) == 1


def test_more_minibatches_move_the_ratio_off_one(base, tmp_path):
    # a random reward gives every group non-zero advantages, so the first mini-batch's update moves the policy
    one = train(_cfg(base, reward="random:0.5", minibatches=1, steps=1, lr=1e-3), tmp_path / "m1", progress=False, log=quiet)
    four = train(_cfg(base, reward="random:0.5", minibatches=4, steps=1, lr=1e-3), tmp_path / "m4", progress=False, log=quiet)
    r1 = runfiles.MetricsLog(tmp_path / "m1" / "metrics.jsonl").read()[1]
    r4 = runfiles.MetricsLog(tmp_path / "m4" / "metrics.jsonl").read()[1]
    assert r1["loss/ratio_max"] == pytest.approx(1.0, abs=1e-5)  # one update on fresh old log-probs
    assert r4["loss/ratio_max"] > 1.0 + 1e-4
    assert one["steps"] == four["steps"] == 1


def test_nan_loss_stops_with_the_step_and_keeps_the_checkpoint(base, tmp_path, monkeypatch):
    def nan_loss(*a, **k):
        return torch.tensor(float("nan"), requires_grad=True), {}

    monkeypatch.setattr(algos, "policy_loss", nan_loss)
    with pytest.raises(NonFiniteError, match="non-finite loss at step 1; lower --lr; stopped, last good checkpoint: "
                                             ".*step_00000000$"):
        train(_cfg(base), tmp_path / "nan", progress=False, log=quiet)
    assert (tmp_path / "nan" / "checkpoints" / "step_00000000" / "model.safetensors").exists()
    assert not (tmp_path / "nan" / "model.safetensors").exists()


def test_cli_bad_inputs(base, tmp_path):
    for args, needle in [
        (["--reward", "lottery"], "lottery"),
        (["--algo", "ppo9000"], "ppo9000"),
        (["--algo", "nsr", "--baseline", "mean_std"], "std"),
        (["--minibatches", 0], "--minibatches"),
    ]:
        proc = run_cli("rl", "--init", base, "--out", tmp_path / "x", *args, check=False)
        assert proc.returncode == 2 and needle in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert not (tmp_path / "x").exists()
    proc = run_cli("rl", "--init", tmp_path / "nowhere", "--out", tmp_path / "y", check=False)
    assert proc.returncode == 2 and "model.safetensors" in proc.stderr


@pytest.mark.slow
def test_correct_reward_raises_accuracy_on_the_controlled_world(tmp_path):
    """GRPO with the correct reward on a real (small-budget) prior raises held-out accuracy.

    The prior is the default size on the code-prior at 6M tokens (the quick retest's budget, ~2 min on
    2 cores): base accuracy about 0.5, so there is room to move. Slow: run with `-m slow`.
    """
    pt = tmp_path / "pt"
    pretrain(PretrainConfig(mixture="code-prior", size="s", tokens=6_000_000), pt, use_cache=False, progress=False,
             log=quiet)
    s = train(RLConfig(init=str(pt), steps=30, lr=3e-5, eval_every=30, ckpt_every=30, eval_problems=100,
                       eval_samples=4), tmp_path / "rl", progress=False, log=quiet)
    before, after = s["eval/acc_t1/before"], s["eval/acc_t1/after"]
    assert 0.1 < before < 0.9, before  # the prior leaves room
    assert after > before + 0.05, (before, after)
    assert s["eval/acc_greedy/after"] >= s["eval/acc_greedy/before"]


@pytest.mark.parametrize("field, option", [("steps", "--steps"), ("prompts_per_step", "--prompts-per-step"),
                                           ("label_samples", "--label-samples")])
def test_counts_below_one_name_their_option(field, option):
    with pytest.raises(ValueError, match=f"^{option} must be >= 1, got 0$"):
        RLConfig(**{field: 0})
    with pytest.raises(ValueError, match="^--seq-len must be >= 1, got -2$"):
        PretrainConfig(seq_len=-2)
    RLConfig(**{field: 1})  # 1 is allowed


def test_reset_reference_copies_the_policy_and_restarts_the_optimizer():
    from priorlab.rl.loop import reset_reference

    model, ref = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=0.1)
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    assert opt.state and not torch.equal(model.weight, ref.weight)
    reset_reference(model, ref, opt)
    assert torch.equal(model.weight, ref.weight) and torch.equal(model.bias, ref.bias) and not opt.state
    reset_reference(model, None, opt)  # without a KL reference only the optimizer restarts


def test_reference_resets_log_checkpoint_and_resume_bitwise(base, tmp_path):
    # KL on, a reset every 2 steps, checkpoints every 3: resets at 2, 4; checkpoints at 2, 3, 4, 5
    cfg = _cfg(base, steps=5, ckpt_every=3, ref_reset_every=2, reward="random:0.5", lr=1e-3,
               overrides=(("kl_beta", 0.1),))
    train(cfg, tmp_path / "a", progress=False, log=quiet)
    rows = runfiles.MetricsLog(tmp_path / "a" / "metrics.jsonl").read()
    assert [r["step"] for r in rows if r.get("ref_reset")] == [2, 4]
    assert sorted(p.name for p in (tmp_path / "a" / "checkpoints").iterdir()) == [
        f"step_{s:08d}" for s in (0, 2, 3, 4, 5)]
    assert all(r["loss/kl"] >= 0 for r in rows if "loss/kl" in r) and any(r.get("loss/kl", 0) > 0 for r in rows)
    # without resets the same run differs (the reference stays the initial policy)
    train(dataclasses.replace(cfg, ref_reset_every=0), tmp_path / "plain", progress=False, log=quiet)
    assert (tmp_path / "plain" / "model.safetensors").read_bytes() != (tmp_path / "a" / "model.safetensors").read_bytes()

    class Stop(Exception):
        pass

    def stop_after(step):
        def log(msg):
            if str(msg).startswith(f"step {step}/"):
                raise Stop  # after step `step` was checkpointed (step 3: not a reset; its reference is step 2's)
        return log

    for step in (3,):
        with pytest.raises(Stop):
            train(cfg, tmp_path / f"c{step}", progress=True, log=stop_after(step))
        train(cfg, tmp_path / f"c{step}", resume=True, progress=False, log=quiet)
        assert (tmp_path / f"c{step}" / "model.safetensors").read_bytes() == \
            (tmp_path / "a" / "model.safetensors").read_bytes(), step
        assert _strip_time(runfiles.MetricsLog(tmp_path / f"c{step}" / "metrics.jsonl").read()) == _strip_time(rows)
    with pytest.raises(ValueError, match="ref-reset-every"):
        _cfg(base, ref_reset_every=-1)


def test_mean_entropy_by_hand():
    from priorlab.rl.envs import mean_entropy

    ent = torch.tensor([[1.0, 2.0, 4.0], [0.5, 0.5, 3.0]])
    mask = torch.tensor([[True, False, True], [False, False, True]])
    assert mean_entropy(ent, mask) == pytest.approx((1.0 + 4.0 + 3.0) / 3)
    assert math.isnan(mean_entropy(None, torch.zeros(2, 3, dtype=torch.bool)))  # no token marked: no entropy needed
    with pytest.raises(ValueError, match="no entropies"):
        mean_entropy(None, mask)
    with pytest.raises(ValueError, match="no token labels"):
        mean_entropy(ent, None)
