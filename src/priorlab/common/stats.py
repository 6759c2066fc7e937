"""Percentile-bootstrap confidence intervals, shared by the evals, the analyses and the claims' verdicts.

Percentile bootstrap (Efron & Tibshirani 1993, *An Introduction to the Bootstrap*, ch. 13): resample the
units with replacement `n_boot` times, recompute the statistic, and take the (1 - ci)/2 and (1 + ci)/2
percentiles of the replicates. Every function draws from `np.random.default_rng(seed)`, one replicate at
a time in a fixed order, so an interval is a pure function of (data, stat, n_boot, seed, ci).

Designs:

- `bootstrap_ci(values [N, ...])`              one sample of units (test problems): resample rows.
- `paired_bootstrap_diff(a [N, ...], b [N, ...])` two conditions on the same units: resample rows jointly.
- `hierarchical_bootstrap(arr [S, P, ...])`     a seeds x problems table. Seeds and problems are crossed
  (every seed is evaluated on the same problems), so each replicate resamples S seeds and P problems
  independently and takes the sub-table (Owen 2007, "The pigeonhole bootstrap", Ann. Appl. Stat.);
  this is slightly conservative and keeps problems aligned across seeds.
- `hierarchical_bootstrap_diff(a [Sa, P, ...], b [Sb, P, ...])` two conditions with their own seeds on
  a shared problem set: seeds resampled per condition, problem indices shared (paired on problems).
- `nested_bootstrap(fn, {name: [A, B, P, ...]})`  the claims' design, of which the two above are the
  one-prior case: A pretraining seeds, B RL seeds under each, P problems shared by every array. Each
  replicate resamples, array by array, the prior seeds (when A > 1), then the RL seeds under each chosen
  prior seed, then once the problems for all arrays, and evaluates fn(**resampled arrays) (Davison &
  Hinkley 1997, *Bootstrap Methods and their Application*, §3.8: resample at every level of a nested
  design). Replicates where fn is not finite (a ratio over a zero denominator) are dropped and counted;
  with more than 10% of them dropped the interval is undefined (NaN). It also returns the bootstrap
  standard error `se`, the one-sided p-values `p_le_0` = (1 + #{rep <= 0}) / (1 + n) and
  `p_ge_delta` = (1 + #{rep >= delta}) / (1 + n) that Holm's adjustment (`holm`) works on, and
  `mde(se)`, the minimum detectable effect at 80% power and a two-sided 5% level: (z_0.975 + z_0.8) * se.

`stat` is a numpy-style reducer called as `stat(x, axis=...)` (np.mean, np.median, ...); it reduces the
resampled axis (0, or (0, 1) for the seed x problem designs) and keeps trailing axes, e.g. one column
per k of a pass@k table. Every function returns a JSON-ready dict:

    {"estimate", "ci_low", "ci_high", "ci", "n_boot", "seed"}

with floats for a scalar statistic and lists for a vector one. `estimate` is the statistic on the full
data (for the diffs: stat(b) - stat(a)), not the mean of the replicates. The single-level functions do not
handle NaNs (remove them first); `nested_bootstrap` drops non-finite replicates as above. With one seed,
the seed level has no variance to show.
"""

from __future__ import annotations

from collections.abc import Callable
from statistics import NormalDist
from typing import Any

import numpy as np

Stat = Callable[..., np.ndarray]


def _check(n_boot: int, ci: float) -> None:
    if int(n_boot) != n_boot or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot}")
    if not 0.0 < ci < 1.0:
        raise ValueError(f"ci must be in (0, 1), got {ci}")


def _as_rows(values, name: str, min_ndim: int = 1) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim < min_ndim or arr.shape[0] == 0 or (min_ndim == 2 and arr.shape[1] == 0):
        raise ValueError(f"{name} needs at least {min_ndim} non-empty axes, got shape {arr.shape}")
    return arr


def _tolist(x):
    x = np.asarray(x, dtype=float)
    return float(x) if x.ndim == 0 else x.tolist()


