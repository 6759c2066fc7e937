import pytest

from priorlab.claims import CLAIM_IDS, get_claim
from priorlab.claims.base import PRESETS, Lab
from priorlab.claims.knobs import KNOBS, freeze, updates

SMOKE = PRESETS["smoke"]
SEEDS = [0, 1]


def by_kind(jobs, kind):
    """{label: params} of the jobs of one kind (the labels identify the conditions)."""
    return {j.label: j.params for j in jobs if j.kind == kind}


def all_jobs(lab, claim="spurious-rewards"):
    from priorlab.lab.sweep import closure

    return closure(get_claim(claim).jobs(lab, SEEDS))


def test_no_knobs_is_the_preset():
    lab = Lab(SMOKE)
    assert lab.b is SMOKE and dict(lab.knobs) == {}
    with pytest.raises(TypeError):
        lab.knobs["lr"] = 1e-5  # frozen: a lab is one point of a map


def test_lr_changes_exactly_the_rl_configs():
    base, knob = all_jobs(Lab(SMOKE)), all_jobs(Lab(SMOKE, {"lr": "1e-5"}))
    for kind in ("pretrain", "eval"):
        # the evals depend on changed RL runs, but their own configs are the preset's
        assert sorted(map(str, by_kind(base, kind).values())) == sorted(map(str, by_kind(knob, kind).values()))
    rl_base, rl_knob = by_kind(base, "rl"), by_kind(knob, "rl")
    assert len(rl_knob) == len(rl_base) == 9 * 2  # 2 priors x 4 rewards + the unclipped arm, 2 seeds
    for label, params in rl_knob.items():
        assert params["lr"] == 1e-5
        orig = rl_base[label.replace("[lr=1e-05]", "")]
        assert {k: v for k, v in params.items() if k != "lr"} == {k: v for k, v in orig.items() if k != "lr"}
    assert {j.key for j in base if j.kind == "pretrain"} == {j.key for j in knob if j.kind == "pretrain"}


def test_a_claims_own_setting_wins_and_overrides_merge():
    lab = Lab(SMOKE, {"lr": 1e-5, "kl_beta": 0.1, "updates_per_batch": "2x3"})
    prior = lab.prior()
    assert lab.rl(prior, 0, lr=1e-4).config.lr == 1e-4  # the condition the claim compares is not overwritten
    cfg = lab.rl(prior, 0, overrides=(("clip", False),)).config
    assert cfg.overrides == (("clip", False), ("kl_beta", 0.1)) and cfg.algo_config().kl_beta == 0.1
    assert lab.rl(prior, 0, overrides=(("kl_beta", 0.0),)).config.overrides == (("kl_beta", 0.0),)
    assert (cfg.minibatches, cfg.epochs) == (2, 3)
    assert (lab.rl(prior, 0, minibatches=1).config.minibatches, lab.rl(prior, 0, minibatches=1).config.epochs) == (1, 1)


def test_updates_per_batch_forms():
    assert updates(freeze({"updates_per_batch": "8"})["updates_per_batch"]) == (8, 1)  # 8 mini-batches, 1 epoch
    assert updates(freeze({"updates_per_batch": "4x2"})["updates_per_batch"]) == (4, 2)
    assert Lab(SMOKE, {"updates_per_batch": 1}).rl(Lab(SMOKE).prior(), 0).config.minibatches == 1


def test_budget_knobs_replace_the_presets_fields():
    lab = Lab(SMOKE, {"rl_steps": 7, "group_size": 2, "size": "s", "tokens": "1_000"})
    assert (lab.b.rl_steps, lab.b.group, lab.b.size, lab.b.tokens) == (7, 2, "s", 1000)
    assert lab.b.name == "smoke" and lab.b.eval_problems == SMOKE.eval_problems
    rl = lab.rl(lab.prior(), 0)
    assert (rl.config.steps, rl.config.group_size, rl.config.ckpt_every) == (7, 2, 3)
    assert (lab.prior().config.size, lab.prior().config.tokens) == ("s", 1000)
    assert lab.rl(lab.prior(), 0, steps=5).config.steps == 5


def test_prior_share_derives_the_mixture_of_priors_that_hold_code():
    lab = Lab(SMOKE, {"prior_share": 0.2})
    assert lab.prior().config.mixture == "code-prior-conf@code=0.2"
    assert lab.prior("balanced").config.mixture == "balanced@code=0.2"
    assert lab.prior("nl-prior").config.mixture == "nl-prior"  # the no-code control stays a control
    # at the preset's own share the cell is the plain retest's job (one cache entry, not two)
    assert Lab(SMOKE, {"prior_share": 0.35}).prior().key == Lab(SMOKE).prior().key


def test_difficulty_moves_the_defaults_not_a_claims_explicit_difficulties():
    lab = Lab(SMOKE, {"difficulty": "4x1"})
    prior = lab.prior()
    assert lab.rl(prior, 0).config.difficulty == "4x1" and lab.snapshot(prior).config.difficulty == "4x1"
    assert lab.srl(prior, 0).config.difficulty == "4x1"
    assert lab.rl(prior, 0, difficulty="3x1").config.difficulty == "3x1"
    assert lab.passk(prior).config.difficulty == SMOKE.passk_difficulty
    assert lab.b.hard_difficulty == "4x1"  # hard-samples' hardest-only arm


def test_rl_knobs_reach_rl_only():
    lab = Lab(SMOKE, {"temperature": 0.7, "entropy_coef": 0.01})
    prior = lab.prior()
    assert lab.rl(prior, 0).config.temperature == 0.7
    assert lab.rl(prior, 0).config.algo_config().entropy_coef == 0.01
    assert lab.snapshot(prior).config.temperature == 1.0  # the verdict's decoding is the protocol's
    assert lab.srl(prior, 0).config == Lab(SMOKE).srl(Lab(SMOKE).prior(), 0).config


@pytest.mark.parametrize("knobs, needle", [
    ({"learning_rate": 1e-5}, "--axis learning_rate: unknown"), ({"lr": "fast"}, "--axis lr: 'fast'"),
    ({"lr": 0}, "must be > 0"), ({"prior_share": 1.5}, "in [0, 1]"), ({"size": "xxl"}, "--axis size"),
    ({"rl_steps": 2.5}, "integer"), ({"difficulty": "3x9"}, "--axis difficulty"),
    ({"updates_per_batch": "4x0"}, "--axis updates_per_batch"), ({"group_size": 1}, ">= 2"),
    ({"kl_beta": -1}, "--axis kl_beta"),
])
def test_bad_knobs_raise_one_line(knobs, needle):
    with pytest.raises(ValueError) as e:
        Lab(SMOKE, knobs)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_every_knob_acts_somewhere():
    """Each knob changes some job of some claim at smoke (none is a dial without a wire)."""
    from priorlab.lab.sweep import closure

    values = {"updates_per_batch": 2, "lr": 1e-5, "temperature": 0.7, "kl_beta": 0.1, "entropy_coef": 0.01,
              "rl_steps": 5, "group_size": 2, "size": "s", "tokens": 1000, "prior_share": 0.2, "difficulty": "4x1",
              "contamination": 0.25}
    assert set(values) == set(KNOBS)
    for name, v in values.items():
        changed = [c for c in CLAIM_IDS
                   if {j.key for j in closure(get_claim(c).jobs(Lab(SMOKE), SEEDS))}
                   != {j.key for j in closure(get_claim(c).jobs(Lab(SMOKE, {name: v}), SEEDS))}]
        assert changed, name
