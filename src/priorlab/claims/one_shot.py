"""one-shot: RLVR on a single training example activates nearly the whole gain of training on the full
training set (Wang et al. 2025).

Protocol: the default prior; GRPO with the correct reward on one example (chosen by the base pass rate
closest to 0.5, repeated to fill every batch) versus fresh problems every step. Metric: gain(one
example) / gain(full set) on held-out problems. Verdict: `decide` with δ = 0.5.
"""

from __future__ import annotations

from priorlab.claims.base import ClaimInfo, Lab, Results, bootstrap, result, room
from priorlab.lab.plots import plot_conditions

INFO = ClaimInfo(
    id="one-shot",
    claim="RLVR on a single training example recovers most of the gain of RLVR on the full training set.",
    source="Wang et al. 2025, Reinforcement Learning for Reasoning in LLMs with One Training Example, arXiv 2504.20571",
    paper="Qwen2.5-Math-1.5B MATH-500: base 36.0, one example 73.6, 1.2k examples 73.6",
    protocol="default prior; GRPO + correct reward on 1 example (base pass rate closest to 0.5) vs fresh problems",
    metric="gain(one example) / gain(full training set)",
    rule="reproduced if CI low > 0 and ratio >= 0.5; not reproduced if CI high <= 0.5; else inconclusive",
    delta=0.5,
)


def _runs(lab: Lab, seeds):
    prior = lab.prior()
    return ([lab.rl(prior, s) for s in seeds], [lab.rl(prior, s, train_problems=1) for s in seeds])


def jobs(lab: Lab, seeds) -> list:
    full, one = _runs(lab, seeds)
    return [lab.snapshot(lab.prior())] + [lab.snapshot(j) for j in full + one]


def analyze(lab: Lab, res: Results, seeds) -> dict:
    full, one = _runs(lab, seeds)
    b = res.per_problem([lab.snapshot(lab.prior())])
    f = res.per_problem([lab.snapshot(j) for j in full])
    o = res.per_problem([lab.snapshot(j) for j in one])
    nb = lab.b.n_boot
    gains = {"full set": bootstrap(lambda f, b: f.mean() - b.mean(), {"f": f, "b": b}, nb),
             "one example": bootstrap(lambda o, b: o.mean() - b.mean(), {"o": o, "b": b}, nb)}

    def ratio(f, o, b):
        gf = f.mean() - b.mean()
        return (o.mean() - b.mean()) / gf if abs(gf) > 1e-9 else float("nan")

    effect = bootstrap(ratio, {"f": f, "o": o, "b": b}, nb)
    examples = [res.path(j) / "data.json" for j in one]
    import json

    metrics = {"base_accuracy": float(b.mean()), "gain": gains,
               "examples": [json.loads(p.read_text())["pool"][0] for p in examples if p.exists()]}
    reason = room(float(b.mean())) or ("" if gains["full set"]["ci_low"] > 0 else
                                      "full-set RL gave no significant gain: nothing to recover")
    plot = plot_conditions(gains, res.plots / "one-shot", ylabel="accuracy gain", title="One example vs full set")
    return result(INFO, effect, seeds, metrics, verdict="untestable" if reason else None, plots=[plot["png"]],
                  reason=reason)
