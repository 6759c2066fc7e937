import numpy as np
import pytest

from priorlab.claims.negative_reinforcement import PROTOCOL, Data, measure
from priorlab.claims.protocol import judge


def counts(rng, easy, hard, n=256, b=2, a=2, p=200):
    """Correct samples of n per problem [a, b, p]: the first half of the problems solved with probability
    `easy` per sample, the second half with `hard`."""
    probs = np.where(np.arange(p) < p // 2, easy, hard)
    return rng.binomial(n, np.broadcast_to(probs, (a, b, p)))


def data(rng, psr=(0.6, 0.0), nsr=(0.45, 0.02), base=(0.3, 0.01), n=256, **kw):
    d = dict(base=counts(rng, *base, n=n, b=1), psr=counts(rng, *psr, n=n), nsr=counts(rng, *nsr, n=n), n=n,
             psr_entropy_first=1.0, psr_entropy_last=0.6)
    return Data(**{**d, **kw})


def test_measure_reproduced_when_nsr_keeps_the_hard_problems_psr_drops():
    # base pass@1 .155 (K* = 128, as in test_claims_passk_boundary); PSR .3, NSR .235: both trained.
    # pass@128 on the hard half: NSR 1 - .98^128 ~ .92, PSR 0; the easy half is 1 for both -> ~ +.46
    m = measure(data(np.random.default_rng(0)), n_boot=300)
    assert all(g["passed"] for g in m.gates) and m.metrics["k_compared"] == 128
    assert abs(m.effect["estimate"] - 0.46) < 0.05
    assert judge(PROTOCOL, m)[0] == "reproduced"


def test_measure_not_reproduced_when_nsr_covers_less_than_psr():
    # hard half: NSR .005 (pass@128 ~ .47), PSR .02 (~ .92) -> NSR below PSR
    m = measure(data(np.random.default_rng(1), nsr=(0.6, 0.005), psr=(0.6, 0.02)), n_boot=300)
    assert all(g["passed"] for g in m.gates)
    assert m.effect["ci_high"] <= 0.02
    assert judge(PROTOCOL, m)[0] == "not reproduced"


@pytest.mark.parametrize("kw, gate", [
    (dict(psr=(0.3, 0.01)), "psr_pass1_gain"),  # PSR did not sharpen
    (dict(psr_entropy_first=1.0, psr_entropy_last=0.99), "psr_entropy_fall"),
    (dict(nsr=(0.3, 0.01)), "nsr_pass1_gain"),  # NSR did not train: it would keep the base's pass@k trivially
    (dict(n=128), "k_max"),  # the quick preset's passk_samples
    (dict(base=(0.99, 0.99), psr=(1.0, 1.0), nsr=(1.0, 1.0)), "base_room"),
])
def test_measure_untestable_names_the_failed_gate(kw, gate):
    m = measure(data(np.random.default_rng(2), **kw), n_boot=100)
    verdict, reason = judge(PROTOCOL, m)
    assert verdict == "untestable" and f"gate {gate}:" in reason
    if gate != "base_room":  # there, the pass@1 gains fail too (no room to gain)
        assert [g["name"] for g in m.gates if not g["passed"]] == [gate]
