"""one-shot: RLVR on a single training example activates nearly the whole gain of training on the full
training set (Wang et al. 2025).

Protocol: the default prior (each pretraining seed); GRPO with the correct reward on one example (chosen
per run by the base pass rate closest to 0.5, repeated to fill every batch; the example is in the run's
`data.json`) versus fresh problems every step. Metric: gain(one example) / gain(full set), gain = accuracy
after − before on held-out problems at T = 1 (greedy reported beside it). δ = 0.5: the one example
recovers at least half of the full set's gain (the paper: 73.6 vs 73.6 on MATH500, a ratio of 1).

Gates (`PROTOCOL`), each a precondition of the mechanism the paper describes (arXiv 2504.20571: the
training accuracy on the one example saturates, and test accuracy keeps rising after it,
"post-saturation generalization"):
- the one-shot runs' training accuracy on their example (`correct/mean` of the training rollouts, which
  are all that example) averaged over the last quarter of the steps is at least 0.9: the example was
  fitted, the state after which the paper's gains continue; a run that never fits its example has not
  done what the paper did;
- the same accuracy at the first step (rollouts of the base model) below 0.9: saturation happened during
  RL, not before it (an example the base already solves gives GRPO all-equal groups and nothing to fit);
- the base accuracy inside [0.05, 0.95] (room to move both ways);
- the full-set arm's gain significant (CI low > 0): the ratio's denominator; with an interval that
  reaches 0 the ratio is unbounded and means nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from priorlab.claims.base import ClaimInfo, Lab, Results, bootstrap, entry
from priorlab.claims.protocol import Gate, Measurement, Protocol
from priorlab.lab.plots import plot_conditions

INFO = ClaimInfo(
    id="one-shot",
    claim="RLVR on a single training example recovers most of the gain of RLVR on the full training set.",
    source="Wang et al. 2025, Reinforcement Learning for Reasoning in LLMs with One Training Example, arXiv 2504.20571",
    paper="Qwen2.5-Math-1.5B MATH-500: base 36.0, one example 73.6, 1.2k examples 73.6",
)
SATURATED = 0.9  # training accuracy on the one example that counts as fitted (the paper's reaches ~100%)
PROTOCOL = Protocol(
    claim="one-shot",
    conditions="default prior; GRPO + correct reward on 1 example (base pass rate closest to 0.5, repeated) vs "
               "fresh problems every step",
    metric="gain(one example) / gain(full training set) (T=1)",
    delta=0.5,
    gates=(
        Gate("example_accuracy_end", ">=", SATURATED, "post-saturation generalization (2504.20571): the one-shot "
             "runs must fit their example; training accuracy on it, averaged over the last quarter of the steps "
             "and the runs, at least 0.9 (the paper's reaches ~100% before the test gains that continue after it)"),
        Gate("example_accuracy_first_step", "<", SATURATED, "the example must be fitted by RL, not by pretraining: "
             "its training accuracy at the first step (base-model rollouts) below the saturation level"),
        Gate("base_accuracy_low", ">=", 0.05, "a base accuracy near 0 leaves nothing to activate"),
        Gate("base_accuracy_high", "<=", 0.95, "a base accuracy near 1 leaves no room for a gain"),
        Gate("full_gain_ci_low", ">", 0.0, "the ratio's denominator: the full training set must itself give a "
             "significant gain, else the ratio is unbounded"),
    ),
)


def _runs(lab: Lab, seeds) -> tuple[list, list]:
    """(full-set runs, one-example runs), each [prior seed][RL seed]."""
    priors = lab.priors()
    return lab.rl_nested(priors, seeds), lab.rl_nested(priors, seeds, train_problems=1)


def _greedy(lab: Lab, job):
    return lab.snapshot(job, samples=1, temperature=0.0)


def jobs(lab: Lab, seeds) -> list:
    """The default prior, GRPO on one example and on the full training set, and their evaluations."""
    full, one = _runs(lab, seeds)
    models = lab.priors() + [j for nested in (full, one) for row in nested for j in row]
    return [lab.snapshot(m) for m in models] + [_greedy(lab, m) for m in models]


@dataclass
class Data:
    """What `measure` reads: per-problem accuracy [A, B, P] (base: [A, 1, P]) and the one-shot runs'
    training accuracy on their example."""

    base: np.ndarray
    full: np.ndarray
    one: np.ndarray
    example_accuracy_first_step: float  # mean over one-shot runs of correct/mean at the first training step
    example_accuracy_end: float  # mean over one-shot runs of correct/mean over the last quarter of the steps


def _ratio(f, o, b):
    gf = f.mean() - b.mean()
    return (o.mean() - b.mean()) / gf if abs(gf) > 1e-9 else float("nan")


def measure(d: Data, protocol: Protocol = PROTOCOL, n_boot: int = 1000) -> Measurement:
    """The effect gain(one) / gain(full) with its nested-bootstrap CI, and every gate."""
    effect = bootstrap(_ratio, {"f": d.full, "o": d.one, "b": d.base}, n_boot, delta=protocol.delta)
    gain = {name: bootstrap(lambda a, b: a.mean() - b.mean(), {"a": arr, "b": d.base}, n_boot)
            for name, arr in (("full set", d.full), ("one example", d.one))}
    base_acc = float(d.base.mean())
    gates = protocol.check({
        "example_accuracy_end": d.example_accuracy_end, "example_accuracy_first_step": d.example_accuracy_first_step,
        "base_accuracy_low": base_acc, "base_accuracy_high": base_acc, "full_gain_ci_low": gain["full set"]["ci_low"]})
    return Measurement(effect, gates, {"gain": gain, "base_accuracy": base_acc,
                                       "example_accuracy_first_step": d.example_accuracy_first_step,
                                       "example_accuracy_end": d.example_accuracy_end})


def _train_accuracy(rows: list[dict]) -> list[float]:
    """correct/mean of the training rollouts, in step order (evaluation-only rows left out)."""
    return [r["correct/mean"] for r in sorted(rows, key=lambda r: r["step"]) if "correct/mean" in r]


def example_accuracy(curves: list[list[float]]) -> tuple[float, float, list]:
    """(mean first-step accuracy, mean last-quarter accuracy, first step reaching SATURATED per run) over the
    one-shot runs' training curves; NaN when no run logged a step."""
    curves = [c for c in curves if c]
    if not curves:
        return float("nan"), float("nan"), []
    first = float(np.mean([c[0] for c in curves]))
    end = float(np.mean([np.mean(c[-max(1, len(c) // 4):]) for c in curves]))
    reached = [next((i + 1 for i, a in enumerate(c) if a >= SATURATED), None) for c in curves]
    return first, end, reached


def analyze(lab: Lab, res: Results, seeds, protocol: Protocol = PROTOCOL) -> dict:
    """The ratio of the one-example gain to the full-set gain, the saturation gates, the figure; the report entry."""
    full, one = _runs(lab, seeds)
    nb = lab.b.n_boot

    def table(nested, snap=lab.snapshot):
        return res.table([[snap(j) for j in row] for row in nested])

    base_nested = [[p] for p in lab.priors()]
    first, end, reached = example_accuracy([_train_accuracy(res.metrics(j)) for row in one for j in row])
    data = Data(base=table(base_nested), full=table(full), one=table(one), example_accuracy_first_step=first,
                example_accuracy_end=end)
    m = measure(data, protocol, nb)
    greedy = Data(**{**data.__dict__, **{k: table(v, lambda j: _greedy(lab, j))
                                         for k, v in (("base", base_nested), ("full", full), ("one", one))}})
    effect_greedy = measure(greedy, protocol, nb).effect

    examples = []
    for row in one:
        for j in row:
            p = res.path(j) / "data.json"
            examples.append(json.loads(p.read_text())["pool"][0] if p.exists() else None)
    m.metrics.update({"examples": examples, "first_step_saturated": reached,
                      "accuracy_after": {"full set": float(data.full.mean()), "one example": float(data.one.mean())}})
    plot = plot_conditions(m.metrics["gain"], res.plots / "one-shot", ylabel="accuracy gain",
                           title="One example vs full set")
    return entry(INFO, protocol, m, seeds, plots=[plot["png"]], effect_greedy=effect_greedy)
