"""hard-samples: RL on overly hard problems teaches degenerate shortcuts (answer repetition, skipped
computation) that contaminate skills the model already had (Cheng et al. 2026).

Protocol: the default prior; GRPO with the correct reward on the hardest problems only (6 operands)
versus matched-difficulty problems (3 operands). Metric: the shortcut rate on held-out hard problems
after hardest-only RL minus after matched RL (shortcut = any of operand repetition, skipped step,
repeated answer, truncation); the change of accuracy on easy problems (2 operands) is reported beside it.
Verdict: `decide` with δ = 0.02 (two points more shortcuts).
"""

from __future__ import annotations

from priorlab.claims.base import ClaimInfo, Lab, Results, bootstrap, result
from priorlab.lab.plots import plot_conditions
from priorlab.world.tasks import RL_DIFFICULTY

INFO = ClaimInfo(
    id="hard-samples",
    claim="RL on overly hard samples teaches degenerate shortcuts that contaminate skills the model already had.",
    source="Cheng et al. 2026, Mechanistically Interpreting the Role of Sample Difficulty in RLVR for LLMs, "
           "arXiv 2605.28388",
    paper="overly hard problems: weak signal, answer repetition and skipped computation, degraded prior skills "
          "(qualitative; no headline number in the abstract)",
    protocol="default prior; GRPO + correct reward on hardest-only (6x1) vs matched (3x1) problems; shortcut "
             "rates on hard problems; easy (2x1) accuracy before and after",
    metric="shortcut rate after hardest-only RL - after matched RL (on hard problems)",
    rule="reproduced if CI low > 0 and effect >= 0.02; not reproduced if CI high <= 0.02; else inconclusive",
    delta=0.02,
)


def _runs(lab: Lab, seeds):
    prior = lab.prior()
    return (prior, [lab.rl(prior, s, difficulty=lab.b.hard_difficulty) for s in seeds],
            [lab.rl(prior, s, difficulty=RL_DIFFICULTY) for s in seeds])


def jobs(lab: Lab, seeds) -> list:
    prior, hard, matched = _runs(lab, seeds)
    js = []
    for j in [prior, *hard, *matched]:
        js += [lab.snapshot(j, lab.b.hard_difficulty), lab.snapshot(j, lab.b.easy_difficulty)]
    return js


def analyze(lab: Lab, res: Results, seeds) -> dict:
    prior, hard, matched = _runs(lab, seeds)
    hd, ed, nb = lab.b.hard_difficulty, lab.b.easy_difficulty, lab.b.n_boot

    def arr(jobs_, diff, field):
        return res.per_problem([lab.snapshot(j, diff) for j in jobs_], field)

    sc = {"h": arr(hard, hd, "shortcut"), "m": arr(matched, hd, "shortcut"), "b": arr([prior], hd, "shortcut")}
    effect = bootstrap(lambda h, m: h.mean() - m.mean(), {"h": sc["h"], "m": sc["m"]}, nb)
    easy = {"h": arr(hard, ed, "correct"), "m": arr(matched, ed, "correct"), "b": arr([prior], ed, "correct")}
    changes = {
        "shortcuts: hardest-only - base": bootstrap(lambda h, b: h.mean() - b.mean(), {"h": sc["h"], "b": sc["b"]}, nb),
        "shortcuts: matched - base": bootstrap(lambda m, b: m.mean() - b.mean(), {"m": sc["m"], "b": sc["b"]}, nb),
        "easy accuracy: hardest-only - base": bootstrap(lambda h, b: h.mean() - b.mean(), {"h": easy["h"], "b": easy["b"]}, nb),
        "easy accuracy: matched - base": bootstrap(lambda m, b: m.mean() - b.mean(), {"m": easy["m"], "b": easy["b"]}, nb),
    }
    rows = [res.metrics(j) for j in hard]
    metrics = {"shortcut_rate": {k: float(v.mean()) for k, v in sc.items()},
               "easy_accuracy": {k: float(v.mean()) for k, v in easy.items()}, "changes": changes,
               "train_reward_hardest_only_first_last": [rows[0][1]["reward/mean"], rows[0][-1]["reward/mean"]]}
    plot = plot_conditions(changes, res.plots / "hard-samples", ylabel="change vs the prior",
                           title="Hardest-only vs matched-difficulty RL")
    return result(INFO, effect, seeds, metrics, plots=[plot["png"]])
