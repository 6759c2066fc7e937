import numpy as np
import pytest

from priorlab.claims.base import PRESETS, Lab
from priorlab.claims.contamination import PROTOCOL, Data, contaminated_prior, measure
from priorlab.claims.protocol import judge
from priorlab.world.mixtures import MixtureError, load_mixture

P = 200
HIT = np.arange(P) % 2 == 0  # every other problem contaminated


def acc(rng, hit_mean, clean_mean, b=2):
    """[A=2, b, P] per-problem accuracies (8 samples) with one mean on the contaminated problems, one on the rest."""
    mean = np.where(HIT, hit_mean, clean_mean)
    return rng.binomial(8, np.broadcast_to(mean, (2, b, P))) / 8


def data(rng, base_c=(0.7, 0.4), rl_c=(0.9, 0.4), base_clean=(0.4, 0.4), rl_clean=(0.42, 0.42), clip=0.03):
    return Data(acc(rng, *base_c, b=1), acc(rng, *rl_c), acc(rng, *base_clean, b=1), acc(rng, *rl_clean), HIT, clip)


def test_reproduced_when_only_memorised_problems_gain():
    # contaminated prior: +0.2 on memorised, 0 on clean; clean prior: +0.02 on the same problems
    m = measure(data(np.random.default_rng(0)), n_boot=300)
    assert all(g["passed"] for g in m.gates), m.gates
    c = m.metrics["clauses"]
    assert abs(c["only_memorised"]["estimate"] - 0.2) < 0.05 and abs(c["not_clipping"]["estimate"] - 0.18) < 0.05
    assert judge(PROTOCOL, m)[0] == "reproduced" and m.metrics["n_contaminated"] == P // 2


def test_not_reproduced_when_clean_problems_gain_as_much():
    m = measure(data(np.random.default_rng(1), rl_c=(0.8, 0.55)), n_boot=300)  # +0.1 and +0.15
    assert m.effect["ci_high"] <= PROTOCOL.delta and judge(PROTOCOL, m)[0] == "not reproduced"


def test_not_reproduced_when_the_clean_prior_gains_as_much_through_clipping():
    m = measure(data(np.random.default_rng(2), rl_clean=(0.65, 0.65)), n_boot=300)  # clean prior +0.25
    assert m.metrics["clauses"]["only_memorised"]["ci_low"] > 0.1
    assert judge(PROTOCOL, m)[0] == "not reproduced"


def test_untestable_when_memorisation_did_not_take_or_clipping_never_acted():
    m = measure(data(np.random.default_rng(3), base_c=(0.42, 0.4)), n_boot=200)
    verdict, reason = judge(PROTOCOL, m)
    assert verdict == "untestable" and "memorised_gap" in reason
    m = measure(data(np.random.default_rng(3), base_c=(0.99, 0.4), clip=0.0002), n_boot=200)
    assert [g["name"] for g in m.gates if not g["passed"]] == ["contaminated_room", "clip_frac_clean"]


def test_memorised_gap_subtracts_the_gap_a_clean_prior_shows_on_the_same_split():
    # contaminated prior 0.6 vs 0.4 on its contaminated vs clean problems (+0.2), but the clean prior already
    # shows 0.55 vs 0.4 (+0.15) on the same problems: 0.05 is memorisation, under the 0.1 gate
    base_c = np.where(HIT, 0.6, 0.4)[None, None].repeat(2, 0)
    base_clean = np.where(HIT, 0.55, 0.4)[None, None].repeat(2, 0)
    rl = base_c.repeat(2, 1)
    m = measure(Data(base_c, rl, base_clean, base_clean.repeat(2, 1), HIT, 0.05), n_boot=50)
    gap = next(g for g in m.gates if g["name"] == "memorised_gap")
    assert gap["value"] == pytest.approx(0.05) and not gap["passed"]
    assert m.metrics["base_accuracy_clean_prior"] == {"contaminated": pytest.approx(0.55), "clean": pytest.approx(0.4)}
    assert judge(PROTOCOL, m)[0] == "untestable"


def test_the_split_travels_with_the_resampled_problems():
    # contaminated problems gain exactly +0.2, clean ones exactly 0: every replicate must see 0.2, so the
    # interval is a point; with the mask not resampled alongside, replicates would mix the two
    base = np.where(HIT, 0.5, 0.5)[None, None].repeat(2, 0)
    rl = np.where(HIT, 0.7, 0.5)[None, None].repeat(2, 0).repeat(2, 1)
    m = measure(Data(base, rl, base, base.repeat(2, 1), HIT, 0.05), n_boot=200)
    c = m.metrics["clauses"]["only_memorised"]
    assert c["ci_low"] == pytest.approx(0.2) and c["ci_high"] == pytest.approx(0.2)


def test_the_contaminated_prior_and_its_recipe():
    lab = Lab(PRESETS["smoke"])
    name = contaminated_prior(lab)
    mix = load_mixture(name)
    assert name == "code-prior-conf@contaminate=0.5x16" and mix.contaminate.fraction == 0.5
    assert mix.contaminate.repeats == 16 and mix.formats == load_mixture("code-prior-conf").formats
    assert contaminated_prior(Lab(PRESETS["smoke"], {"contamination": 0.25})).endswith("=0.25x16")
    for bad in ("code-prior-conf@contaminate=0.5", "code-prior-conf@contaminate=2x4", "code-prior-conf@contaminate=ax4"):
        with pytest.raises(MixtureError, match="contaminate"):
            load_mixture(bad)
