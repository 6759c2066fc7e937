"""spurious-rewards: random / incorrect / format rewards lift a model nearly as much as the correct reward
when pretraining left an accurate behaviour to surface, and not otherwise (Shao et al. 2025).

Protocol: two priors — `code-prior-conf` (accurate code traces as a latent minority) and `nl-prior` (no
accurate format) — each trained with GRPO (ε = 0.2, 4 mini-batches per rollout batch so the ratio leaves
1 and clipping can act) under the correct, random (p = 0.5), incorrect and format rewards; plus the
mechanism's ablation: the random reward without clipping. Metric: the accuracy gain of the random reward
as a fraction of the correct reward's gain on the prior with an accurate format, gain = accuracy after −
before on held-out problems at T = 1 (greedy reported beside it). δ = 0.5.

Gates (`PROTOCOL`), each a precondition of the mechanism the paper names (clipping bias under a random
reward concentrates probability on the prior's own mode, arXiv 2506.10947 §4; Chen et al. 2512.16912):
the clipped arm's clip fraction (averaged over its steps) at least 1% of tokens, and the unclipped
ablation's would-clip fraction as large, so that removing the clip removes something; the accurate
format present in the prior's samples (at least 5%: a latent minority, as Qwen2.5-Math's code reasoning
is before RL); the base accuracy inside [0.05, 0.95] (room to move); the format reward not constant
within most groups (at most 80% all-equal groups, else GRPO has no gradient from it); and the correct
reward's own gain significant (CI low > 0), the ratio's denominator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from priorlab.claims.base import ClaimInfo, Lab, Results, bootstrap, entry
from priorlab.claims.protocol import Gate, Measurement, Protocol
from priorlab.lab.plots import plot_conditions
from priorlab.world.formats import FORMATS

INFO = ClaimInfo(
    id="spurious-rewards",
    claim="Random, incorrect or format-only rewards lift a model nearly as much as the correct reward when its "
          "pretraining holds an accurate latent behaviour, and not when it does not.",
    source="Shao et al. 2025, Spurious Rewards: Rethinking Training Signals in RLVR, arXiv 2506.10947",
    paper="Qwen2.5-Math-7B on MATH-500: +29.1 (ground truth), +21.4 (random, 74% of it), +24.1 (incorrect), "
          "+13.8 (format); code-reasoning frequency 65% -> >90%; gains vanish without clipping",
)
PROTOCOL = Protocol(
    claim="spurious-rewards",
    conditions="priors code-prior-conf (accurate code traces) and nl-prior (none) x rewards correct / random:0.5 / "
               "incorrect / format, GRPO eps 0.2 with 4 mini-batches; unclipped random-reward ablation",
    metric="gain(random) / gain(correct) on the prior with an accurate format (T=1)",
    delta=0.5,
    gates=(
        Gate("clip_frac_random", ">=", 0.01, "clipping bias is the mechanism (2506.10947 §4): the clipped random-reward "
             "arm must clip at least 1% of tokens, averaged over its steps"),
        Gate("would_clip_frac_unclipped", ">=", 0.01, "the ablation must remove clipping that would have acted: its "
             "ratios leave [1-eps, 1+eps] on at least 1% of tokens"),
        Gate("accurate_format_share", ">=", 0.05, "the latent accurate behaviour (code) must be in the prior's samples"),
        Gate("base_accuracy_low", ">=", 0.05, "a base accuracy near 0 leaves no behaviour to surface"),
        Gate("base_accuracy_high", "<=", 0.95, "a base accuracy near 1 leaves no room for a gain"),
        Gate("format_groups_all_equal", "<=", 0.8, "GRPO learns nothing from a group whose rewards are all equal: the "
             "format reward must vary within at least a fifth of the groups"),
        Gate("correct_gain_ci_low", ">", 0.0, "the ratio's denominator: the correct reward must itself give a "
             "significant gain"),
    ),
)
REWARDS = ("correct", "random:0.5", "incorrect", "format")
UNCLIPPED = "random:0.5 unclipped"


def _conditions(lab: Lab, seeds) -> dict:
    """(prior name, reward) -> RL jobs [prior seed][RL seed]."""
    out = {}
    for prior_name in ("code-prior-conf", "nl-prior"):
        for reward in REWARDS:
            out[(prior_name, reward)] = lab.rl_nested(lab.priors(prior_name), seeds, reward=reward)
    out[("code-prior-conf", UNCLIPPED)] = lab.rl_nested(lab.priors("code-prior-conf"), seeds, reward="random:0.5",
                                                        overrides=(("clip", False),))
    return out


def _greedy(lab: Lab, job):
    return lab.snapshot(job, samples=1, temperature=0.0)


def jobs(lab: Lab, seeds) -> list:
    """Both priors under the correct, random, incorrect and format rewards, the unclipped ablation, and their
    evaluations (greedy where the effect reads it)."""
    js = []
    for prior_name in ("code-prior-conf", "nl-prior"):
        js += [lab.snapshot(p) for p in lab.priors(prior_name)]
    js += [_greedy(lab, p) for p in lab.priors("code-prior-conf")]
    for (prior_name, reward), nested in _conditions(lab, seeds).items():
        js += [lab.snapshot(r) for row in nested for r in row]
        if prior_name == "code-prior-conf" and reward in ("correct", "random:0.5"):
            js += [_greedy(lab, r) for row in nested for r in row]
    return js


@dataclass
class Data:
    """What `measure` reads: per-problem accuracy [A, B, P] (base: [A, 1, P]) on the accurate-format prior,
    and the mechanism's diagnostics."""

    base: np.ndarray
    correct: np.ndarray
    random: np.ndarray
    clip_frac_random: float  # mean over steps and runs of loss/clip_frac, clipped random arm
    would_clip_frac_unclipped: float  # the same in the unclipped arm (ratios outside the band)
    accurate_format_share: float  # share of the prior's samples in the accurate format
    format_groups_all_equal: float  # mean over steps and runs of adv/frac_groups_all_equal, format arm


