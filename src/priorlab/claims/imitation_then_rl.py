"""imitation-then-rl: an imitation stage first (SRL: step-wise imitation of expert solutions with a
similarity reward), then RLVR, beats either alone (Deng et al. 2025).

Protocol: the `nl-prior` student (no accurate format); RLVR only (GRPO, correct reward), SRL only (expert
code solutions, step-wise SequenceMatcher reward), SRL then RLVR, and SFT on expert code traces then
RLVR. Metric: accuracy(SRL → RLVR) − max(accuracy(RLVR only), accuracy(SRL only)).
Verdict: `decide` with δ = 0.02.
"""

from __future__ import annotations

from priorlab.claims.base import ClaimInfo, Lab, Results, bootstrap, result
from priorlab.lab.plots import plot_conditions

INFO = ClaimInfo(
    id="imitation-then-rl",
    claim="Imitation first (Supervised RL on expert steps), then RLVR, beats RLVR alone and imitation alone.",
    source="Deng et al. 2025, Supervised Reinforcement Learning: From Expert Trajectories to Step-wise Reasoning, "
           "arXiv 2510.25992",
    paper="AMC23 greedy: base 50.0, SRL 50.0, SRL -> RLVR 57.5 (AIME24 13.3 / 16.7 / 20.0)",
    protocol="nl-prior student; RLVR only, SRL only, SRL then RLVR, SFT then RLVR (expert = gold code solutions)",
    metric="accuracy(SRL -> RLVR) - max(accuracy(RLVR only), accuracy(SRL only))",
    rule="reproduced if CI low > 0 and effect >= 0.02; not reproduced if CI high <= 0.02; else inconclusive",
    delta=0.02,
)


def _runs(lab: Lab, seeds):
    student = lab.prior("nl-prior")
    srl = [lab.srl(student, s) for s in seeds]
    sft = [lab.sft(student, s, "code") for s in seeds]
    return {
        "prior": [student],
        "RLVR only": [lab.rl(student, s) for s in seeds],
        "SRL only": srl,
        "SRL -> RLVR": [lab.rl(j, s, tag=j.label) for j, s in zip(srl, seeds)],
        "SFT -> RLVR": [lab.rl(j, s, tag=j.label) for j, s in zip(sft, seeds)],
    }


def jobs(lab: Lab, seeds) -> list:
    return [lab.snapshot(j) for js in _runs(lab, seeds).values() for j in js]


def analyze(lab: Lab, res: Results, seeds) -> dict:
    conds = _runs(lab, seeds)
    acc = {name: res.per_problem([lab.snapshot(j) for j in js]) for name, js in conds.items()}
    nb = lab.b.n_boot
    effect = bootstrap(lambda t, r, s: t.mean() - max(r.mean(), s.mean()),
                       {"t": acc["SRL -> RLVR"], "r": acc["RLVR only"], "s": acc["SRL only"]}, nb)
    accs = {name: bootstrap(lambda a: a.mean(), {"a": a}, nb) for name, a in acc.items()}
    metrics = {"accuracy": accs}
    plot = plot_conditions(accs, res.plots / "imitation-then-rl", ylabel="held-out accuracy (T=1)",
                           title="Imitation, RLVR, and both (nl-prior student)")
    return result(INFO, effect, seeds, metrics, plots=[plot["png"]])
