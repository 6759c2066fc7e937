"""distillation-expands: distilling a teacher's reasoning pattern into a model expands what it can solve
(pass@k at large k), while RLVR on the same model does not (Yue et al. 2025, §distillation).

Protocol: the `nl-prior` student, which never saw code traces; (a) SFT on world-generated gold `code`
traces (the teacher's pattern), (b) GRPO with the correct reward. Metric: pass@K(distilled) − pass@K(RL)
at K* on harder problems (K*: the largest k at
which the student's pass@k is at most 0.95). Verdict: `decide` with δ = 0.05.
"""

from __future__ import annotations

from priorlab.claims.base import ClaimInfo, Lab, Results, bootstrap, result
from priorlab.claims.passk_boundary import curves
from priorlab.lab.plots import plot_passk

INFO = ClaimInfo(
    id="distillation-expands",
    claim="Distillation transfers new reasoning patterns and expands pass@k at large k; RLVR does not.",
    source="Yue et al. 2025, Does RL Really Incentivize Reasoning Capacity in LLMs Beyond the Base Model?, "
           "arXiv 2504.13837 (distillation comparison)",
    paper="DeepSeek-R1-Distill-Qwen-7B lies above the base at every k, RL models cross below it at large k",
    protocol="nl-prior student (no code traces); SFT on gold code traces vs GRPO + correct reward; pass@k",
    metric="pass@K*(distilled) - pass@K*(RL), K* = largest k with student pass@k <= 0.95",
    rule="reproduced if CI low > 0 and effect >= 0.05; not reproduced if CI high <= 0.05; else inconclusive",
    delta=0.05,
)


def _runs(lab: Lab, seeds):
    student = lab.prior("nl-prior")
    return student, [lab.sft(student, s, "code") for s in seeds], [lab.rl(student, s) for s in seeds]


def jobs(lab: Lab, seeds) -> list:
    student, sft, rl = _runs(lab, seeds)
    return [lab.passk(j) for j in [student, *sft, *rl]]


def analyze(lab: Lab, res: Results, seeds) -> dict:
    student, sft, rl = _runs(lab, seeds)
    cv, arr, k_star = curves(lab, res, {"student (nl-prior)": [student], "distilled (SFT on code)": sft, "RL (GRPO)": rl})
    effect = bootstrap(lambda d, r: d.mean() - r.mean(), {"d": arr["distilled (SFT on code)"], "r": arr["RL (GRPO)"]},
                       lab.b.n_boot)
    metrics = {"k_compared": k_star, "k": cv["RL (GRPO)"]["k"], **{f"passk {name}": c["mean"] for name, c in cv.items()},
               "code_share_after_sft": float(sum((res.snap(lab.passk(j))["format"] == 2).mean() for j in sft) / len(sft))}
    plot = plot_passk(cv, res.plots / "distillation-expands", title="pass@k: distillation vs RL on the nl-prior student")
    return result(INFO, effect, seeds, metrics, plots=[plot["png"]])
