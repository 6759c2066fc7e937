"""format-collapse: RL quickly converges on one of the formats in the pretraining mixture and suppresses
the others; which one wins depends on model scale (Echo Chamber, Zhao et al. 2025).

Protocol: the `balanced` prior (equal shares of direct / nl / code) at two model sizes, GRPO with the
correct reward; format shares of sampled solutions over training. Metric (default size): the share of
the winning format (the most common one after RL) after RL minus before. Verdict: `decide` with δ = 0.2
(the winner gains at least 20 points of share). The winner per size is reported beside it.
"""

from __future__ import annotations

import numpy as np

from priorlab.claims.base import ClaimInfo, Lab, Results, bootstrap, result
from priorlab.lab.plots import plot_format_shares
from priorlab.world.formats import FORMATS

INFO = ClaimInfo(
    id="format-collapse",
    claim="RL converges early on one pretraining format and suppresses the others; the winner depends on scale.",
    source="Zhao et al. 2025, Echo Chamber: RL Post-training Amplifies Behaviors Learned in Pretraining, arXiv 2504.07912",
    paper="150M model -> TinyGSM code format, 1B model -> OpenMathInstruct2 natural language, within the first "
          "epoch (numbers unverified)",
    protocol="balanced prior (1/3 direct, nl, code) at two sizes; GRPO + correct reward; format shares over steps",
    metric="share of the winning format after RL - before (default size)",
    rule="reproduced if CI low > 0 and effect >= 0.2; not reproduced if CI high <= 0.2; else inconclusive",
    delta=0.2,
)


def _runs(lab: Lab, seeds):
    return {size: (lab.prior("balanced", size=size), [lab.rl(lab.prior("balanced", size=size), s) for s in seeds])
            for size in dict.fromkeys((lab.b.size, lab.b.small_size))}


def jobs(lab: Lab, seeds) -> list:
    js = []
    for prior, rl_jobs in _runs(lab, seeds).values():
        js += [lab.snapshot(prior)] + [lab.snapshot(j) for j in rl_jobs]
    return js


def analyze(lab: Lab, res: Results, seeds) -> dict:
    metrics, plots, effect = {}, [], None
    for size, (prior, rl_jobs) in _runs(lab, seeds).items():
        after_snaps = [res.snap(lab.snapshot(j)) for j in rl_jobs]
        before = res.snap(lab.snapshot(prior))
        pooled = np.concatenate([s["format"].ravel() for s in after_snaps])
        winner = int(np.bincount(pooled, minlength=len(FORMATS) + 1)[: len(FORMATS)].argmax())
        a = np.stack([(s["format"] == winner).mean(axis=1) for s in after_snaps])
        b = (before["format"] == winner).mean(axis=1)[None]
        e = bootstrap(lambda a, b: a.mean() - b.mean(), {"a": a, "b": b}, lab.b.n_boot)
        rows = [res.metrics(j) for j in rl_jobs]
        steps = [r["step"] for r in rows[0]]
        shares = {f: [float(np.mean([rr[i].get(f"format/{f}", np.nan) for rr in rows])) for i in range(len(steps))]
                  for f in FORMATS if f"format/{f}" in rows[0][-1]}
        first = next((r["step"] for r in rows[0] if r.get(f"format/{FORMATS[winner]}", 0) >= 0.6), None)
        metrics[f"size {size}"] = {"winner": FORMATS[winner], "winner_share_before": float(b.mean()),
                                   "winner_share_after": float(a.mean()), "effect": e,
                                   "first_step_winner_over_60pct": first,
                                   "final_shares": {f: float(np.mean([(s["format"] == i).mean() for s in after_snaps]))
                                                    for i, f in enumerate(FORMATS)}}
        steps_plot = [s for s in steps if s > 0]
        shares_plot = {f: v[len(steps) - len(steps_plot):] for f, v in shares.items()}
        if steps_plot:
            plots.append(plot_format_shares(steps_plot, shares_plot, res.plots / f"format-collapse-{size}",
                                            title=f"Format shares during RL (balanced prior, size {size})")["png"])
        if size == lab.b.size:
            effect = e
    winners = {k: v["winner"] for k, v in metrics.items()}
    metrics["winner_depends_on_size"] = len(set(winners.values())) > 1
    return result(INFO, effect, seeds, metrics, plots=plots)