def _summarise(estimate, reps: list, n_boot: int, seed: int, ci: float) -> dict:
    reps_arr = np.stack([np.asarray(r, dtype=float) for r in reps])  # [n_boot, ...]
    lo, hi = np.percentile(reps_arr, [100 * (1 - ci) / 2, 100 * (1 + ci) / 2], axis=0)
    return {"estimate": _tolist(estimate), "ci_low": _tolist(lo), "ci_high": _tolist(hi),
            "ci": ci, "n_boot": int(n_boot), "seed": seed}


def bootstrap_ci(values, stat: Stat = np.mean, n_boot: int = 1000, seed: int = 0, ci: float = 0.95) -> dict:
    """Percentile CI of stat(values, axis=0), resampling the N rows of values [N, ...]."""
    _check(n_boot, ci)
    x = _as_rows(values, "values")
    rng = np.random.default_rng(seed)
    n = x.shape[0]
    reps = [stat(x[rng.integers(0, n, size=n)], axis=0) for _ in range(n_boot)]
    return _summarise(stat(x, axis=0), reps, n_boot, seed, ci)


def paired_bootstrap_diff(a, b, stat: Stat = np.mean, n_boot: int = 1000, seed: int = 0,
                          ci: float = 0.95) -> dict:
    """Percentile CI of stat(b) - stat(a) for paired rows: row i of a and of b are the same unit.

    Each replicate draws one set of row indices and applies it to both arrays, so the between-unit
    variance shared by a and b cancels (for the mean this equals bootstrapping mean(b - a)).
    """
    _check(n_boot, ci)
    xa, xb = _as_rows(a, "a"), _as_rows(b, "b")
    if xa.shape != xb.shape:
        raise ValueError(f"paired arrays must have the same shape, got {xa.shape} and {xb.shape}")
    rng = np.random.default_rng(seed)
    n = xa.shape[0]
    reps = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, size=n)
        reps.append(stat(xb[idx], axis=0) - stat(xa[idx], axis=0))
    return _summarise(stat(xb, axis=0) - stat(xa, axis=0), reps, n_boot, seed, ci)


def hierarchical_bootstrap(arr, stat: Stat = np.mean, n_boot: int = 1000, seed: int = 0,
                           ci: float = 0.95) -> dict:
    """Percentile CI of stat(arr, axis=(0, 1)) for a crossed seeds x problems table arr [S, P, ...].

    Each replicate resamples seeds (rows) and problems (columns) with replacement, independently
    (pigeonhole bootstrap, Owen 2007): `nested_bootstrap` with one prior seed.
    """
    x = _as_rows(arr, "arr", min_ndim=2)
    r = nested_bootstrap(lambda a: stat(a[0], axis=(0, 1)), {"a": x[None]}, n_boot=n_boot, seed=seed, ci=ci)
    return {k: r[k] for k in ("estimate", "ci_low", "ci_high", "ci", "n_boot", "seed")}


def hierarchical_bootstrap_diff(a, b, stat: Stat = np.mean, n_boot: int = 1000, seed: int = 0,
                                ci: float = 0.95) -> dict:
    """Percentile CI of stat(b) - stat(a) for two conditions a [Sa, P, ...] and b [Sb, P, ...].

    The conditions have their own seeds (resampled separately: seed i of a is not paired with seed i of
    b) and share the problem set (one column resample applied to both, so problem difficulty cancels).
    """
    xa, xb = _as_rows(a, "a", min_ndim=2), _as_rows(b, "b", min_ndim=2)
    if xa.shape[1:] != xb.shape[1:]:
        raise ValueError(f"a and b must share the problem axis and trailing axes, got {xa.shape} and {xb.shape}")
    r = nested_bootstrap(lambda a, b: stat(b[0], axis=(0, 1)) - stat(a[0], axis=(0, 1)), {"a": xa[None], "b": xb[None]},
                         n_boot=n_boot, seed=seed, ci=ci)
    return {k: r[k] for k in ("estimate", "ci_low", "ci_high", "ci", "n_boot", "seed")}


