"""self-correction: RL raises the rate of self-correction traces ("wait, ...") only when the prior already
had them: RL amplifies a behaviour pretraining put there rather than creating it (the Echo-Chamber view,
Zhao et al. 2025, arXiv 2504.07912; on "aha moments" already present in base models, Liu et al. 2025,
arXiv 2503.20783).

The world's self-correction (`world.formats`): a trace writes one step with a wrong result, then `Wait,`
and the same step with the right result; the mixture dial `self_correct` is the share of nl/code
documents that do so. The prior with the dial at `RATE` (the main prior `@self_correct=RATE`) is compared
with the same prior at 0 (the main prior itself, shared with the other claims).

Protocol: each prior (every pretraining seed) and its GRPO runs with the correct reward (default
difficulty); the self-correction rate is the share of completions with at least one correction, per
problem, on the held-out evaluation (eval_problems x eval_samples at T=1) before and after RL. Two clauses,
each signed so that the claim says ">= δ", and the effect is their minimum (inside every bootstrap
replicate):
- amplified: rate after RL − rate before, on the prior with the dial above 0;
- only when present: that rise minus the rise on the prior with the dial at 0 (which has nothing to
  amplify: a rise there would be RL creating the behaviour).
δ = 0.02: two points of completions, a fifth of the dial's 0.1.

Gates (`PROTOCOL`):
- `base_rate_with` >= 0.02: the prior with the dial writes self-corrections when sampled (the smallest rate
  over prior seeds): the manipulation took;
- `base_rate_without` <= 0.005: the prior at 0 (almost) never does (the largest over seeds);
- `groups_all_equal` <= 0.8: GRPO had a gradient in both arms: at the first RL step at most 80% of the
  groups have all-equal rewards (the larger of the two arms' means over runs), as in catalyst.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from priorlab.claims.base import MAIN_PRIOR, ClaimInfo, Lab, Results, bootstrap, entry
from priorlab.claims.protocol import Gate, Measurement, Protocol
from priorlab.lab.plots import plot_conditions

INFO = ClaimInfo(
    id="self-correction",
    claim="RL raises the rate of self-correction traces only when the pretraining prior already had them: it "
          "amplifies the behaviour, it does not create it.",
    source="Zhao et al. 2025, Echo Chamber: RL Post-training Amplifies Behaviors Learned in Pretraining, arXiv "
           "2504.07912; Liu et al. 2025, Understanding R1-Zero-Like Training, arXiv 2503.20783",
    paper="self-reflection ('aha') patterns already occur in base models before RL; RL raises their frequency "
          "(numbers unverified)",
)
RATE = 0.1  # the dial of the prior that has self-correction
PROTOCOL = Protocol(
    claim="self-correction",
    conditions=f"main prior with self_correct = {RATE} vs = 0 (per pretraining seed), each with GRPO (correct "
               "reward); self-correction rate on eval_problems x eval_samples held-out problems at T=1, before "
               "and after RL",
    metric="min(amplified, only when present): amplified = rate(RL|with) - rate(base|with); only when present = "
           "amplified - (rate(RL|without) - rate(base|without))",
    delta=0.02,
    gates=(
        Gate("base_rate_with", ">=", 0.02, "manipulation check: the prior with the dial writes self-corrections "
             "in at least 2% of its samples (smallest over prior seeds)"),
        Gate("base_rate_without", "<=", 0.005, "manipulation check: the prior at 0 writes (almost) none (largest "
             "over prior seeds)"),
        Gate("groups_all_equal", "<=", 0.8, "GRPO needs mixed groups: at the first RL step at most 80% of the "
             "groups have all-equal rewards, in both arms (the larger mean over runs)"),
    ),
)


def mixtures() -> dict[str, str]:
    """The two priors' mixtures: the main prior with the dial at RATE, and at 0 (the main prior itself)."""
    return {"with": f"{MAIN_PRIOR}@self_correct={RATE!r}", "without": MAIN_PRIOR}


def _runs(lab: Lab, seeds) -> dict:
    out = {}
    for arm, mixture in mixtures().items():
        priors = lab.priors(mixture)
        out[arm] = (priors, lab.rl_nested(priors, seeds))
    return out


