"""two-phase: RL first consolidates execution (the entropy of execution tokens falls), then the bottleneck
moves to planning (the entropy of planning tokens rises); crediting planning tokens (HICRA) beats GRPO
(Wang et al. 2025).

Protocol: the default prior; GRPO and HICRA (α = 0.2 on planning tokens, which the world labels exactly)
with the correct reward. The claim has two parts and the verdict needs both:

1. The order of the phases, from each GRPO run's per-step `entropy/execution` and `entropy/planning`
   (token-weighted means over the step's rollouts). Each series is smoothed by a centred moving average
   over w = 2·floor(T/20) + 1 steps (at least 3; the window shrinks at the ends), T the steps logged.
   - execution stops falling at t_stop = the first step after which the smoothed series never falls more
     than 10% of its range below its value there (its fall is 90% done);
   - planning starts rising at t_rise = the last step at which the smoothed series is within 10% of its
     range above its running minimum (after it the series stays risen: its rise is 10% done).
   A phase counts only if it happened: execution fell by at least 10% of its first smoothed value (first
   value - minimum) and planning rose by at least 10% of its first value (last value - minimum).
   lag = (t_rise - t_stop) / (T - 1), in [-1, 1], and -1 when either phase is absent. Two phases that
   follow each other give lag > 0 (the 10% tolerances sit inside each phase); two that run together
   over the whole run give lag near -0.8.
2. HICRA's gain: accuracy(HICRA) - accuracy(GRPO) on held-out problems at T = 1 (greedy beside it).

Metric: min(gain - 0.02, mean lag over GRPO runs), δ = 0: `reproduced` when both parts hold with the
interval above 0 (HICRA at least 2 points better, planning's rise after execution's fall), `not
reproduced` when the interval excludes that (one part clearly fails). The lag enters the nested bootstrap
as one value per GRPO run (resampled with the runs), the gain per problem.

Gates (`PROTOCOL`), that the phases are measurable and HICRA's mechanism can act: at least 20 steps
logged with both entropies in every GRPO run (a change point located to within a window of T/10 needs
the run to span several windows); planning tokens at least 5% of the GRPO runs' completion tokens
(`tokens/planning`: the planning entropy averages over real tokens, and HICRA has tokens to credit);
HICRA's groups with all-equal rewards at most 80% (averaged over steps: HICRA rescales the advantage,
which is 0 in such a group, so with nothing else its runs equal GRPO's).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from priorlab.claims.base import ClaimInfo, Lab, Results, bootstrap, entry
from priorlab.claims.protocol import Gate, Measurement, Protocol
from priorlab.lab.plots import plot_entropy_by_type

INFO = ClaimInfo(
    id="two-phase",
    claim="RL first fixes execution, then planning becomes the bottleneck; crediting planning tokens (HICRA) "
          "beats GRPO.",
    source="Wang et al. 2025, Emergent Hierarchical Reasoning in LLMs through Reinforcement Learning, arXiv 2509.03646",
    paper="execution-token entropy drops early while planning (strategic-gram) entropy rises; HICRA beats GRPO "
          "on AIME / MATH across models (exact numbers unverified)",
)
GAIN_BY = 0.02  # HICRA's accuracy gain over GRPO that counts
TOL = 0.1  # share of a smoothed series' range within which it has stopped falling / not yet risen
MIN_CHANGE = 0.1  # a phase happened: the series fell / rose by this share of its first value
PROTOCOL = Protocol(
    claim="two-phase",
    conditions="default prior; GRPO vs HICRA (alpha 0.2 on world-labelled planning tokens), correct reward; "
               "per-step entropy of planning and execution tokens in the GRPO runs",
    metric=f"min(accuracy(HICRA) - accuracy(GRPO) - {GAIN_BY:g}, lag), lag = (step planning entropy starts rising "
           "- step execution entropy stops falling) / steps, -1 if either phase is absent (T=1)",
    delta=0.0,
    gates=(
        Gate("steps_logged", ">=", 20, "change points need a series: every GRPO run logs both entropies at >= 20 "
             "steps, so its phases span several smoothing windows (T/10)"),
        Gate("planning_token_share", ">=", 0.05, "the planning entropy must average real tokens and HICRA needs "
             "planning tokens to credit: >= 5% of the GRPO completion tokens"),
        Gate("hicra_groups_all_equal", "<=", 0.8, "HICRA rescales the group advantage, which is 0 when a group's "
             "rewards are all equal: at most 80% such groups in the HICRA runs"),
    ),
)


def smooth(x) -> np.ndarray:
    """Centred moving average over 2·floor(T/20) + 1 steps (at least 3), the window shrunk at the ends."""
    x = np.asarray(x, dtype=float)
    t, h = len(x), max(1, len(x) // 20)
    c = np.concatenate([[0.0], np.cumsum(x)])
    lo, hi = np.clip(np.arange(t) - h, 0, t), np.clip(np.arange(t) + h + 1, 0, t)
    return (c[hi] - c[lo]) / (hi - lo)


def stops_falling(x) -> int | None:
    """The first step after which the smoothed series never falls more than TOL of its range below its value
    there; None if it never fell by MIN_CHANGE of its first value."""
    s = smooth(x)
    if not s[0] - s.min() >= MIN_CHANGE * abs(s[0]):
        return None
    future_min = np.minimum.accumulate(s[::-1])[::-1]
    return int(np.argmax(s - future_min <= TOL * (s.max() - s.min())))


def starts_rising(x) -> int | None:
    """The last step at which the smoothed series is within TOL of its range above its running minimum;
    None if it did not end MIN_CHANGE of its first value above its minimum."""
    s = smooth(x)
    if not s[-1] - s.min() >= MIN_CHANGE * abs(s[0]):
        return None
    past_min = np.minimum.accumulate(s)
    return int(np.nonzero(s - past_min <= TOL * (s.max() - s.min()))[0].max())


def phase_lag(execution, planning) -> float:
    """(t_rise(planning) - t_stop(execution)) / (T - 1); -1 when either phase is absent; NaN if T < 2 or a
    series has a NaN."""
    e, p = np.asarray(execution, dtype=float), np.asarray(planning, dtype=float)
    if len(e) < 2 or len(e) != len(p) or not (np.isfinite(e).all() and np.isfinite(p).all()):
        return float("nan")
    t_stop, t_rise = stops_falling(e), starts_rising(p)
    if t_stop is None or t_rise is None:
        return -1.0
    return (t_rise - t_stop) / (len(e) - 1)


def _runs(lab: Lab, seeds) -> dict:
    priors = lab.priors()
    return {"grpo": lab.rl_nested(priors, seeds), "hicra": lab.rl_nested(priors, seeds, algo="hicra")}


def _greedy(lab: Lab, job):
    return lab.snapshot(job, samples=1, temperature=0.0)


def jobs(lab: Lab, seeds) -> list:
    """The default prior, GRPO and HICRA runs logging planning and execution entropy, and their evaluations."""
    return [s(j) for nested in _runs(lab, seeds).values() for row in nested for j in row
            for s in (lab.snapshot, lambda j: _greedy(lab, j))]


@dataclass
class Data:
    """What `measure` reads: per-problem accuracy [A, B, P] of both arms, the GRPO runs' entropy series
    [A, B, T] and the gates' diagnostics."""

    hicra: np.ndarray
    grpo: np.ndarray
    execution: np.ndarray  # [A, B, T] entropy/execution per logged step, GRPO runs
    planning: np.ndarray  # [A, B, T] entropy/planning
    planning_token_share: float  # tokens/planning, mean over steps and GRPO runs
    hicra_groups_all_equal: float  # adv/frac_groups_all_equal, mean over steps and HICRA runs