def _ratio(c, r, b):
    gc = c.mean() - b.mean()
    return (r.mean() - b.mean()) / gc if abs(gc) > 1e-9 else float("nan")


def measure(d: Data, protocol: Protocol = PROTOCOL, n_boot: int = 1000) -> Measurement:
    """The effect gain(random) / gain(correct) with its nested-bootstrap CI, and every gate."""
    effect = bootstrap(_ratio, {"c": d.correct, "r": d.random, "b": d.base}, n_boot, delta=protocol.delta)
    gain_c = bootstrap(lambda c, b: c.mean() - b.mean(), {"c": d.correct, "b": d.base}, n_boot)
    base_acc = float(d.base.mean())
    gates = protocol.check({
        "clip_frac_random": d.clip_frac_random, "would_clip_frac_unclipped": d.would_clip_frac_unclipped,
        "accurate_format_share": d.accurate_format_share, "base_accuracy_low": base_acc, "base_accuracy_high": base_acc,
        "format_groups_all_equal": d.format_groups_all_equal, "correct_gain_ci_low": gain_c["ci_low"]})
    return Measurement(effect, gates, {"gain_correct": gain_c, "base_accuracy": base_acc})



def analyze(lab: Lab, res: Results, seeds, protocol: Protocol = PROTOCOL) -> dict:
    """The random-to-correct gain ratio, the clipping and format gates, every condition's gain and format shares,
    the figure; the report entry."""
    conds, nb = _conditions(lab, seeds), lab.b.n_boot
    code_priors = lab.priors("code-prior-conf")

    def table(nested, snap=lab.snapshot):
        return res.table([[snap(j) for j in row] for row in nested])

    base = {name: table([[p] for p in lab.priors(name)]) for name in ("code-prior-conf", "nl-prior")}
    code_fmt = FORMATS.index("code")
    share = float(np.mean([(res.snap(lab.snapshot(p))["format"] == code_fmt).mean() for p in code_priors]))
    data = Data(base=base["code-prior-conf"], correct=table(conds[("code-prior-conf", "correct")]),
                random=table(conds[("code-prior-conf", "random:0.5")]),
                clip_frac_random=res.mean_metric(conds[("code-prior-conf", "random:0.5")], "loss/clip_frac"),
                would_clip_frac_unclipped=res.mean_metric(conds[("code-prior-conf", UNCLIPPED)], "loss/clip_frac"),
                accurate_format_share=share,
                format_groups_all_equal=res.mean_metric(conds[("code-prior-conf", "format")], "adv/frac_groups_all_equal"))
    m = measure(data, protocol, nb)
    greedy = Data(**{**data.__dict__, "base": table([[p] for p in code_priors], lambda j: _greedy(lab, j)),
                     "correct": table(conds[("code-prior-conf", "correct")], lambda j: _greedy(lab, j)),
                     "random": table(conds[("code-prior-conf", "random:0.5")], lambda j: _greedy(lab, j))})
    effect_greedy = measure(greedy, protocol, nb).effect

    gains = {}
    for (prior_name, reward), nested in conds.items():
        after = table(nested)
        g = bootstrap(lambda a, b: a.mean() - b.mean(), {"a": after, "b": base[prior_name]}, nb)
        gains[f"{prior_name} | {reward}"] = g
        snaps = [res.snap(lab.snapshot(j)) for row in nested for j in row]
        m.metrics[f"{prior_name} | {reward}"] = {
            "gain": g, "accuracy_after": float(after.mean()),
            "format_shares": {f: float(np.mean([(s["format"] == i).mean() for s in snaps])) for i, f in enumerate(FORMATS)},
            "clip_frac_mean": res.mean_metric(nested, "loss/clip_frac"),
            "groups_all_equal_mean": res.mean_metric(nested, "adv/frac_groups_all_equal")}
    m.metrics["base_format_shares"] = {
        name: {f: float(np.mean([(res.snap(lab.snapshot(p))["format"] == i).mean() for p in lab.priors(name)]))
               for i, f in enumerate(FORMATS)} for name in ("code-prior-conf", "nl-prior")}
    plot = plot_conditions(gains, res.plots / "spurious-rewards", ylabel="accuracy gain (after - before)",
                           title="Accuracy gain by reward and prior")
    return entry(INFO, protocol, m, seeds, plots=[plot["png"]], effect_greedy=effect_greedy)