def jobs(lab: Lab, seeds) -> list:
    """Both priors, their GRPO runs with the correct reward, and their evaluations."""
    js = []
    for priors, nested in _runs(lab, seeds).values():
        js += [lab.snapshot(p) for p in priors] + [lab.snapshot(j) for row in nested for j in row]
    return js


@dataclass
class Data:
    """Per-problem self-correction rates (share of samples with a correction): base [A, 1, P] and RL [A, B, P]
    for the prior with the dial and for the prior at 0; and the first-step all-equal group shares."""

    base_with: np.ndarray
    rl_with: np.ndarray
    base_without: np.ndarray
    rl_without: np.ndarray
    groups_all_equal: float


def _clauses(bw, rw, bo, ro):
    amplified = rw.mean() - bw.mean()
    return amplified, amplified - (ro.mean() - bo.mean())


def measure(d: Data, protocol: Protocol = PROTOCOL, n_boot: int = 1000) -> Measurement:
    """The effect min(amplified, only when present) with its nested-bootstrap CI, each clause's, every gate."""
    arrays = {"bw": d.base_with, "rw": d.rl_with, "bo": d.base_without, "ro": d.rl_without}
    effect = bootstrap(lambda **a: min(_clauses(**a)), arrays, n_boot, delta=protocol.delta)
    clauses = {"amplified": bootstrap(lambda **a: _clauses(**a)[0], arrays, n_boot, delta=protocol.delta),
               "only_when_present": bootstrap(lambda **a: _clauses(**a)[1], arrays, n_boot, delta=protocol.delta)}
    per_seed = lambda a: a.mean(axis=tuple(range(1, a.ndim)))  # noqa: E731
    gates = protocol.check({"base_rate_with": float(np.min(per_seed(d.base_with))),
                            "base_rate_without": float(np.max(per_seed(d.base_without))),
                            "groups_all_equal": d.groups_all_equal})
    rates = {name: float(a.mean()) for name, a in
             (("base_with", d.base_with), ("rl_with", d.rl_with), ("base_without", d.base_without),
              ("rl_without", d.rl_without))}
    return Measurement(effect, gates, {"clauses": clauses, "rates": rates})


def analyze(lab: Lab, res: Results, seeds, protocol: Protocol = PROTOCOL) -> dict:
    """Self-correction rates before and after RL for both priors, the two clauses, the gates, the figure; the
    report entry."""
    runs = _runs(lab, seeds)

    def rates(nested):  # [A, B, P]: per problem, the share of samples with at least one correction
        return np.stack([np.stack([(res.snap(lab.snapshot(j))["corrections"] > 0).mean(axis=1) for j in row])
                         for row in nested])

    def accuracy(nested):
        return float(res.table([[lab.snapshot(j) for j in row] for row in nested]).mean())

    (pw, nw), (po, no) = runs["with"], runs["without"]
    equal = max(res.mean_metric(nw, "adv/frac_groups_all_equal", first_step=True),
                res.mean_metric(no, "adv/frac_groups_all_equal", first_step=True))
    data = Data(rates([[p] for p in pw]), rates(nw), rates([[p] for p in po]), rates(no), groups_all_equal=equal)
    m = measure(data, protocol, lab.b.n_boot)
    m.metrics["accuracy"] = {"base_with": accuracy([[p] for p in pw]), "rl_with": accuracy(nw),
                             "base_without": accuracy([[p] for p in po]), "rl_without": accuracy(no)}
    m.metrics["mixtures"] = mixtures()
    rise = {f"dial {RATE:g}: RL - base": bootstrap(lambda a, b: a.mean() - b.mean(),
                                                   {"a": data.rl_with, "b": data.base_with}, lab.b.n_boot),
            "dial 0: RL - base": bootstrap(lambda a, b: a.mean() - b.mean(),
                                           {"a": data.rl_without, "b": data.base_without}, lab.b.n_boot)}
    plot = plot_conditions(rise, res.plots / "self-correction", reference=protocol.delta,
                           ylabel="change in self-correction rate", title="Self-correction rate, RL - base")
    return entry(INFO, protocol, m, seeds, plots=[plot["png"]])
