"""An example of a claim written outside priorlab: `priorlab retest --claims-from examples/my_claims.py`.

Claim: RLVR with the correct reward raises held-out accuracy at T = 1 by at least 2 points.
"""

from priorlab.claims.base import ClaimInfo, bootstrap, entry
from priorlab.claims.protocol import Gate, Measurement, Protocol

INFO = ClaimInfo(id="correct-reward-helps", claim="RLVR with the correct reward raises held-out accuracy.",
                 source="folklore", paper="-")
PROTOCOL = Protocol(
    claim="correct-reward-helps", conditions="the default prior (each pretraining seed) vs GRPO + correct reward",
    metric="accuracy(RL) - accuracy(base) (T=1)", delta=0.02,
    gates=(Gate("base_accuracy_low", ">=", 0.05, "a prior that never answers right gives GRPO no signal"),
           Gate("base_accuracy_high", "<=", 0.95, "a prior that is always right has no room to gain")),
)


def conditions(lab, seeds):
    """(base, RL): jobs nested [prior seed][run] -- the nested bootstrap's outer and middle levels."""
    priors = lab.priors()
    return [[p] for p in priors], lab.rl_nested(priors, seeds, reward="correct")


def jobs(lab, seeds):
    base, rl = conditions(lab, seeds)
    return [lab.snapshot(j) for nested in (base, rl) for row in nested for j in row]


def measure(base, rl, protocol=PROTOCOL, n_boot=1000):
    """base [A, 1, P], rl [A, B, P]: per-problem accuracy -> the effect with its CI, and the gates."""
    effect = bootstrap(lambda b, r: r.mean() - b.mean(), {"b": base, "r": rl}, n_boot, delta=protocol.delta)
    acc = float(base.mean())
    return Measurement(effect, protocol.check({"base_accuracy_low": acc, "base_accuracy_high": acc}),
                       {"base_accuracy": acc, "rl_accuracy": float(rl.mean())})


def analyze(lab, res, seeds, protocol=PROTOCOL):
    base, rl = conditions(lab, seeds)
    table = lambda nested: res.table([[lab.snapshot(j) for j in row] for row in nested])  # noqa: E731
    return entry(INFO, protocol, measure(table(base), table(rl), protocol, lab.b.n_boot), seeds)
