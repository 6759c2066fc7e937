"""spurious-rewards: random / incorrect / format rewards lift a model nearly as much as the correct reward
when pretraining left an accurate behaviour to surface, and not otherwise (Shao et al. 2025).

Protocol: two priors — `code-prior-conf` (accurate code traces as a latent minority) and `nl-prior` (no
accurate format) — each trained with GRPO (ε = 0.2, 4 mini-batches per rollout batch so the ratio leaves
1 and clipping can act) under the correct, random (p = 0.5), incorrect and format rewards; plus the
mechanism check the paper relies on: the random reward without clipping. Metric: the accuracy gain of
the random reward as a fraction of the correct reward's gain on the prior with an accurate format,
gain = accuracy after − before on held-out problems at T = 1.
Verdict: `decide` with δ = 0.5 (random recovers at least half of the correct reward's gain).
"""

from __future__ import annotations

from priorlab.claims.base import ClaimInfo, Lab, Results, bootstrap, result, room
from priorlab.lab.plots import plot_conditions
from priorlab.world.formats import FORMATS

INFO = ClaimInfo(
    id="spurious-rewards",
    claim="Random, incorrect or format-only rewards lift a model nearly as much as the correct reward when its "
          "pretraining holds an accurate latent behaviour, and not when it does not.",
    source="Shao et al. 2025, Spurious Rewards: Rethinking Training Signals in RLVR, arXiv 2506.10947",
    paper="Qwen2.5-Math-7B on MATH-500: +29.1 (ground truth), +21.4 (random, 74% of it), +24.1 (incorrect), "
          "+13.8 (format); code-reasoning frequency 65% -> >90%; gains vanish without clipping",
    protocol="priors code-prior-conf (accurate code traces) and nl-prior (none) x rewards correct / random:0.5 / "
             "incorrect / format, GRPO eps 0.2 with 4 mini-batches; unclipped random-reward ablation",
    metric="gain(random) / gain(correct) on the prior with an accurate format",
    rule="reproduced if CI low > 0 and ratio >= 0.5; not reproduced if CI high <= 0.5; else inconclusive",
    delta=0.5,
)
REWARDS = ("correct", "random:0.5", "incorrect", "format")


def _conditions(lab: Lab, seeds):
    out = {}
    for prior_name in ("code-prior-conf", "nl-prior"):
        prior = lab.prior(prior_name)
        for reward in REWARDS:
            out[(prior_name, reward)] = [lab.rl(prior, s, reward=reward) for s in seeds]
    code = lab.prior("code-prior-conf")
    out[("code-prior-conf", "random:0.5 unclipped")] = [lab.rl(code, s, reward="random:0.5",
                                                               overrides=(("clip", False),)) for s in seeds]
    return out


def jobs(lab: Lab, seeds) -> list:
    js = []
    for prior_name in ("code-prior-conf", "nl-prior"):
        js.append(lab.snapshot(lab.prior(prior_name)))
    for runs_ in _conditions(lab, seeds).values():
        js += [lab.snapshot(r) for r in runs_]
    return js


def analyze(lab: Lab, res: Results, seeds) -> dict:
    conds = _conditions(lab, seeds)
    base = {name: res.per_problem([lab.snapshot(lab.prior(name))]) for name in ("code-prior-conf", "nl-prior")}
    reason = room(float(base["code-prior-conf"].mean()))
    metrics, gains = {"base_accuracy": {k: float(v.mean()) for k, v in base.items()}}, {}
    for (prior_name, reward), rl_jobs in conds.items():
        after = res.per_problem([lab.snapshot(j) for j in rl_jobs])
        g = bootstrap(lambda a, b: a.mean() - b.mean(), {"a": after, "b": base[prior_name]}, lab.b.n_boot)
        gains[f"{prior_name} | {reward}"] = g
        shares = {}
        for f_i, f in enumerate(FORMATS):
            shares[f] = float(sum((res.snap(lab.snapshot(j))["format"] == f_i).mean() for j in rl_jobs) / len(rl_jobs))
        metrics[f"{prior_name} | {reward}"] = {"gain": g, "accuracy_after": float(after.mean()), "format_shares": shares}
        clip = [res.metrics(j)[-1].get("loss/clip_frac", 0.0) for j in rl_jobs]
        metrics[f"{prior_name} | {reward}"]["clip_frac_last_step"] = float(sum(clip) / len(clip))
    for prior_name in ("code-prior-conf", "nl-prior"):
        snap = res.snap(lab.snapshot(lab.prior(prior_name)))
        metrics.setdefault("base_format_shares", {})[prior_name] = {
            f: float((snap["format"] == i).mean()) for i, f in enumerate(FORMATS)}
    code_before = base["code-prior-conf"]
    arrays = {"c": res.per_problem([lab.snapshot(j) for j in conds[("code-prior-conf", "correct")]]),
              "r": res.per_problem([lab.snapshot(j) for j in conds[("code-prior-conf", "random:0.5")]]),
              "b": code_before}

    def ratio(c, r, b):
        gc = c.mean() - b.mean()
        return (r.mean() - b.mean()) / gc if abs(gc) > 1e-9 else float("nan")

    effect = bootstrap(ratio, arrays, lab.b.n_boot)
    if not reason and gains["code-prior-conf | correct"]["ci_low"] <= 0:
        reason = "the correct reward itself gave no significant gain: no gain to compare spurious rewards with"
    plot = plot_conditions(gains, res.plots / "spurious-rewards", ylabel="accuracy gain (after - before)",
                           title="Accuracy gain by reward and prior")
    return result(INFO, effect, seeds, metrics, verdict="untestable" if reason else None, plots=[plot["png"]],
                  reason=reason)
