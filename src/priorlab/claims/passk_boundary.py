"""passk-boundary: RLVR raises pass@1 but does not expand what the base model can solve: at large k the
base model's pass@k matches or beats the RL model's (Yue et al. 2025).

Protocol: the `affinity` prior (each pretraining seed; `COVERAGE_PRIOR`) and its GRPO runs with the correct
reward, each
sampled `passk_samples` times on `passk_problems` harder problems (`passk_difficulty`, so that pass@k < 1
leaves room) and scored with the unbiased pass@k estimator. Metric: pass@K*(base) − pass@K*(RL), K* the
largest k at which the base's pass@k is at most 0.95 (`k_star`: at a k where every model solves every
problem no difference can show). δ = 0: the claim holds when the base is significantly above the RL
model at K*. The crossover k (RL above at k = 1, base above later) is reported beside it.

Gates (`PROTOCOL`), the mechanism the paper names: RL *sharpens* the base distribution (concentrates it on
paths the base already samples) instead of adding new ones (arXiv 2504.13837 §3, perplexity analysis):
- `rl_pass1_gain` >= 0.05: RL raised pass@1 on the compared problems. The paper's RL models gained 15–40
  points of pass@1 (App. Tables 2–3: MATH500 34.5 -> 74.4, Omni-MATH 10.2 -> 25.1); a run that gained
  under 5 points has not sharpened anything whose coverage could be compared.
- `rl_entropy_fall` >= 0.05: the token entropy of the RL runs' samples (`entropy/all`, the first fifth of
  the steps vs the last fifth, relative) fell by at least 5%: sharpening is a fall in entropy (the paper's
  entropy-matched control; Cui et al. 2505.22617), 5% to stand clear of step-to-step noise.
- `k_max` >= 256: the largest k evaluated reaches the paper's (pass@256 in Yue et al. and Zhu et al.).
  `passk_samples` sets it: 256 in `full`; `quick` (128) and `smoke` (8) cannot reach it, and the claim
  is then untestable there by this gate rather than judged at a smaller k.
- `base_room` <= 0.95: the base's pass@K* leaves room (fails only when the base's pass@1 is above 0.95).

This module also holds the pass@k helpers of negative-reinforcement and distillation-expands (`counts`,
`passk`, `k_star`, `curves`, `entropy_ends`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from priorlab.claims.base import ClaimInfo, Lab, Results, bootstrap, entry
from priorlab.claims.protocol import Gate, Measurement, Protocol
from priorlab.evals.passk import crossover_k, default_ks, pass_at_k
from priorlab.lab.plots import plot_passk

INFO = ClaimInfo(
    id="passk-boundary",
    claim="Base models match or beat their RLVR-trained versions at large k: RLVR narrows coverage instead of "
          "expanding the reasoning boundary.",
    source="Yue et al. 2025, Does Reinforcement Learning Really Incentivize Reasoning Capacity in LLMs Beyond "
           "the Base Model?, arXiv 2504.13837",
    paper="Qwen2.5-7B MATH-500 pass@256: base 96.2 vs GRPO 97.2; Omni-MATH-Train pass@256 67.2 -> 64.3 with longer RL",
)
ROOM = 0.95  # the compared k is the largest at which the reference's pass@k is at most this
# Strategy-problem affinity (world.classes): nl drops the sign of negative intermediates, code fails on repeated
# operands, so each format solves problems the other gets wrong and sharpening onto one strategy can shrink
# coverage. On a prior whose minority format is clean everywhere (code-prior) no problem exists that only the
# minority solves, and a "not reproduced" would be a property of that prior (issue 14).
COVERAGE_PRIOR = "affinity"
K_PAPER = 256  # the largest k of Yue et al. (2504.13837) and Zhu et al. (2506.01347)
PASS1_GAIN = 0.05  # the sharpening gates' pass@1 rise (see the module docstring)
ENTROPY_FALL = 0.05  # ... and relative entropy fall
PROTOCOL = Protocol(
    claim="passk-boundary",
    conditions="affinity prior (per pretraining seed) vs its GRPO runs with the correct reward; n = passk_samples "
               "samples on passk_problems problems of passk_difficulty, unbiased pass@k",
    metric="pass@K*(base) - pass@K*(RL), K* = largest k with base pass@k <= 0.95",
    delta=0.0,
    gates=(
        Gate("rl_pass1_gain", ">=", PASS1_GAIN, "RL must have sharpened the base (2504.13837 §3): its pass@1 rose by "
             "at least 5 points (the paper's RL: +15 to +40 points)"),
        Gate("rl_entropy_fall", ">=", ENTROPY_FALL, "sharpening lowers entropy: entropy/all of the RL runs' samples "
             "fell by at least 5% from the first fifth of the steps to the last"),
        Gate("k_max", ">=", K_PAPER, "the paper's k range: pass@k up to k = 256 (2504.13837; 2506.01347)"),
        Gate("base_room", "<=", ROOM, "the base's pass@K* must leave room for a difference (pass@1 above 0.95 "
             "leaves none)"),
    ),
)


# ------------------------------------------------------------------------- pass@k helpers (shared)
def passk(c: np.ndarray, n: int, k: int) -> np.ndarray:
    """Per-problem unbiased pass@k of correct counts c (any shape, out of n samples each)."""
    return np.asarray(pass_at_k(n, np.asarray(c, dtype=np.int64), k), dtype=float)


def k_star(ref: np.ndarray, n: int) -> int:
    """The largest k in `default_ks(n)` at which the reference's mean pass@k is at most ROOM (else 1)."""
    ks = default_ks(n)
    return max([k for k in ks if passk(ref, n, k).mean() <= ROOM] or [ks[0]])