def measure(d: Data, protocol: Protocol = PROTOCOL, n_boot: int = 1000) -> Measurement:
    """min(HICRA's gain - GRPO's - GAIN_BY, mean lag) with its nested-bootstrap CI, and every gate."""
    a, b, t = d.execution.shape
    lag = np.array([[phase_lag(d.execution[i, j], d.planning[i, j]) for j in range(b)] for i in range(a)])
    arrays = {"h": d.hicra, "g": d.grpo, "lag": np.broadcast_to(lag[:, :, None], (a, b, d.grpo.shape[2]))}
    effect = bootstrap(lambda h, g, lag: min(h.mean() - g.mean() - GAIN_BY, lag.mean()), arrays, n_boot,
                       delta=protocol.delta)
    gates = protocol.check({"steps_logged": t, "planning_token_share": d.planning_token_share,
                            "hicra_groups_all_equal": d.hicra_groups_all_equal})
    stops = [[stops_falling(d.execution[i, j]) for j in range(b)] for i in range(a)]
    rises = [[starts_rising(d.planning[i, j]) for j in range(b)] for i in range(a)]
    return Measurement(effect, gates, {
        "gain": bootstrap(lambda h, g: h.mean() - g.mean(), {"h": d.hicra, "g": d.grpo}, n_boot),
        "lag": lag.tolist(), "lag_mean": float(lag.mean()),
        "execution_stops_falling": stops, "planning_starts_rising": rises, "steps_logged": t})



