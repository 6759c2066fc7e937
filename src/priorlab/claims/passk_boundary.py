"""passk-boundary: RLVR raises pass@1 but does not expand what the base model can solve: at large k the
base model's pass@k matches or beats the RL model's (Yue et al. 2025).

Protocol: the default prior and its GRPO (correct reward) runs, evaluated with many samples per problem on
harder problems (so that pass@k < 1 leaves room) using the unbiased pass@k estimator. Metric:
pass@K*(base) − pass@K*(RL), K* the largest k at which the base's pass@k is at most 0.95 (see `curves`). Verdict: `decide` with δ = 0 on the large-K difference
(reproduced when the base model's pass@K is significantly higher) — the crossover k is reported.
"""

from __future__ import annotations

import numpy as np

from priorlab.claims.base import ClaimInfo, Lab, Results, bootstrap, result, room
from priorlab.evals.passk import default_ks, passk_curve, passk_matrix
from priorlab.lab.plots import plot_passk

INFO = ClaimInfo(
    id="passk-boundary",
    claim="Base models match or beat their RLVR-trained versions at large k: RLVR narrows coverage instead of "
          "expanding the reasoning boundary.",
    source="Yue et al. 2025, Does Reinforcement Learning Really Incentivize Reasoning Capacity in LLMs Beyond "
           "the Base Model?, arXiv 2504.13837",
    paper="Qwen2.5-7B MATH-500 pass@256: base 96.2 vs GRPO 97.2; Omni-MATH-Train pass@256 67.2 -> 64.3 with longer RL",
    protocol="default prior vs its GRPO (correct reward) runs; unbiased pass@k, k = 1..K, on harder problems",
    metric="pass@K*(base) - pass@K*(RL), K* = largest k with base pass@k <= 0.95",
    rule="reproduced if CI low > 0 (base significantly higher at K); not reproduced if CI high <= 0; else inconclusive",
    delta=0.0,
)


def _runs(lab: Lab, seeds):
    prior = lab.prior()
    return prior, [lab.rl(prior, s) for s in seeds]


def jobs(lab: Lab, seeds) -> list:
    prior, rl_jobs = _runs(lab, seeds)
    return [lab.passk(prior)] + [lab.passk(j) for j in rl_jobs]


ROOM = 0.95  # the compared k is the largest at which the reference's pass@k is at most this


def curves(lab: Lab, res: Results, named: dict) -> tuple[dict, dict, int]:
    """pass@k curves, per-problem pass@K* arrays [S, P] per condition, and K*.

    K* is the largest k at which the first (reference) condition's pass@k is at most ROOM: at a k where
    every model solves every problem, no difference can show, so "large k" means the largest k that
    still leaves room (a rule fixed before looking at the other conditions)."""
    ks = default_ks(lab.b.passk_samples)
    out, mats = {}, {}
    for name, jobs_ in named.items():
        mats[name] = [res.snap(lab.passk(j))["correct"] for j in jobs_]
        out[name] = _curve(mats[name], ks)
    ref = next(iter(out.values()))["mean"]
    k_star = max([k for k, v in zip(ks, ref) if v <= ROOM] or [ks[0]])
    arrays = {name: np.stack([passk_matrix(m, [k_star])[:, 0] for m in ms]) for name, ms in mats.items()}
    return out, arrays, k_star


def _curve(mats: list, ks: list[int]) -> dict:
    """Mean over seeds of each seed's pass@k curve; CI from the seeds' problem-bootstrap bands."""
    cs = [passk_curve(m, ks, n_boot=300) for m in mats]
    return {"k": ks, "mean": list(np.mean([c["mean"] for c in cs], axis=0)),
            "ci_low": list(np.min([c["ci_low"] for c in cs], axis=0)),
            "ci_high": list(np.max([c["ci_high"] for c in cs], axis=0))}


def analyze(lab: Lab, res: Results, seeds) -> dict:
    prior, rl_jobs = _runs(lab, seeds)
    cv, arr, k_star = curves(lab, res, {"base": [prior], "RL (GRPO, correct)": rl_jobs})
    effect = bootstrap(lambda b, r: b.mean() - r.mean(), {"b": arr["base"], "r": arr["RL (GRPO, correct)"]}, lab.b.n_boot)
    diff = np.array(cv["base"]["mean"]) - np.array(cv["RL (GRPO, correct)"]["mean"])
    cross = next((k for k, d in zip(cv["base"]["k"], diff) if d > 0), None) if diff[0] < 0 else None
    metrics = {"k": cv["base"]["k"], "passk_base": cv["base"]["mean"], "passk_rl": cv["RL (GRPO, correct)"]["mean"],
               "crossover_k": cross, "k_compared": k_star, "difficulty": lab.b.passk_difficulty}
    reason = room(float(cv["base"]["mean"][0]), 0.02, 0.98)
    if not reason and cv["base"]["mean"][0] > ROOM:
        reason = f"base pass@1 > {ROOM}: no room to see a boundary at this difficulty"
    plot = plot_passk(cv, res.plots / "passk-boundary", title=f"pass@k, base vs RL ({lab.b.passk_difficulty})")
    return result(INFO, effect, seeds, metrics, verdict="untestable" if reason else None, plots=[plot["png"]],
                  reason=reason)
