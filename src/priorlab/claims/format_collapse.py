"""format-collapse: RL quickly converges on one of the formats in the pretraining mixture and suppresses
the others; which one wins depends on model scale (Echo Chamber, Zhao et al. 2025).

Protocol: the `balanced` prior (equal shares of direct / nl / code) at two model sizes (the preset's `size`,
"large", and `small_size`), GRPO with the correct reward; format shares of sampled solutions on held-out
problems before and after RL (T = 1).

The winner of each size is chosen before the evaluated runs are read, by a held-out RL run per prior
seed (RL seed `HELDOUT_SEED`, never one of the evaluated seeds): the format with the largest share of
its training rollouts (train split) over the last quarter of its steps, pooled over the prior seeds.
Choosing the winner as the most common format after RL in the evaluated runs themselves would bias the
effect upwards (the maximum of three noisy shares exceeds a third even with no collapse), so the held-out
run says which format RL converges on and the evaluated runs measure whether it does so reproducibly.

Both halves of the claim enter the verdict; each is a share difference signed so that the claim says ≥ δ,
and the effect is their minimum (inside every bootstrap replicate):
- collapse, at each size: share of that size's winner after RL − before (two terms);
- the winner depends on scale: min(share_large(w_large) − share_large(w_small), share_small(w_small) −
  share_small(w_large)) after RL: each size's winner beats the other size's winner at its own size. When the
  held-out runs pick the same format at both sizes this is exactly 0 and the verdict is `not reproduced`.
δ = 0.2 (the winner gains 20 points of share, and leads the other size's winner by 20 points). How early
the winner passes 60% of the training rollouts ("within the first epoch" in the paper) is reported, not
judged.

Gates (`PROTOCOL`), each a precondition of the mechanism (RL amplifies one of several formats the prior
already produces, arXiv 2504.07912):
- two scales: the large size has at least twice the non-embedding parameters (n_layer x n_embd²) of the
  small one (the paper compares 150M and 1B, 6.7x); the `smoke` preset's single size fails it;
- a competition to resolve: at each size the prior's second most common format is at least 10% of its
  samples (the smaller size's value);
- room to collapse: each size's winner holds at most 1 − δ = 0.8 of the prior's samples, so a gain of δ is
  possible (the larger size's value);
- GRPO gets a gradient: at most 80% of the groups at the first RL step (base-model rollouts) have
  all-equal rewards, at each size (the larger value).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from priorlab.claims.base import ClaimInfo, Lab, Results, entry
from priorlab.claims.protocol import Gate, Measurement, Protocol
from priorlab.common.stats import nested_bootstrap
from priorlab.lab.plots import plot_format_shares
from priorlab.model.gpt import SIZES
from priorlab.world.formats import FORMATS

INFO = ClaimInfo(
    id="format-collapse",
    claim="RL converges early on one pretraining format and suppresses the others; the winner depends on scale.",
    source="Zhao et al. 2025, Echo Chamber: RL Post-training Amplifies Behaviors Learned in Pretraining, arXiv 2504.07912",
    paper="150M model -> TinyGSM code format, 1B model -> OpenMathInstruct2 natural language, within the first "
          "epoch (numbers unverified)",
)
PROTOCOL = Protocol(
    claim="format-collapse",
    conditions="balanced prior (1/3 direct, nl, code) at two sizes; GRPO + correct reward; each size's winner chosen "
               "by a held-out RL run (seed 1000) before the evaluated runs are read",
    metric="min(share gain of each size's winner after RL - before, at both sizes; after RL, each size's winner's "
           "share minus the other size's winner's share, at its own size) (T=1)",
    delta=0.2,
    gates=(
        Gate("size_ratio", ">=", 2.0, "a scale effect needs two scales: non-embedding parameters of the large size "
             "over the small one at least 2 (the paper's 150M and 1B are 6.7x apart)"),
        Gate("second_format_share_min", ">=", 0.1, "RL amplifies one of several formats the prior produces "
             "(2504.07912): at each size the second most common format must be at least 10% of the prior's samples"),
        Gate("winner_share_before_max", "<=", 0.8, "room to collapse: the winner must hold at most 1 - delta of the "
             "prior's samples, so that a gain of delta is possible"),
        Gate("groups_all_equal_max", "<=", 0.8, "GRPO learns nothing from a group whose rewards are all equal: at "
             "each size at least a fifth of the groups at the first RL step must be mixed"),
    ),
)
HELDOUT_SEED = 1000  # the RL seed of the runs that choose the winners; never an evaluated seed


def _sizes(lab: Lab) -> dict[str, str]:
    return {"large": lab.b.size, "small": lab.b.small_size}


def _runs(lab: Lab, seeds) -> dict:
    """'large' / 'small' -> (priors, evaluated RL runs [prior seed][RL seed], held-out runs [prior seed][1])."""
    if HELDOUT_SEED in seeds:
        raise ValueError(f"format-collapse: RL seed {HELDOUT_SEED} chooses the winners and cannot be evaluated")
    out = {}
    for name, size in _sizes(lab).items():
        priors = lab.priors("balanced", size=size)
        out[name] = (priors, lab.rl_nested(priors, seeds), lab.rl_nested(priors, [HELDOUT_SEED]))
    return out


def jobs(lab: Lab, seeds) -> list:
    """The balanced prior at two sizes, its GRPO runs, the run of a held-out RL seed that picks each size's
    winner, and their evaluations."""
    js = []
    for priors, runs, heldout in _runs(lab, seeds).values():
        js += [lab.snapshot(p) for p in priors] + [lab.snapshot(j) for row in runs for j in row]
        js += [j for row in heldout for j in row]  # read through their training metrics only
    return list(dict.fromkeys(js))


@dataclass
class Data:
    """What `measure` reads: per-problem share of each format [A, B, P, F] (priors: [A, 1, P, F], F = FORMATS)
    at both sizes, the winners chosen before (indices into FORMATS) and the mechanism's diagnostics."""

    before_large: np.ndarray
    after_large: np.ndarray
    before_small: np.ndarray
    after_small: np.ndarray
    winner_large: int
    winner_small: int
    size_ratio: float
    groups_all_equal_max: float  # max over sizes of the mean first-step adv/frac_groups_all_equal