def _series(res: Results, nested) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """[A, B, T] execution and planning entropy of runs nested [prior seed][RL seed], T the fewest steps any
    run logged with both (NaN rows dropped), and those steps of the first run."""
    rows = [[[r for r in res.metrics(j) if np.isfinite(r.get("entropy/planning", np.nan))
              and np.isfinite(r.get("entropy/execution", np.nan))] for j in row] for row in nested]
    t = min(len(rr) for row in rows for rr in row)
    ex = np.array([[[r["entropy/execution"] for r in rr[:t]] for rr in row] for row in rows], dtype=float)
    pl = np.array([[[r["entropy/planning"] for r in rr[:t]] for rr in row] for row in rows], dtype=float)
    return ex, pl, [r["step"] for r in rows[0][0][:t]]


def analyze(lab: Lab, res: Results, seeds, protocol: Protocol = PROTOCOL) -> dict:
    """When execution entropy stops falling and planning entropy starts rising, HICRA against GRPO, the gates, the
    entropy figure; the report entry."""
    conds, nb = _runs(lab, seeds), lab.b.n_boot

    def table(nested, snap=lab.snapshot):
        return res.table([[snap(j) for j in row] for row in nested])

    ex, pl, steps = _series(res, conds["grpo"])
    data = Data(hicra=table(conds["hicra"]), grpo=table(conds["grpo"]), execution=ex, planning=pl,
                planning_token_share=res.mean_metric(conds["grpo"], "tokens/planning"),
                hicra_groups_all_equal=res.mean_metric(conds["hicra"], "adv/frac_groups_all_equal"))
    m = measure(data, protocol, nb)
    greedy = Data(**{**data.__dict__, "hicra": table(conds["hicra"], lambda j: _greedy(lab, j)),
                     "grpo": table(conds["grpo"], lambda j: _greedy(lab, j))})
    effect_greedy = measure(greedy, protocol, nb).effect
    m.metrics.update({"accuracy": {"hicra": float(data.hicra.mean()), "grpo": float(data.grpo.mean())},
                      "planning_token_share": data.planning_token_share,
                      "hicra_groups_all_equal": data.hicra_groups_all_equal})
    plot = plot_entropy_by_type(steps, pl.mean(axis=(0, 1)), ex.mean(axis=(0, 1)),
                                res.plots / "two-phase", title="Token entropy during GRPO: planning vs execution")
    return entry(INFO, protocol, m, seeds, plots=[plot["png"]], effect_greedy=effect_greedy)
