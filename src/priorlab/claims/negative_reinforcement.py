"""negative-reinforcement: training only on negative samples (NSR) keeps pass@k at large k (diversity) while
matching GRPO at pass@1; positive-only training (PSR) raises pass@1 but collapses pass@k (Zhu et al. 2025).

Protocol: the `affinity` prior (each pretraining seed; passk-boundary's coverage prior: each format fails
on a problem class the other solves); PSR, NSR, W-REINFORCE (λ = 0.1) and GRPO with the
correct reward; unbiased pass@k from `passk_samples` samples on the harder pass@k problems. Metric:
pass@K*(NSR) − pass@K*(PSR), K* the largest k at which the base's pass@k is at most 0.95 (at larger k
every condition solves every problem; `passk_boundary.k_star`). δ = 0.02. pass@1, pass@K* and the
entropy change of every algorithm are reported beside it.

Gates (`PROTOCOL`), the mechanism the paper names (arXiv 2506.01347 §4): PSR sharpens — it raises the
probability of the samples already right, entropy collapses and with it coverage at large k — while NSR
pushes probability off wrong samples and redistributes it by the prior, improving pass@1 without losing
coverage. So:
- `psr_pass1_gain` >= 0.05 and `psr_entropy_fall` >= 0.05: PSR sharpened (pass@1 up at least 5 points,
  the paper's PSR gained 10.9 on MATH; entropy/all down at least 5% from the first fifth of its steps to
  the last);
- `nsr_pass1_gain` >= 0.05: NSR trained (the paper's NSR gained 12.5 points on MATH); an NSR run that
  left pass@1 where it was keeps the base's pass@k trivially, and the comparison would be base vs PSR
  (passk-boundary's question, not this claim's);
- `k_max` >= 256: the paper's k range (pass@256). `passk_samples` is 256 only in `full`; at `quick` (128)
  and `smoke` (8) the claim is untestable by this gate;
- `base_room` <= 0.95: the base's pass@K* leaves room.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from priorlab.claims import passk_boundary as pb
from priorlab.claims.base import ClaimInfo, Lab, Results, bootstrap, entry
from priorlab.claims.protocol import Gate, Measurement, Protocol
from priorlab.lab.plots import plot_passk

INFO = ClaimInfo(
    id="negative-reinforcement",
    claim="Negative-sample reinforcement alone matches PPO/GRPO and preserves pass@k diversity; positive-only "
          "reinforcement collapses it.",
    source="Zhu et al. 2025, The Surprising Effectiveness of Negative Reinforcement in LLM Reasoning, arXiv 2506.01347",
    paper="Qwen2.5-Math-7B MATH pass@1 -> pass@256: base 63.2 -> 96.9, GRPO 76.3 -> 95.5, PSR 74.1 -> 91.2, "
          "NSR 75.7 -> 96.9, W-REINFORCE 76.6 -> 96.7",
)
PROTOCOL = Protocol(
    claim="negative-reinforcement",
    conditions="affinity prior (per pretraining seed); PSR, NSR, W-REINFORCE (lambda 0.1), GRPO with the correct "
               "reward; n = passk_samples samples on passk_problems problems of passk_difficulty, unbiased pass@k",
    metric="pass@K*(NSR) - pass@K*(PSR), K* = largest k with base pass@k <= 0.95",
    delta=0.02,
    gates=(
        Gate("psr_pass1_gain", ">=", pb.PASS1_GAIN, "PSR must have sharpened (2506.01347 §4): pass@1 up at least 5 points "
             "(the paper's PSR: +10.9 on MATH)"),
        Gate("psr_entropy_fall", ">=", pb.ENTROPY_FALL, "PSR's collapse is an entropy collapse: entropy/all of its samples "
             "fell by at least 5% from the first fifth of the steps to the last"),
        Gate("nsr_pass1_gain", ">=", pb.PASS1_GAIN, "NSR must have trained: pass@1 up at least 5 points (the paper's NSR: "
             "+12.5 on MATH); an NSR run that did not move keeps the base's pass@k trivially"),
        Gate("k_max", ">=", pb.K_PAPER, "the paper's k range: pass@k up to k = 256 (2506.01347 Table 1)"),
        Gate("base_room", "<=", pb.ROOM, "the base's pass@K* must leave room for a difference"),
    ),
)
ALGOS = ("psr", "nsr", "w_reinforce", "grpo")


def _runs(lab: Lab, seeds):
    priors = lab.priors(pb.COVERAGE_PRIOR)
    return priors, {a: lab.rl_nested(priors, seeds, algo=a) for a in ALGOS}


def jobs(lab: Lab, seeds) -> list:
    """The affinity prior and its PSR, NSR, W-REINFORCE and GRPO runs, each with a pass@k evaluation."""
    priors, by_algo = _runs(lab, seeds)
    return [lab.passk(p) for p in priors] + [lab.passk(j) for nested in by_algo.values() for row in nested for j in row]


@dataclass
class Data:
    """Correct samples per problem (of n) on the pass@k problems: base [A, 1, P], PSR and NSR [A, B, P];
    PSR's entropy/all at the first and last fifth of its steps (means over runs)."""

    base: np.ndarray
    psr: np.ndarray
    nsr: np.ndarray
    n: int
    psr_entropy_first: float
    psr_entropy_last: float