def curve_means(c: np.ndarray, n: int) -> list[float]:
    """Mean pass@k at every k of `default_ks(n)` (counts c of any shape)."""
    return [float(passk(c, n, k).mean()) for k in default_ks(n)]


def counts(res: Results, nested_snaps: list[list], field: str = "correct") -> tuple[np.ndarray, int]:
    """Correct samples per problem [A, B, P] of snapshot jobs nested [prior seed][RL seed] (or those with
    another boolean `field`, e.g. cot_correct), and n."""
    mats = [[res.snap(j)[field] for j in row] for row in nested_snaps]
    n = {m.shape[1] for row in mats for m in row}
    if len(n) != 1:
        raise ValueError(f"snapshots differ in samples per problem: {sorted(n)}")
    return np.stack([np.stack([m.sum(axis=1) for m in row]) for row in mats]).astype(np.int64), n.pop()


def curves(named: dict[str, np.ndarray], n: int, n_boot: int = 300) -> dict:
    """pass@k curves for `plot_passk`: per condition, the mean over runs and problems at each k of
    `default_ks(n)` with a nested-bootstrap band (prior seed -> RL seed -> problem); counts [A, B, P]."""
    ks = default_ks(n)
    out = {}
    for name, c in named.items():
        table = np.stack([passk(c, n, k) for k in ks], axis=-1)  # [A, B, P, K]
        b = bootstrap(lambda t: t.mean(axis=(0, 1, 2)), {"t": table}, n_boot)
        out[name] = {"k": ks, "mean": b["estimate"], "ci_low": b["ci_low"], "ci_high": b["ci_high"]}
    return out


def entropy_ends(rows_per_run: list[list[dict]], frac: float = 0.2) -> tuple[float, float]:
    """Mean `entropy/all` over the first and over the last `frac` of each run's training steps, averaged
    over runs (NaN, NaN when no run logged it)."""
    first, last = [], []
    for rows in rows_per_run:
        h = [r["entropy/all"] for r in rows if "entropy/all" in r and np.isfinite(r["entropy/all"])]
        if h:
            m = max(1, round(frac * len(h)))
            first.append(np.mean(h[:m]))
            last.append(np.mean(h[-m:]))
    return (float(np.mean(first)), float(np.mean(last))) if first else (float("nan"), float("nan"))


def fall(first: float, last: float) -> float:
    """Relative fall (first - last) / first (NaN when first is not positive)."""
    return (first - last) / first if first > 0 else float("nan")


def pass1(c: np.ndarray, n: int) -> float:
    """Mean pass@1 of correct counts `c` out of n samples each."""
    return float(np.mean(c) / n)


# ------------------------------------------------------------------------------------------ claim
def _runs(lab: Lab, seeds):
    priors = lab.priors(COVERAGE_PRIOR)
    return priors, lab.rl_nested(priors, seeds)


def jobs(lab: Lab, seeds) -> list:
    """The affinity prior and its GRPO runs, each with a pass@k evaluation."""
    priors, rl = _runs(lab, seeds)
    return [lab.passk(p) for p in priors] + [lab.passk(j) for row in rl for j in row]


@dataclass
class Data:
    """Correct samples per problem (of n) on the pass@k problems: base [A, 1, P], RL [A, B, P]; the RL
    runs' entropy/all at the first and last fifth of their steps (means over runs)."""

    base: np.ndarray
    rl: np.ndarray
    n: int
    entropy_first: float
    entropy_last: float


def measure(d: Data, protocol: Protocol = PROTOCOL, n_boot: int = 1000) -> Measurement:
    """The effect pass@K*(base) − pass@K*(RL) with its nested-bootstrap CI, and every gate."""
    k = k_star(d.base, d.n)
    effect = bootstrap(lambda b, r: b.mean() - r.mean(),
                       {"b": passk(d.base, d.n, k), "r": passk(d.rl, d.n, k)}, n_boot, delta=protocol.delta)
    gain = pass1(d.rl, d.n) - pass1(d.base, d.n)
    h_fall = fall(d.entropy_first, d.entropy_last)
    base_k = float(passk(d.base, d.n, k).mean())
    gates = protocol.check({"rl_pass1_gain": gain, "rl_entropy_fall": h_fall, "k_max": d.n, "base_room": base_k})
    ks = default_ks(d.n)
    cb, cr = curve_means(d.base, d.n), curve_means(d.rl, d.n)
    return Measurement(effect, gates, {
        "k_compared": k, "k": ks, "passk_base": cb, "passk_rl": cr,
        # the k from which the base is above, when RL is above at k = 1 (None otherwise)
        "crossover_k": crossover_k(ks, np.array(cb) - np.array(cr)) if cb[0] < cr[0] else None,
        "pass1_base": pass1(d.base, d.n), "pass1_rl": pass1(d.rl, d.n),
        "entropy_first": d.entropy_first, "entropy_last": d.entropy_last})


def analyze(lab: Lab, res: Results, seeds, protocol: Protocol = PROTOCOL) -> dict:
    """pass@K* of the base against the RL runs, the sharpening gates, the pass@k figure; the report entry."""
    priors, rl = _runs(lab, seeds)
    base, n = counts(res, [[lab.passk(p)] for p in priors])
    after, _ = counts(res, [[lab.passk(j) for j in row] for row in rl])
    first, last = entropy_ends([res.metrics(j) for row in rl for j in row])
    m = measure(Data(base, after, n, first, last), protocol, lab.b.n_boot)
    m.metrics["difficulty"] = lab.b.passk_difficulty
    cv = curves({"base": base, "RL (GRPO, correct)": after}, n)
    plot = plot_passk(cv, res.plots / "passk-boundary", title=f"pass@k, base vs RL ({lab.b.passk_difficulty})")
    return entry(INFO, protocol, m, seeds, plots=[plot["png"]])