def _halves(wl: int, ws: int):
    """(collapse large, collapse small, crossing) as functions of the share arrays."""
    def collapse(a, b, w):
        return a[..., w].mean() - b[..., w].mean()

    def crossing(al, as_):
        return min(al[..., wl].mean() - al[..., ws].mean(), as_[..., ws].mean() - as_[..., wl].mean())

    return {"collapse_large": lambda bl, al, bs, as_: collapse(al, bl, wl),
            "collapse_small": lambda bl, al, bs, as_: collapse(as_, bs, ws),
            "winner_depends_on_size": lambda bl, al, bs, as_: crossing(al, as_)}


def measure(d: Data, protocol: Protocol = PROTOCOL, n_boot: int = 1000) -> Measurement:
    """The effect min(collapse at each size, crossing of the winners) with its nested-bootstrap CI, each half's
    own CI, and every gate."""
    arrays = {"bl": d.before_large, "al": d.after_large, "bs": d.before_small, "as_": d.after_small}
    halves = _halves(d.winner_large, d.winner_small)
    effect = nested_bootstrap(lambda **a: min(fn(**a) for fn in halves.values()), arrays, n_boot=n_boot,
                              delta=protocol.delta)
    parts = {k: nested_bootstrap(fn, arrays, n_boot=n_boot, delta=protocol.delta) for k, fn in halves.items()}
    prior_shares = {"large": d.before_large.mean(axis=(0, 1, 2)), "small": d.before_small.mean(axis=(0, 1, 2))}
    second = min(float(np.sort(s)[-2]) for s in prior_shares.values())
    winner_before = max(float(prior_shares["large"][d.winner_large]), float(prior_shares["small"][d.winner_small]))
    gates = protocol.check({"size_ratio": d.size_ratio, "second_format_share_min": second,
                            "winner_share_before_max": winner_before, "groups_all_equal_max": d.groups_all_equal_max})
    return Measurement(effect, gates, {
        "halves": parts, "winners": {"large": FORMATS[d.winner_large], "small": FORMATS[d.winner_small]},
        "prior_shares": {k: dict(zip(FORMATS, map(float, v))) for k, v in prior_shares.items()}})