MAX_INVALID = 0.1  # above this share of non-finite replicates, nested_bootstrap's interval is undefined


def nested_bootstrap(fn: Callable[..., Any], arrays: dict, n_boot: int = 1000, seed: int = 0, ci: float = 0.95,
                     delta: float = 0.0) -> dict:
    """Percentile CI of fn(**arrays) for arrays [A, B, P, ...] (prior seeds x RL seeds x shared problems).

    The design, the p-values and the NaN rule are in the module docstring; fn may return a scalar or a
    vector (then the p-values are omitted)."""
    _check(n_boot, ci)
    xs = {k: np.asarray(v, dtype=float) for k, v in arrays.items()}
    if not xs:
        raise ValueError("nested_bootstrap needs at least one array")
    for k, x in xs.items():
        if x.ndim < 3 or 0 in x.shape[:3]:
            raise ValueError(f"array {k!r} must be [prior seeds, RL seeds, problems, ...], got shape {x.shape}")
    ps = {x.shape[2] for x in xs.values()}
    if len(ps) != 1:
        raise ValueError(f"arrays must share the problem axis, got sizes {sorted(ps)}")
    p = ps.pop()
    rng = np.random.default_rng(seed)
    reps = []
    for _ in range(n_boot):
        picked = {}
        for k, x in xs.items():
            n_a, n_b = x.shape[:2]
            ai = np.asarray(rng.integers(0, n_a, size=n_a)) if n_a > 1 else np.zeros(1, dtype=int)
            picked[k] = np.stack([x[a][rng.integers(0, n_b, size=n_b)] for a in ai])
        pi = rng.integers(0, p, size=p)
        reps.append(np.asarray(fn(**{k: v[:, :, pi] for k, v in picked.items()}), dtype=float))
    est = np.asarray(fn(**xs), dtype=float)
    reps_arr = np.stack(reps)
    alpha = 100 * (1 - ci) / 2
    out = {"estimate": _tolist(est), "ci": ci, "n_boot": int(n_boot), "seed": seed}
    if est.ndim == 0:
        ok = reps_arr[np.isfinite(reps_arr)]
        out["n_invalid"] = int(n_boot - ok.size)
        if ok.size == 0 or out["n_invalid"] > MAX_INVALID * n_boot:
            return {**out, "ci_low": float("nan"), "ci_high": float("nan"), "se": float("nan"),
                    "p_le_0": float("nan"), "p_ge_delta": float("nan"), "delta": delta}
        lo, hi = np.percentile(ok, [alpha, 100 - alpha])
        return {**out, "ci_low": float(lo), "ci_high": float(hi), "se": float(ok.std(ddof=1)) if ok.size > 1 else 0.0,
                "p_le_0": float((1 + (ok <= 0).sum()) / (1 + ok.size)),
                "p_ge_delta": float((1 + (ok >= delta).sum()) / (1 + ok.size)), "delta": delta}
    lo, hi = np.percentile(reps_arr, [alpha, 100 - alpha], axis=0)
    return {**out, "ci_low": _tolist(lo), "ci_high": _tolist(hi), "se": _tolist(reps_arr.std(axis=0, ddof=1))}


def holm(pvalues) -> list[float]:
    """Holm's step-down adjusted p-values (Holm 1979): sorted ascending, p_(i) * (m - i + 1), made monotone
    and capped at 1; NaN entries are left out of the family and stay NaN."""
    p = np.asarray(pvalues, dtype=float)
    idx = [i for i in np.argsort(p, kind="stable") if np.isfinite(p[i])]
    m, out, running = len(idx), np.full(p.shape, np.nan), 0.0
    for rank, i in enumerate(idx):
        running = max(running, min(1.0, p[i] * (m - rank)))
        out[i] = running
    return out.tolist()


def mde(se: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Minimum detectable effect of a two-sided test at level alpha with the given power: (z_{1-alpha/2} + z_power) * se."""
    z = NormalDist()
    return float((z.inv_cdf(1 - alpha / 2) + z.inv_cdf(power)) * se)
