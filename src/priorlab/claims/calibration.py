"""calibration: RL with a binary correctness reward degrades the calibration of verbalised confidence; adding
a Brier term to the reward (RLCR) restores it without hurting accuracy (Damani et al. 2025).

Protocol: the default prior (60% of its documents carry a calibrated `Conf: d` tag); GRPO with the binary
`correct` reward versus the `brier` reward (correctness − (confidence − correctness)²). Metric: ECE of
the binary-reward model minus ECE of the Brier-reward model (10 equal-width bins, on samples that state
a confidence; bootstrap over seeds and problems). Verdict: `decide` with δ = 0.02.
"""

from __future__ import annotations

import numpy as np

from priorlab.claims.base import ClaimInfo, Lab, Results, bootstrap, result
from priorlab.evals.calibration import calibration_report, ece
from priorlab.lab.plots import plot_conditions, plot_reliability

INFO = ClaimInfo(
    id="calibration",
    claim="Binary correctness rewards hurt the calibration of verbalised confidence; a Brier term in the reward "
          "fixes it without losing accuracy.",
    source="Damani et al. 2025, Beyond Binary Rewards: Training LMs to Reason About Their Uncertainty (RLCR), "
           "arXiv 2507.16806",
    paper="HotpotQA ECE 0.37 (RLVR) -> 0.03 (RLCR) with no loss in accuracy",
    protocol="prior with calibrated Conf tags; GRPO + binary correct reward vs brier reward; ECE, Brier, AUROC, accuracy",
    metric="ECE(binary reward) - ECE(Brier reward)",
    rule="reproduced if CI low > 0 and effect >= 0.02; not reproduced if CI high <= 0.02; else inconclusive",
    delta=0.02,
)


def _runs(lab: Lab, seeds):
    prior = lab.prior()
    return prior, [lab.rl(prior, s) for s in seeds], [lab.rl(prior, s, reward="brier") for s in seeds]


def jobs(lab: Lab, seeds) -> list:
    prior, binary, brier = _runs(lab, seeds)
    return [lab.snapshot(j) for j in [prior, *binary, *brier]]


def _stack(res: Results, lab: Lab, jobs_):
    snaps = [res.snap(lab.snapshot(j)) for j in jobs_]
    return (np.stack([s["confidence"] for s in snaps]), np.stack([s["correct"] for s in snaps]).astype(float))


def _ece(conf, corr) -> float:
    mask = np.isfinite(conf)
    return ece(conf[mask], corr[mask]) if mask.sum() >= 10 else float("nan")


def analyze(lab: Lab, res: Results, seeds) -> dict:
    prior, binary, brier = _runs(lab, seeds)
    cb, yb = _stack(res, lab, binary)
    cr, yr = _stack(res, lab, brier)
    c0, y0 = _stack(res, lab, [prior])
    effect = bootstrap(lambda cb, yb, cr, yr: _ece(cb, yb) - _ece(cr, yr),
                       {"cb": cb, "yb": yb, "cr": cr, "yr": yr}, lab.b.n_boot)
    metrics, tables = {}, {}
    for name, (c, y) in {"prior": (c0, y0), "binary reward": (cb, yb), "brier reward": (cr, yr)}.items():
        conf = [None if not np.isfinite(v) else float(v) for v in c.ravel()]
        rep = calibration_report(conf, y.ravel().astype(bool).tolist())
        metrics[name] = {k: rep[k] for k in ("ece", "brier", "auroc", "accuracy", "n_missing", "n_scored", "mean_conf")}
        tables[name] = rep
    eces = {name: bootstrap(lambda c, y: _ece(c, y), {"c": c, "y": y}, lab.b.n_boot)
            for name, (c, y) in {"prior": (c0, y0), "binary reward": (cb, yb), "brier reward": (cr, yr)}.items()}
    metrics["ece_ci"] = eces
    reason = ""
    if metrics["prior"]["n_scored"] < 20:
        reason = "the prior states a confidence too rarely to measure calibration"
    plots = [plot_conditions(eces, res.plots / "calibration-ece", ylabel="ECE (lower is better)",
                             title="Calibration error by reward")["png"]]
    for name in ("binary reward", "brier reward"):
        if tables[name]["n_scored"]:
            plots.append(plot_reliability(tables[name], res.plots / f"calibration-{name.split()[0]}",
                                          title=f"Reliability after RL ({name})", ece=tables[name]["ece"])["png"])
    return result(INFO, effect, seeds, metrics, verdict="untestable" if reason else None, plots=plots, reason=reason)
