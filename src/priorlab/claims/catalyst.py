"""catalyst: what RL gains tracks the quality of pretraining, not the correctness of the reward or the
amount of RL (after the Interplay of pre-training, mid-training and RL line of work).

Protocol: the default prior pretrained with a fraction 1/f of the token budget for each f in the preset's
`catalyst_fractions` (1/6 and 1 at `quick`; 1/8, 1/3 and 1 at `full`: increasing quality), each trained
with GRPO under the correct and the random (p = 0.5) reward; RL volume read at two points of the
correct-reward runs (half and all of the steps). Gains are accuracy after − before on held-out problems
at T = 1 (greedy reported beside it); "worst" and "best" are the smallest and the full budget.

The claim has three clauses, and the verdict reads all three. Each is a difference of gains in accuracy
points, signed so that the claim says "≥ δ", and the effect is their minimum (computed inside every
bootstrap replicate, so its interval is the minimum's):
- headroom: gain(correct, best) − gain(correct, worst): RL gains more on the better prior;
- not reward correctness: gain(random, best) − gain(correct, worst). In the 2 x 2 design prior quality x
  reward, the main effect of quality minus the main effect of reward correctness is exactly this
  ([(c_b − c_w) + (r_b − r_w)] / 2 − [(c_b − r_b) + (c_w − r_w)] / 2 = r_b − c_w): pretraining matters more
  than the reward when the better prior under a random reward still out-gains the worse prior under the
  correct one;
- not training volume: gain(correct at half the steps, best) − gain(correct, worst), the same identity in
  the 2 x 2 design prior quality x RL length.
Hence effect = min(gain(correct, best), gain(random, best), gain(correct half, best)) − gain(correct,
worst): the better prior out-gains the worse one with the correct reward and full RL even when it gets a
random reward or half the RL. δ = 0.05 for each clause (5 accuracy points). A clause that fails (e.g. a
random reward that lowers accuracy) makes the verdict `not reproduced` whatever the other two say; the
three clause effects are reported beside it with their intervals. (Later work bears on the second clause:
on a clean synthetic arithmetic benchmark only the correct reward helped, arXiv 2507.10532.)

Gates (`PROTOCOL`):
- every prior's base pass rate inside the range where GRPO gets a gradient: at the first RL step (rollouts
  of the base model) of its correct-reward runs at most 80% of the groups have all-equal rewards (the
  largest share over the priors is the gate's value): a group of equal rewards has zero advantage, so a prior almost always
  right or almost always wrong gives RL nothing to amplify (arXiv 2512.07783: RL gains need data at the
  model's edge of competence);
- the pretraining budgets gave priors of different quality: base accuracy of the best prior minus the
  worst significantly above 0 (CI low > 0), else the quality dial did not move;
- the random reward can act: its clip fraction on the best prior at least 1% of tokens, averaged over
  steps and runs (under a random reward, clipping bias is the only source of a systematic gain, Shao et
  al. 2025, arXiv 2506.10947 §4; the same threshold as spurious-rewards).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from priorlab.claims.base import ClaimInfo, Lab, Results, bootstrap, entry
from priorlab.claims.protocol import Gate, Measurement, Protocol
from priorlab.lab.plots import plot_conditions

INFO = ClaimInfo(
    id="catalyst",
    claim="RL acts as a catalyst: its gains grow with pretraining quality rather than with reward correctness "
          "or RL training volume.",
    source="Interplay of Pre-Training, Mid-Training and RL, arXiv 2512.07783 (candidate source: that this paper "
           "makes the claim is not verified)",
    paper="RL improves pass@128 only where pretraining left headroom at the edge of competence (numbers unverified)",
)
PROTOCOL = Protocol(
    claim="catalyst",
    conditions="default prior at 1/f of the token budget (f in catalyst_fractions) x rewards correct / random:0.5; "
               "correct-reward runs also read at half of the steps",
    metric="min(gain(correct|best), gain(random|best), gain(correct, half steps|best)) - gain(correct|worst) "
           "(T=1): headroom, not-reward-correctness and not-training-volume clauses, each >= delta",
    delta=0.05,
    gates=(
        Gate("groups_all_equal_max", "<=", 0.8, "GRPO learns nothing from a group whose rewards are all equal: "
             "every prior's base pass rate must leave at least a fifth of the groups mixed (first RL step of its "
             "correct-reward runs; the worst prior's value); RL gains need data at the edge of competence "
             "(2512.07783)"),
        Gate("quality_gap_ci_low", ">", 0.0, "the pretraining budgets must give priors of different quality: base "
             "accuracy of the best prior minus the worst, CI low above 0"),
        Gate("clip_frac_random", ">=", 0.01, "the random reward's only systematic effect is clipping bias "
             "(2506.10947 §4): its arm on the best prior must clip at least 1% of tokens, averaged over steps"),
    ),
)
REWARDS = ("correct", "random:0.5")


def _budgets(lab: Lab) -> list[int]:
    """The fractions f (budget tokens / f), worst prior first."""
    return sorted(set(lab.b.catalyst_fractions), reverse=True)


def _grid(lab: Lab, seeds) -> dict:
    """(f, reward) -> (priors, RL jobs [prior seed][RL seed])."""
    out = {}
    for frac in _budgets(lab):
        priors = lab.priors(tokens=lab.b.tokens // frac)
        for reward in REWARDS:
            out[(frac, reward)] = (priors, lab.rl_nested(priors, seeds, reward=reward))
    return out


def _half(lab: Lab, job, **kw):
    return lab.snapshot(job, checkpoint=lab.b.rl_steps // 2, **kw)


def _greedy(lab: Lab, job, **kw):
    return lab.snapshot(job, samples=1, temperature=0.0, **kw)


def jobs(lab: Lab, seeds) -> list:
    """Priors at each pretraining budget, their GRPO runs under the correct and the random reward, and the
    evaluations the three clauses read (half-length and greedy included)."""
    grid, js = _grid(lab, seeds), []
    worst, best = _budgets(lab)[0], _budgets(lab)[-1]
    for (frac, reward), (priors, nested) in grid.items():
        runs = [j for row in nested for j in row]
        js += [lab.snapshot(p) for p in priors] + [lab.snapshot(j) for j in runs]
        if reward == "correct":
            js += [_half(lab, j) for j in runs]
        if frac in (worst, best):  # the runs the effect reads, again at greedy decoding
            js += [_greedy(lab, p) for p in priors]
            if reward == "correct" or frac == best:
                js += [_greedy(lab, j) for j in runs]
            if reward == "correct" and frac == best:
                js += [_greedy(lab, j, checkpoint=lab.b.rl_steps // 2) for j in runs]
    return js


@dataclass
class Data:
    """What `measure` reads: per-problem accuracy [A, B, P] (priors: [A, 1, P]) of the worst and best priors
    and their runs, and the mechanism's diagnostics."""

    base_worst: np.ndarray
    base_best: np.ndarray
    correct_worst: np.ndarray
    correct_best: np.ndarray
    random_best: np.ndarray
    half_best: np.ndarray  # the best prior's correct-reward runs at half of the steps
    groups_all_equal_max: float  # max over priors of the mean first-step adv/frac_groups_all_equal (correct reward)
    clip_frac_random: float  # mean over steps and runs of loss/clip_frac, random arm on the best prior


