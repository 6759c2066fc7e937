"""imitation-then-rl: an imitation stage first (SRL: step-wise imitation of expert solutions with a
similarity reward), then RLVR, beats either alone (Deng et al. 2025).

Protocol: the `nl-prior` student (no accurate format; each pretraining seed); RLVR only (GRPO, correct
reward), SRL only (expert code solutions, step-wise SequenceMatcher reward, `srl_steps` steps), SRL then
RLVR, and SFT on expert code traces then RLVR (reported). Metric: accuracy(SRL → RLVR) −
max(accuracy(RLVR only), accuracy(SRL only)) on held-out problems at T = 1 (greedy, the paper's decoding,
reported beside it). δ = 0.02.

Gates (`PROTOCOL`): the paper's mechanism is that SRL teaches the expert's step-wise actions, which RLVR
then refines with the outcome reward (arXiv 2510.25992; its SRL model takes the expert's steps). An
imitation stage after which the student neither writes the expert's format nor computes in it gives RLVR
nothing to refine, so, on the SRL-only students' samples (T = 1, pooled over runs), with the thresholds of
distillation-expands:
- `code_share` >= 0.9: at least 90% of the samples are in the expert's format (code);
- `code_accuracy` >= 0.5: those samples are right more often than not (the expert's are always right; a
  student below one half imitates the steps' form, not their arithmetic).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from priorlab.claims.base import ClaimInfo, Lab, Results, bootstrap, entry
from priorlab.claims.distillation_expands import TEACHER_ACCURACY, TEACHER_SHARE, format_stats
from priorlab.claims.protocol import Gate, Measurement, Protocol
from priorlab.lab.plots import plot_conditions

INFO = ClaimInfo(
    id="imitation-then-rl",
    claim="Imitation first (Supervised RL on expert steps), then RLVR, beats RLVR alone and imitation alone.",
    source="Deng et al. 2025, Supervised Reinforcement Learning: From Expert Trajectories to Step-wise Reasoning, "
           "arXiv 2510.25992",
    paper="AMC23 greedy: base 50.0, SRL 50.0, SRL -> RLVR 57.5 (AIME24 13.3 / 16.7 / 20.0)",
)
PROTOCOL = Protocol(
    claim="imitation-then-rl",
    conditions="nl-prior student (per pretraining seed); RLVR only, SRL only, SRL then RLVR, SFT then RLVR "
               "(expert = gold code solutions)",
    metric="accuracy(SRL -> RLVR) - max(accuracy(RLVR only), accuracy(SRL only)) (T=1)",
    delta=0.02,
    gates=(
        Gate("code_share", ">=", TEACHER_SHARE, "SRL teaches the expert's step-wise actions (2510.25992): at least 90% "
             "of the SRL student's samples are in the expert's format (code)"),
        Gate("code_accuracy", ">=", TEACHER_ACCURACY, "the actions, not their surface: the SRL student's code samples "
             "are right at least half the time (the expert's always are)"),
    ),
)
COMPARED = ("RLVR only", "SRL only", "SRL -> RLVR")


def _runs(lab: Lab, seeds) -> dict:
    """condition -> jobs [prior seed][RL seed] (the prior: [prior seed][1])."""
    students = lab.priors("nl-prior")
    srl = [[lab.srl(p, s) for s in seeds] for p in students]
    sft = [[lab.sft(p, s, "code") for s in seeds] for p in students]
    return {
        "prior": [[p] for p in students],
        "RLVR only": lab.rl_nested(students, seeds),
        "SRL only": srl,
        "SRL -> RLVR": [[lab.rl(j, s, tag=j.label) for j, s in zip(row, seeds)] for row in srl],
        "SFT -> RLVR": [[lab.rl(j, s, tag=j.label) for j, s in zip(row, seeds)] for row in sft],
    }


def _greedy(lab: Lab, job):
    return lab.snapshot(job, samples=1, temperature=0.0)


def jobs(lab: Lab, seeds) -> list:
    """The nl-prior student: RLVR only, SRL only and SRL then RLVR, each evaluated at T=1 and greedy."""
    conds = _runs(lab, seeds)
    js = [lab.snapshot(j) for nested in conds.values() for row in nested for j in row]
    return js + [_greedy(lab, j) for name in COMPARED for row in conds[name] for j in row]


@dataclass
class Data:
    """Per-problem accuracy [A, B, P] of the three compared conditions; the SRL-only students' share of
    code samples and the accuracy of those samples (T = 1)."""

    rl_only: np.ndarray
    srl_only: np.ndarray
    srl_rl: np.ndarray
    code_share: float
    code_accuracy: float


def measure(d: Data, protocol: Protocol = PROTOCOL, n_boot: int = 1000) -> Measurement:
    """The effect acc(SRL → RLVR) − max(acc(RLVR only), acc(SRL only)) with its nested-bootstrap CI, and
    every gate."""
    effect = bootstrap(lambda t, r, s: t.mean() - max(r.mean(), s.mean()),
                       {"t": d.srl_rl, "r": d.rl_only, "s": d.srl_only}, n_boot, delta=protocol.delta)
    gates = protocol.check({"code_share": d.code_share, "code_accuracy": d.code_accuracy})
    return Measurement(effect, gates, {})


def analyze(lab: Lab, res: Results, seeds, protocol: Protocol = PROTOCOL) -> dict:
    """Accuracy of the three arms, the gates on what SRL taught, the figure; the report entry."""
    conds, nb = _runs(lab, seeds), lab.b.n_boot

    def table(nested, snap=lab.snapshot):
        return res.table([[snap(j) for j in row] for row in nested])

    share, acc = format_stats([res.snap(lab.snapshot(j)) for row in conds["SRL only"] for j in row])
    data = Data(table(conds["RLVR only"]), table(conds["SRL only"]), table(conds["SRL -> RLVR"]), share, acc)
    m = measure(data, protocol, nb)
    g = [table(conds[name], lambda j: _greedy(lab, j)) for name in COMPARED]
    greedy = Data(g[0], g[1], g[2], share, acc)
    effect_greedy = measure(greedy, protocol, nb).effect
    accs = {name: bootstrap(lambda a: a.mean(), {"a": table(nested)}, nb) for name, nested in conds.items()}
    m.metrics.update({
        "accuracy": accs, "srl_steps": lab.b.srl_steps, "code_share_after_srl": share, "code_accuracy_after_srl": acc,
        "format_after": {name: dict(zip(("code_share", "code_accuracy"),
                                        format_stats([res.snap(lab.snapshot(j)) for row in conds[name] for j in row])))
                         for name in conds}})
    plot = plot_conditions(accs, res.plots / "imitation-then-rl", ylabel="held-out accuracy (T=1)",
                           title="Imitation, RLVR, and both (nl-prior student)")
    return entry(INFO, protocol, m, seeds, plots=[plot["png"]], effect_greedy=effect_greedy)
