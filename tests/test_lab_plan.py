"""The plan before a sweep: the cost model (lab.costs) and the simulated schedule (lab.plan)."""

import json

import pytest

from priorlab.claims import get_claim
from priorlab.claims.base import PRESETS, Lab
from priorlab.lab import costs
from priorlab.lab.costs import CostModel, params, work
from priorlab.lab.plan import make_plan, simulate
from priorlab.lab.sweep import Job, closure, execute
from priorlab.pretrain import PretrainConfig
from priorlab.rl.loop import RLConfig
from tests.conftest import run_cli


def test_params_and_work_by_hand():
    assert params("xs") == 12 * 2 * 64 ** 2 + 32 * 64 == 100_352
    pt = PretrainConfig(mixture="code-prior", size="xs", tokens=1000)
    assert work("pretrain", pt, "xs") == 3 * 1000 * 100_352
    rl = RLConfig(steps=4, prompts_per_step=2, group_size=3, max_new_tokens=10, eval_every=2, eval_problems=5,
                  eval_samples=1, epochs=1)
    rollouts = 4 * 2 * 3
    by_hand = rollouts * 10 + 3 * rollouts * (10 + costs.PROMPT_TOKENS) + (4 // 2 + 2) * 5 * 1 * 10
    assert work("rl", rl, "xs") == by_hand * 100_352


def test_simulated_schedule_by_hand():
    a = Job("pretrain", PretrainConfig(mixture="code-prior", size="xs", tokens=1000))
    b = Job("pretrain", PretrainConfig(mixture="code-prior", size="xs", tokens=2000))
    c = Job("rl", RLConfig(steps=3), deps=(a,))
    secs = {a.key: 3.0, b.key: 2.0, c.key: 1.0}
    # two workers: a and b start at 0; b ends at 2 but c waits for a (ends 3), then runs 1 s
    assert simulate([a, b, c], secs, workers=2) == 4.0
    assert simulate([a, b, c], secs, workers=1) == 6.0
    assert simulate([c], secs, workers=2, done={a.key}) == 1.0  # a cached: c starts at once
    with pytest.raises(ValueError, match="dependency"):
        simulate([c], secs, workers=2)  # a neither done nor planned


def test_fit_takes_the_median_rate_of_finished_jobs(tmp_path):
    def record(name, kind, params_, elapsed, deps=()):
        (tmp_path / name).mkdir()
        (tmp_path / name / "job.json").write_text(json.dumps({"kind": kind, "params": params_, "deps": list(deps),
                                                              "elapsed_s": elapsed}))

    pt = {"mixture": "code-prior", "size": "xs", "tokens": 1000}
    record("pretrain-a", "pretrain", pt, 10.0)
    record("pretrain-b", "pretrain", dict(pt, tokens=2000), 20.0)
    record("pretrain-c", "pretrain", dict(pt, tokens=4000), 1000.0)
    (tmp_path / "pretrain-d").mkdir()
    (tmp_path / "pretrain-d" / "job.json").write_text("{half")  # being written: not a measurement
    model = CostModel.fit(tmp_path)
    fixed = costs.FIXED_S["pretrain"]
    rates = sorted((e - fixed) / (3 * t * 100_352) for t, e in ((1000, 10.0), (2000, 20.0), (4000, 1000.0)))
    assert model.rates["pretrain"] == pytest.approx(rates[1])
    assert model.fitted == {"pretrain": 3}
    assert model.rates["rl"] == costs.DEFAULT_RATES["rl"]  # no finished RL job: the built-in rate
    assert "pretrain 3" in model.source() and "rl" in model.source()


def test_plan_counts_cached_jobs_and_estimates_only_the_rest(tmp_path, tiny_mixture):
    pt = Job("pretrain", PretrainConfig(mixture=tiny_mixture, size="xs", tokens=16 * 64 * 4, batch_size=16,
                                        seq_len=64, eval_every=4, ckpt_every=4))
    rl = Job("rl", RLConfig(steps=2, prompts_per_step=2, group_size=2, max_new_tokens=8, eval_every=2, minibatches=1,
                            eval_problems=4, eval_samples=1, difficulty="2x1"), deps=(pt,))
    before = make_plan([rl], tmp_path, workers=2)
    assert (before.jobs, before.cached) == (2, 0) and before.wall_s > 0
    assert before.wall_s == pytest.approx(before.cpu_s)  # a chain: no two jobs at once
    execute(pt, tmp_path)
    after = make_plan([rl], tmp_path, workers=2)
    assert (after.jobs, after.cached) == (2, 1) and after.by_kind["pretrain"].cached == 1
    assert after.by_kind["pretrain"].cpu_s == 0 and after.cpu_s == after.by_kind["rl"].cpu_s
    assert after.source.startswith("fitted on finished jobs (pretrain 1)")


def test_quick_plan_covers_every_job_of_the_preset():
    b = PRESETS["quick"]
    lab, seeds = Lab(b), list(range(b.seeds))
    jobs = [j for cid in ("one-shot", "calibration") for j in get_claim(cid).jobs(lab, seeds)]
    plan = make_plan(jobs, "/nonexistent-cache", workers=2, model=CostModel())
    assert plan.jobs == len(closure(jobs)) and plan.cached == 0
    assert sum(k.jobs for k in plan.by_kind.values()) == plan.jobs
    assert plan.cpu_s / 2 * (1 - 1e-9) <= plan.wall_s <= plan.cpu_s * (1 + 1e-9)


def test_cli_plan_runs_nothing_and_prints_the_estimate(tmp_path):
    out = tmp_path / "rt"
    proc = run_cli("retest", "--preset", "smoke", "--claims", "one-shot", "--plan", "--out", out)
    assert "plan: retest one-shot, preset smoke" in proc.stdout and "estimated wall time" in proc.stdout
    assert "CPU-hours on a Ray cluster" in proc.stdout and "cost model:" in proc.stdout
    assert not out.exists()  # nothing run, nothing written
    proc = run_cli("retest", "--preset", "smoke", "--map", "one-shot", "--plan", "--out", out)
    assert "plan: map one-shot, preset smoke" in proc.stdout and not out.exists()
    bad = run_cli("retest", "--preset", "nope", "--plan", "--out", out, check=False)
    assert bad.returncode == 2 and bad.stderr.strip() == "error: --preset 'nope': valid: smoke, quick, full"