def choose_winner(curves: list[dict[str, list[float]]]) -> tuple[int, dict[str, float]]:
    """The winner from held-out runs' training format shares ({format: [share per step]} per run): the largest
    mean share over the last quarter of the steps, averaged over the runs (ties: first in FORMATS)."""
    means = {}
    for f in FORMATS:
        per_run = [np.mean(c[f][-max(1, len(c[f]) // 4):]) for c in curves if c.get(f)]
        means[f] = float(np.mean(per_run)) if per_run else float("nan")
    return int(np.nanargmax([means[f] for f in FORMATS])), means


def _curves(rows: list[dict]) -> dict[str, list[float]]:
    """{format: share of the training rollouts at each step}, in step order."""
    rows = sorted((r for r in rows if "correct/mean" in r), key=lambda r: r["step"])
    return {f: [r[f"format/{f}"] for r in rows if f"format/{f}" in r] for f in FORMATS}


def _shares(res: Results, lab: Lab, nested) -> np.ndarray:
    """[A, B, P, F] per-problem share of each format over the samples of each model's snapshot."""
    return np.stack([np.stack([np.stack([(res.snap(lab.snapshot(j))["format"] == i).mean(axis=1)
                                         for i in range(len(FORMATS))], axis=-1) for j in row]) for row in nested])


def _params(size: str) -> int:
    return SIZES[size]["n_layer"] * SIZES[size]["n_embd"] ** 2


def _first_step(res: Results, runs, i: int) -> int | None:
    """First RL step at which format i holds 60% of the training rollouts, pooled over the runs."""
    curves = [_curves(res.metrics(j))[FORMATS[i]] for row in runs for j in row]
    n = min(map(len, curves), default=0)
    return next((s + 1 for s in range(n) if np.mean([c[s] for c in curves]) >= 0.6), None)


def analyze(lab: Lab, res: Results, seeds, protocol: Protocol = PROTOCOL) -> dict:
    """Each size's winning format before RL, its share gain, the size dependence, the gates, the share
    trajectories; the report entry."""
    runs = _runs(lab, seeds)
    winners, heldout_shares = {}, {}
    for name, (_, _, heldout) in runs.items():  # decided first, from the held-out runs alone
        winners[name], heldout_shares[name] = choose_winner([_curves(res.metrics(j)) for row in heldout for j in row])

    def all_equal(nested):  # mean over runs of the first training step's share of all-equal groups
        vals = []
        for row in nested:
            for j in row:
                rows = sorted((r for r in res.metrics(j) if "adv/frac_groups_all_equal" in r), key=lambda r: r["step"])
                vals += [r["adv/frac_groups_all_equal"] for r in rows[:1]]
        return float(np.mean(vals)) if vals else float("nan")

    sizes = _sizes(lab)
    data = Data(before_large=_shares(res, lab, [[p] for p in runs["large"][0]]),
                after_large=_shares(res, lab, runs["large"][1]),
                before_small=_shares(res, lab, [[p] for p in runs["small"][0]]),
                after_small=_shares(res, lab, runs["small"][1]),
                winner_large=winners["large"], winner_small=winners["small"],
                size_ratio=_params(sizes["large"]) / _params(sizes["small"]),
                groups_all_equal_max=float(np.max([all_equal(runs[k][1]) for k in ("large", "small")])))  # NaN fails
    m = measure(data, protocol, lab.b.n_boot)

    plots, plotted = [], set()
    for name, (priors, nested, _) in runs.items():
        after = data.after_large if name == "large" else data.after_small
        fmt = np.concatenate([res.snap(lab.snapshot(p))["format"].ravel() for p in priors])
        ok = np.concatenate([res.snap(lab.snapshot(p))["correct"].ravel() for p in priors])
        m.metrics[f"size {sizes[name]} ({name})"] = {
            "winner": FORMATS[winners[name]], "heldout_final_shares": heldout_shares[name],
            "final_shares": dict(zip(FORMATS, map(float, after.mean(axis=(0, 1, 2))))),
            "most_common_after_rl": FORMATS[int(after.mean(axis=(0, 1, 2)).argmax())],  # reported, not judged
            "first_step_winner_over_60pct": _first_step(res, nested, winners[name]),
            # what a replicator-dynamics prediction would read (GRPO grows the formats above the mean accuracy)
            "prior_accuracy_by_format": {f: float(ok[fmt == i].mean()) if (fmt == i).any() else None
                                         for i, f in enumerate(FORMATS)}}
        curves = [_curves(res.metrics(j)) for row in nested for j in row]
        n = min(len(c[FORMATS[0]]) for c in curves)
        if n and sizes[name] not in plotted:
            plotted.add(sizes[name])
            shares = {f: [float(np.mean([c[f][s] for c in curves])) for s in range(n)] for f in FORMATS}
            plots.append(plot_format_shares(list(range(1, n + 1)), shares, res.plots / f"format-collapse-{sizes[name]}",
                                            title=f"Format shares during RL (balanced prior, size {sizes[name]})")["png"])
    return entry(INFO, protocol, m, seeds, plots=plots)
