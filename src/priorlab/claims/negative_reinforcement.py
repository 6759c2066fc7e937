"""negative-reinforcement: training only on negative samples (NSR) keeps pass@k at large k (diversity) while
matching GRPO at pass@1; positive-only training (PSR) raises pass@1 but collapses pass@k (Zhu et al. 2025).

Protocol: the default prior; PSR, NSR, W-REINFORCE (λ = 0.1) and GRPO with the correct reward; unbiased
pass@k on harder problems. Metric: pass@K(NSR) − pass@K(PSR) at K*, the largest k at which the
reference's pass@k is at most 0.95 (at larger k every condition solves every problem). Verdict: `decide` with
δ = 0.02; pass@1 of every algorithm is reported beside it.
"""

from __future__ import annotations

from priorlab.claims.base import ClaimInfo, Lab, Results, bootstrap, result
from priorlab.claims.passk_boundary import curves
from priorlab.lab.plots import plot_passk

INFO = ClaimInfo(
    id="negative-reinforcement",
    claim="Negative-sample reinforcement alone matches PPO/GRPO and preserves pass@k diversity; positive-only "
          "reinforcement collapses it.",
    source="Zhu et al. 2025, The Surprising Effectiveness of Negative Reinforcement in LLM Reasoning, arXiv 2506.01347",
    paper="Qwen2.5-Math-7B MATH pass@1 -> pass@256: base 63.2 -> 96.9, GRPO 76.3 -> 95.5, PSR 74.1 -> 91.2, "
          "NSR 75.7 -> 96.9, W-REINFORCE 76.6 -> 96.7",
    protocol="default prior; PSR, NSR, W-REINFORCE (lambda 0.1), GRPO with the correct reward; pass@k",
    metric="pass@K*(NSR) - pass@K*(PSR), K* = largest k with base pass@k <= 0.95",
    rule="reproduced if CI low > 0 and effect >= 0.02; not reproduced if CI high <= 0.02; else inconclusive",
    delta=0.02,
)
ALGOS = ("psr", "nsr", "w_reinforce", "grpo")


def _runs(lab: Lab, seeds):
    prior = lab.prior()
    return prior, {a: [lab.rl(prior, s, algo=a) for s in seeds] for a in ALGOS}


def jobs(lab: Lab, seeds) -> list:
    prior, by_algo = _runs(lab, seeds)
    return [lab.passk(prior)] + [lab.passk(j) for js in by_algo.values() for j in js]


def analyze(lab: Lab, res: Results, seeds) -> dict:
    prior, by_algo = _runs(lab, seeds)
    cv, arr, k_star = curves(lab, res, {"base": [prior], **{a.upper(): js for a, js in by_algo.items()}})
    effect = bootstrap(lambda n, p: n.mean() - p.mean(), {"n": arr["NSR"], "p": arr["PSR"]}, lab.b.n_boot)
    metrics = {"k_compared": k_star, "k": cv["base"]["k"], **{f"pass@1 {name}": c["mean"][0] for name, c in cv.items()},
               **{f"pass@{cv['base']['k'][-1]} {name}": c["mean"][-1] for name, c in cv.items()}}
    plot = plot_passk(cv, res.plots / "negative-reinforcement", title="pass@k by sign of reinforcement")
    return result(INFO, effect, seeds, metrics, plots=[plot["png"]])
