import numpy as np
import pytest

from priorlab.claims.passk_boundary import PROTOCOL, Data, entropy_ends, fall, k_star, measure, passk
from priorlab.claims.protocol import judge


def counts(rng, easy, hard, n=256, b=2, a=2, p=200):
    """Correct samples of n per problem [a, b, p]: the first half of the problems solved with probability
    `easy` per sample, the second half with `hard`."""
    probs = np.where(np.arange(p) < p // 2, easy, hard)
    return rng.binomial(n, np.broadcast_to(probs, (a, b, p)))


def data(rng, rl=(0.6, 0.0), base=(0.3, 0.01), n=256, **kw):
    d = dict(base=counts(rng, *base, n=n, b=1), rl=counts(rng, *rl, n=n), n=n, entropy_first=1.0, entropy_last=0.7)
    return Data(**{**d, **kw})


def test_helpers_by_hand():
    # 2 of 4 samples right: pass@2 = 1 - C(2, 2) / C(4, 2) = 1 - 1/6
    assert passk(np.array([2]), 4, 2)[0] == pytest.approx(5 / 6)
    # every problem 1 of 4 right: pass@1 .25, pass@2 = 1 - C(3, 2)/C(4, 2) = .5, pass@4 = 1 -> K* = 2
    assert k_star(np.ones((1, 1, 5), dtype=int), 4) == 2
    assert k_star(np.full((1, 1, 5), 4), 4) == 1  # every sample right: no k leaves room, the smallest is taken
    # steps 1..10: the first fifth (2 steps) averages 1.5, the last 9.5; rows without the metric are skipped
    rows = [{"step": 0, "eval/acc": 0.5}] + [{"step": s, "entropy/all": float(s)} for s in range(1, 11)]
    assert entropy_ends([rows, rows]) == (1.5, 9.5)
    assert fall(2.0, 1.5) == pytest.approx(0.25)


def test_measure_reproduced_when_rl_sharpens_and_loses_the_hard_problems():
    # base: easy .3, hard .01 -> pass@256 ~ .96 > .95, so K* = 128 (hard: 1 - .99^128 ~ .72; mean ~ .86);
    # RL: easy .6, hard 0 -> pass@128 = .5: the base is ~.36 above, pass@1 .155 -> .3
    m = measure(data(np.random.default_rng(0)), n_boot=300)
    assert all(g["passed"] for g in m.gates)
    assert m.metrics["k_compared"] == 128 and m.metrics["crossover_k"] is not None
    assert abs(m.effect["estimate"] - 0.36) < 0.05
    assert judge(PROTOCOL, m)[0] == "reproduced"


def test_measure_not_reproduced_when_rl_covers_everything_the_base_does():
    m = measure(data(np.random.default_rng(1), rl=(0.6, 0.03)), n_boot=300)
    assert all(g["passed"] for g in m.gates)
    assert m.effect["ci_high"] <= 0
    assert judge(PROTOCOL, m)[0] == "not reproduced"


@pytest.mark.parametrize("kw, gate, value", [
    (dict(rl=(0.3, 0.01)), "rl_pass1_gain", None),  # RL did not move pass@1
    (dict(entropy_first=1.0, entropy_last=0.98), "rl_entropy_fall", "0.02"),  # entropy barely fell
    (dict(n=128), "k_max", "128"),  # the quick preset's passk_samples: short of k = 256
    (dict(base=(0.99, 0.99), rl=(1.0, 1.0)), "base_room", None),  # base pass@1 .99: no room at any k
])
def test_measure_untestable_names_the_failed_gate(kw, gate, value):
    m = measure(data(np.random.default_rng(2), **kw), n_boot=100)
    verdict, reason = judge(PROTOCOL, m)
    assert verdict == "untestable" and f"gate {gate}:" in reason
    assert value is None or f"measured {value}" in reason
