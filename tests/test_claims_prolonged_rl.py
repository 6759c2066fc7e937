import numpy as np

from priorlab.claims.base import PRESETS, Lab
from priorlab.claims.prolonged_rl import KL_BETA, PROLONG, PROTOCOL, Data, _runs, measure
from priorlab.claims.protocol import judge

N = 256


def counts(rng, covered, p, b=2, P=120):
    """[A=2, b, P] correct counts of N samples: the first `covered` share of problems at rate p, the rest never."""
    rate = np.where(np.arange(P) < round(covered * P), p, 0.0)
    return rng.binomial(N, np.broadcast_to(rate, (2, b, P)))


def data(rng, base=(0.5, 0.01), short=(0.5, 0.2), long=(0.7, 0.2), resets=3):
    return Data(counts(rng, *base, b=1), counts(rng, *short), counts(rng, *long), N, resets)


def test_reproduced_when_prolonged_rl_covers_problems_neither_base_nor_short_rl_does():
    m = measure(data(np.random.default_rng(0)), n_boot=300)
    assert all(g["passed"] for g in m.gates), m.gates
    assert m.metrics["k_compared"] == N  # the base covers half the problems: its pass@k stays at most 0.95
    assert abs(m.effect["estimate"] - 0.2) < 0.03 and judge(PROTOCOL, m)[0] == "reproduced"


def test_not_reproduced_when_prolonged_rl_only_sharpens():
    m = measure(data(np.random.default_rng(1), long=(0.4, 0.4)), n_boot=300)  # higher pass@1, less coverage
    assert all(g["passed"] for g in m.gates)
    assert m.effect["ci_high"] <= 0 and judge(PROTOCOL, m)[0] == "not reproduced"


def test_untestable_without_resets_or_at_small_k():
    m = measure(data(np.random.default_rng(2), resets=1), n_boot=200)
    verdict, reason = judge(PROTOCOL, m)
    assert verdict == "untestable" and "resets" in reason
    d = data(np.random.default_rng(3))
    m = measure(Data(d.base // 2, d.short // 2, d.long // 2, 128, 3), n_boot=200)
    assert [g["name"] for g in m.gates if not g["passed"]] == ["k_max"]


def test_the_prolonged_arm_is_longer_with_kl_and_resets_and_the_short_arm_is_passk_boundarys():
    from priorlab.claims import passk_boundary

    lab = Lab(PRESETS["quick"])
    priors, short, long = _runs(lab, [0, 1])
    assert short == passk_boundary._runs(lab, [0, 1])[1]
    cfg = long[0][0].config
    assert cfg.steps == PROLONG * 30 and cfg.ref_reset_every == 30 and dict(cfg.overrides)["kl_beta"] == KL_BETA
    mapped = _runs(Lab(PRESETS["quick"], {"kl_beta": 0.1}), [0])[2][0][0].config
    assert dict(mapped.overrides)["kl_beta"] == 0.1
