"""catalyst: what RL gains tracks the quality of pretraining, not the correctness of the reward or the
amount of RL (after the Interplay of pre-training, mid-training and RL line of work).

Protocol: the default prior pretrained with a fraction (1/6 at `quick`; 1/8, 1/3 at `full`) and the full
token budget (increasing quality),
each trained with GRPO under the correct and the random reward; RL length read at two points of the
same runs (half and all steps). Metric: gain(correct, full budget) − gain(correct, smallest budget),
with the random-reward gains and the half-length gains reported beside it.
Verdict: `decide` with δ = 0.05 (5 accuracy points more gain from the better prior).
"""

from __future__ import annotations

from priorlab.claims.base import ClaimInfo, Lab, Results, bootstrap, result
from priorlab.lab.plots import plot_conditions

INFO = ClaimInfo(
    id="catalyst",
    claim="RL acts as a catalyst: its gains grow with pretraining quality rather than with reward correctness "
          "or RL training volume.",
    source="Interplay of Pre-Training, Mid-Training and RL, arXiv 2512.07783 (candidate source: that this paper "
           "makes the claim is not verified)",
    paper="RL improves pass@128 only where pretraining left headroom at the edge of competence (numbers unverified)",
    protocol="default prior at 1/6 (quick; 1/8, 1/3 at full) and 1x the token budget x rewards correct / random:0.5; RL length: "
             "evaluation at half and all of the steps",
    metric="gain(correct | full budget) - gain(correct | smallest budget)",
    rule="reproduced if CI low > 0 and effect >= 0.05; not reproduced if CI high <= 0.05; else inconclusive",
    delta=0.05,
)
def _grid(lab: Lab, seeds):
    out = {}
    for frac in lab.b.catalyst_fractions:
        prior = lab.prior(tokens=lab.b.tokens // frac)
        for reward in ("correct", "random:0.5"):
            out[(frac, reward)] = (prior, [lab.rl(prior, s, reward=reward) for s in seeds])
    return out


def jobs(lab: Lab, seeds) -> list:
    js = []
    for (frac, reward), (prior, rl_jobs) in _grid(lab, seeds).items():
        js.append(lab.snapshot(prior))
        js += [lab.snapshot(j) for j in rl_jobs]
        if reward == "correct":
            js += [lab.snapshot(j, checkpoint=lab.b.rl_steps // 2) for j in rl_jobs]
    return js


def analyze(lab: Lab, res: Results, seeds) -> dict:
    grid, nb = _grid(lab, seeds), lab.b.n_boot
    arrays, gains, metrics = {}, {}, {}
    for (frac, reward), (prior, rl_jobs) in grid.items():
        before = res.per_problem([lab.snapshot(prior)])
        after = res.per_problem([lab.snapshot(j) for j in rl_jobs])
        label = f"1/{frac} budget | {reward}"
        gains[label] = bootstrap(lambda a, b: a.mean() - b.mean(), {"a": after, "b": before}, nb)
        metrics[label] = {"base_accuracy": float(before.mean()), "accuracy_after": float(after.mean()),
                          "gain": gains[label]}
        if reward == "correct":
            arrays[f"a{frac}"], arrays[f"b{frac}"] = after, before
            half = res.per_problem([lab.snapshot(j, checkpoint=lab.b.rl_steps // 2) for j in rl_jobs])
            metrics[label]["gain_at_half_length"] = float(half.mean() - before.mean())
    lo, hi = max(lab.b.catalyst_fractions), min(lab.b.catalyst_fractions)
    effect = bootstrap(lambda **a: (a[f"a{hi}"].mean() - a[f"b{hi}"].mean()) - (a[f"a{lo}"].mean() - a[f"b{lo}"].mean()),
                       arrays, nb)
    plot = plot_conditions(gains, res.plots / "catalyst", ylabel="accuracy gain", title="RL gain by pretraining budget")
    return result(INFO, effect, seeds, metrics, plots=[plot["png"]])
