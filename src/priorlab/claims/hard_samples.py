"""hard-samples: RL on overly hard problems teaches degenerate shortcuts (answer repetition, skipped
computation) that contaminate skills the model already had (Cheng et al. 2026).

Mechanism (arXiv 2605.28388, as summarised in research/seed-papers.md §7): on a problem the model nearly
always fails, the rare success in a group is often a shortcut or a lucky guess, and the group-normalised
advantage makes it the exemplar for the whole group. "Overly hard" there means a near-zero base pass rate.

Protocol: the default prior; GRPO with the correct reward on the hard set only (`Budget.hard_difficulty`:
6 operands of 2 digits at every preset: the prior saw only 1-digit operands, so it is expected to fail
nearly always, which the first gate checks) versus matched-difficulty problems (3x1). Metric: the shortcut
rate on held-out hard problems after hard-only RL minus after matched RL, at T = 1, a shortcut being any
of operand repetition, skipped step, repeated answer or truncation (`evals.shortcuts`), counted whether
the answer comes out right or wrong (a copied operand that happens to be the answer is the rare success
the mechanism needs). δ = 0.02 (two points more shortcuts). The change of accuracy on easy problems
(2x1), the prior's skill that hard-only RL is said to contaminate, is reported beside it, as are both
arms' shortcut rates against the prior's and the share of shortcuts that were correct.

Gates (`PROTOCOL`): the hard set's base pass rate (the prior's accuracy at T = 1 on held-out hard
problems) at most 0.10, so that nearly all rollouts fail (at most 1 in 10: the paper's "overly hard",
near-zero pass rate); at least 5% of the hard-only runs' groups with unequal rewards (averaged over steps:
the rare success must occur, else GRPO has no gradient and can teach nothing, shortcuts included); the
matched set's base pass rate at least 0.20 (it must not itself be overly hard, or the contrast measures
nothing; the paper's easy and medium sets are where gains are strongest).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from priorlab.claims.base import ClaimInfo, Lab, Results, bootstrap, entry
from priorlab.claims.protocol import Gate, Measurement, Protocol
from priorlab.evals.shortcuts import operand_answer_share
from priorlab.evals.world_eval import problem_set
from priorlab.lab.plots import plot_conditions
from priorlab.world.tasks import RL_DIFFICULTY

INFO = ClaimInfo(
    id="hard-samples",
    claim="RL on overly hard samples teaches degenerate shortcuts that contaminate skills the model already had.",
    source="Cheng et al. 2026, Mechanistically Interpreting the Role of Sample Difficulty in RLVR for LLMs, "
           "arXiv 2605.28388",
    paper="overly hard problems: weak signal, answer repetition and skipped computation, degraded prior skills "
          "(qualitative; no headline number in the abstract)",
)
PROTOCOL = Protocol(
    claim="hard-samples",
    conditions="default prior; GRPO + correct reward on hard-only problems (Budget.hard_difficulty) vs matched "
               "(3x1) problems; shortcut rates on held-out hard problems; easy (2x1) accuracy before and after",
    metric="shortcut rate (any detector, right or wrong answers) on held-out hard problems after hard-only RL - "
           "after matched RL (T=1)",
    delta=0.02,
    gates=(
        Gate("hard_base_pass_rate", "<=", 0.10, "overly hard means nearly all rollouts fail (2605.28388: near-zero "
             "base pass rate): the prior's accuracy on the hard set at most 1 in 10"),
        Gate("hard_signal_groups", ">=", 0.05, "the rare success must occur: at least 5% of the hard-only runs' groups "
             "have unequal rewards (else GRPO has no gradient and teaches nothing)"),
        Gate("matched_base_pass_rate", ">=", 0.20, "the matched set must not be overly hard itself (easy and medium "
             "problems give the strongest gains), else the contrast measures nothing"),
    ),
)


def _conditions(lab: Lab, seeds):
    """priors, hard-only and matched RL runs [prior seed][RL seed]."""
    priors = lab.priors()
    return (priors, lab.rl_nested(priors, seeds, difficulty=lab.b.hard_difficulty),
            lab.rl_nested(priors, seeds, difficulty=RL_DIFFICULTY))


def jobs(lab: Lab, seeds) -> list:
    """The default prior, GRPO on the hardest problems only and on matched problems, and their shortcut evaluations."""
    priors, hard, matched = _conditions(lab, seeds)
    js = [lab.snapshot(p, RL_DIFFICULTY) for p in priors]  # the matched set's base pass rate
    for j in [*priors, *(r for rows in (hard, matched) for row in rows for r in row)]:
        js += [lab.snapshot(j, lab.b.hard_difficulty), lab.snapshot(j, lab.b.easy_difficulty)]
    return js


@dataclass
class Data:
    """What `measure` reads: per-problem shortcut rates on held-out hard problems [A, B, P] and the gates'
    diagnostics."""

    shortcut_hard: np.ndarray  # after hard-only RL
    shortcut_matched: np.ndarray  # after matched RL
    hard_base_pass_rate: float  # the prior's accuracy (T=1) on the held-out hard problems
    matched_base_pass_rate: float  # ... on held-out matched-difficulty problems
    hard_signal_groups: float  # 1 - adv/frac_groups_all_equal, mean over steps and hard-only runs


def measure(d: Data, protocol: Protocol = PROTOCOL, n_boot: int = 1000) -> Measurement:
    """The shortcut-rate difference with its nested-bootstrap CI, and every gate."""
    effect = bootstrap(lambda h, m: h.mean() - m.mean(), {"h": d.shortcut_hard, "m": d.shortcut_matched}, n_boot,
                       delta=protocol.delta)
    gates = protocol.check({"hard_base_pass_rate": d.hard_base_pass_rate, "hard_signal_groups": d.hard_signal_groups,
                            "matched_base_pass_rate": d.matched_base_pass_rate})
    return Measurement(effect, gates, {"shortcut_rate": {"hard_only": float(d.shortcut_hard.mean()),
                                                          "matched": float(d.shortcut_matched.mean())}})



def analyze(lab: Lab, res: Results, seeds, protocol: Protocol = PROTOCOL) -> dict:
    """Shortcut rates on held-out hard problems after each arm, the gates, the figure; the report entry."""
    priors, hard, matched = _conditions(lab, seeds)
    hd, ed, nb = lab.b.hard_difficulty, lab.b.easy_difficulty, lab.b.n_boot

    def table(nested, diff, field):
        return res.table([[lab.snapshot(j, diff) for j in row] for row in nested], field)

    base = [[p] for p in priors]
    data = Data(shortcut_hard=table(hard, hd, "shortcut"), shortcut_matched=table(matched, hd, "shortcut"),
                hard_base_pass_rate=float(table(base, hd, "correct").mean()),
                matched_base_pass_rate=float(table(base, RL_DIFFICULTY, "correct").mean()),
                hard_signal_groups=1 - res.mean_metric(hard, "adv/frac_groups_all_equal"))
    m = measure(data, protocol, nb)

    def diff(a, b):
        return bootstrap(lambda x, y: x.mean() - y.mean(), {"x": a, "y": b}, nb)

    sc_base, easy_base = table(base, hd, "shortcut"), table(base, ed, "correct")
    changes = {
        "shortcuts: hard-only - base": diff(data.shortcut_hard, sc_base),
        "shortcuts: matched - base": diff(data.shortcut_matched, sc_base),
        "easy accuracy: hard-only - base": diff(table(hard, ed, "correct"), easy_base),
        "easy accuracy: matched - base": diff(table(matched, ed, "correct"), easy_base),
    }

    def correct_share(nested, diff_):  # share of shortcut samples whose answer was right
        s = [res.snap(lab.snapshot(j, diff_)) for row in nested for j in row]
        n = sum(int(x["shortcut"].sum()) for x in s)
        return sum(int((x["shortcut"] & x["correct"]).sum()) for x in s) / n if n else None

    m.metrics["shortcut_rate"]["base"] = float(sc_base.mean())
    m.metrics.update({
        "changes": changes, "base_pass_rate": {"hard": data.hard_base_pass_rate, "matched": data.matched_base_pass_rate},
        "hard_signal_groups": data.hard_signal_groups,
        "easy_accuracy": {"base": float(easy_base.mean()), "hard_only": float(table(hard, ed, "correct").mean()),
                          "matched": float(table(matched, ed, "correct").mean())},
        "shortcuts_correct_share": {"base": correct_share(base, hd), "hard_only": correct_share(hard, hd),
                                    "matched": correct_share(matched, hd)},
        "operand_answer_share_hard": operand_answer_share(
            problem_set(hd, lab.b.eval_problems, 0)),
        "train_correct_hard_only_first_last": [_step_metric(res, hard, "correct/mean", 0),
                                               _step_metric(res, hard, "correct/mean", -1)]})
    plot = plot_conditions(changes, res.plots / "hard-samples", ylabel="change vs the prior",
                           title="Hard-only vs matched-difficulty RL")
    return entry(INFO, protocol, m, seeds, plots=[plot["png"]])


def _step_metric(res: Results, nested, key: str, i: int) -> float:
    """`key` at step index i (0 first, -1 last), mean over runs."""
    vals = [[r[key] for r in res.metrics(j) if key in r] for row in nested for j in row]
    return float(np.mean([v[i] for v in vals if v])) if any(vals) else float("nan")