def measure(d: Data, protocol: Protocol = PROTOCOL, n_boot: int = 1000) -> Measurement:
    """The effect pass@K*(NSR) − pass@K*(PSR) with its nested-bootstrap CI, and every gate."""
    k = pb.k_star(d.base, d.n)
    effect = bootstrap(lambda s, p: s.mean() - p.mean(), {"s": pb.passk(d.nsr, d.n, k), "p": pb.passk(d.psr, d.n, k)},
                       n_boot, delta=protocol.delta)
    b1 = pb.pass1(d.base, d.n)
    gates = protocol.check({
        "psr_pass1_gain": pb.pass1(d.psr, d.n) - b1, "psr_entropy_fall": pb.fall(d.psr_entropy_first, d.psr_entropy_last),
        "nsr_pass1_gain": pb.pass1(d.nsr, d.n) - b1, "k_max": d.n, "base_room": float(pb.passk(d.base, d.n, k).mean())})
    return Measurement(effect, gates, {"k_compared": k})


def analyze(lab: Lab, res: Results, seeds, protocol: Protocol = PROTOCOL) -> dict:
    """pass@K* of NSR against PSR, every algorithm's pass@1 and entropy change, the gates, the pass@k figure; the
    report entry."""
    priors, by_algo = _runs(lab, seeds)
    base, n = pb.counts(res, [[lab.passk(p)] for p in priors])
    after = {a: pb.counts(res, [[lab.passk(j) for j in row] for row in nested])[0] for a, nested in by_algo.items()}
    ends = {a: pb.entropy_ends([res.metrics(j) for row in nested for j in row]) for a, nested in by_algo.items()}
    m = measure(Data(base, after["psr"], after["nsr"], n, *ends["psr"]), protocol, lab.b.n_boot)
    k = m.metrics["k_compared"]
    named = {"base": base, **{a.upper(): c for a, c in after.items()}}
    m.metrics.update({
        "difficulty": lab.b.passk_difficulty, "n_samples": n,
        **{f"pass@1 {name}": pb.pass1(c, n) for name, c in named.items()},
        **{f"pass@{k} {name}": float(pb.passk(c, n, k).mean()) for name, c in named.items()},
        **{f"pass@{n} {name}": float(pb.passk(c, n, n).mean()) for name, c in named.items()},
        **{f"entropy first -> last {a.upper()}": list(e) for a, e in ends.items()}})
    plot = plot_passk(pb.curves(named, n), res.plots / "negative-reinforcement", title="pass@k by sign of reinforcement")
    return entry(INFO, protocol, m, seeds, plots=[plot["png"]])