def _gain(a, b):
    return a.mean() - b.mean()


CLAUSES = {  # clause -> fn of the Data arrays, each signed so that the claim says >= delta
    "headroom": lambda bw, bb, cw, cb, rb, hb: _gain(cb, bb) - _gain(cw, bw),
    "not_reward_correctness": lambda bw, bb, cw, cb, rb, hb: _gain(rb, bb) - _gain(cw, bw),
    "not_training_volume": lambda bw, bb, cw, cb, rb, hb: _gain(hb, bb) - _gain(cw, bw),
}


def _combined(**a):
    return min(fn(**a) for fn in CLAUSES.values())


def measure(d: Data, protocol: Protocol = PROTOCOL, n_boot: int = 1000) -> Measurement:
    """The effect min over the three clauses with its nested-bootstrap CI, each clause's own CI, and every gate."""
    arrays = {"bw": d.base_worst, "bb": d.base_best, "cw": d.correct_worst, "cb": d.correct_best,
              "rb": d.random_best, "hb": d.half_best}
    effect = bootstrap(_combined, arrays, n_boot, delta=protocol.delta)
    clauses = {name: bootstrap(fn, arrays, n_boot, delta=protocol.delta) for name, fn in CLAUSES.items()}
    gap = bootstrap(lambda bb, bw: bb.mean() - bw.mean(), {"bb": d.base_best, "bw": d.base_worst}, n_boot)
    gates = protocol.check({"groups_all_equal_max": d.groups_all_equal_max, "quality_gap_ci_low": gap["ci_low"],
                            "clip_frac_random": d.clip_frac_random})
    return Measurement(effect, gates, {"clauses": clauses, "quality_gap": gap,
                                       "base_accuracy": {"worst": float(d.base_worst.mean()),
                                                         "best": float(d.base_best.mean())}})



def analyze(lab: Lab, res: Results, seeds, protocol: Protocol = PROTOCOL) -> dict:
    """The three clauses, their minimum and every gate from the finished runs; the gain and clause figures; the
    report entry."""
    grid, nb = _grid(lab, seeds), lab.b.n_boot
    worst, best = _budgets(lab)[0], _budgets(lab)[-1]

    def table(nested, snap=lab.snapshot):
        return res.table([[snap(j) for j in row] for row in nested])

    def base(frac, snap=lab.snapshot):
        return table([[p] for p in grid[(frac, "correct")][0]], snap)

    all_equal = {f"1/{frac}": res.mean_metric(grid[(frac, "correct")][1], "adv/frac_groups_all_equal",
                                           first_step=True) for frac in _budgets(lab)}
    data = Data(base_worst=base(worst), base_best=base(best), correct_worst=table(grid[(worst, "correct")][1]),
                correct_best=table(grid[(best, "correct")][1]), random_best=table(grid[(best, "random:0.5")][1]),
                half_best=table(grid[(best, "correct")][1], lambda j: _half(lab, j)),
                groups_all_equal_max=float(np.max(list(all_equal.values()))),  # NaN fails
                clip_frac_random=res.mean_metric(grid[(best, "random:0.5")][1], "loss/clip_frac"))
    m = measure(data, protocol, nb)

    def greedy(j):
        return _greedy(lab, j)

    gd = Data(**{**data.__dict__, "base_worst": base(worst, greedy), "base_best": base(best, greedy),
                 "correct_worst": table(grid[(worst, "correct")][1], greedy),
                 "correct_best": table(grid[(best, "correct")][1], greedy),
                 "random_best": table(grid[(best, "random:0.5")][1], greedy),
                 "half_best": table(grid[(best, "correct")][1],
                                    lambda j: _greedy(lab, j, checkpoint=lab.b.rl_steps // 2))})
    effect_greedy = measure(gd, protocol, nb).effect

    gains = {}
    for (frac, reward), (priors, nested) in grid.items():
        before, after = base(frac), table(nested)
        label = f"1/{frac} budget | {reward}"
        gains[label] = bootstrap(_gain, {"a": after, "b": before}, nb)
        m.metrics[label] = {"base_accuracy": float(before.mean()), "accuracy_after": float(after.mean()),
                            "gain": gains[label]}
        if reward == "correct":
            half = table(nested, lambda j: _half(lab, j))
            m.metrics[label]["gain_at_half_length"] = bootstrap(_gain, {"a": half, "b": before}, nb)
    m.metrics["groups_all_equal_first_step"] = all_equal
    m.metrics["clip_frac_random_best"] = data.clip_frac_random
    plot = plot_conditions(gains, res.plots / "catalyst", ylabel="accuracy gain", title="RL gain by pretraining budget")
    clause_plot = plot_conditions(m.metrics["clauses"], res.plots / "catalyst-clauses", reference=protocol.delta,
                                  ylabel="clause effect (>= delta: the claim)", title="The catalyst claim's clauses")
    return entry(INFO, protocol, m, seeds, plots=[plot["png"], clause_plot["png"]], effect_greedy=effect_greedy)
