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

`stat` is a numpy-style reducer called as `stat(x, axis=...)` (np.mean, np.median, ...); it reduces the
resampled axis (0, or (0, 1) for the seed x problem designs) and keeps trailing axes, e.g. one column
per k of a pass@k table. Every function returns a JSON-ready dict:

    {"estimate", "ci_low", "ci_high", "ci", "n_boot", "seed"}

with floats for a scalar statistic and lists for a vector one. `estimate` is the statistic on the full
data (for the diffs: stat(b) - stat(a)), not the mean of the replicates. NaNs are not handled: remove
them first. With one seed, the seed level of the hierarchical bootstrap has no variance to show.
"""

from __future__ import annotations

from collections.abc import Callable

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
    (pigeonhole bootstrap, Owen 2007), and evaluates stat on the resampled sub-table.
    """
    _check(n_boot, ci)
    x = _as_rows(arr, "arr", min_ndim=2)
    rng = np.random.default_rng(seed)
    s, p = x.shape[:2]
    reps = []
    for _ in range(n_boot):
        si = rng.integers(0, s, size=s)
        pi = rng.integers(0, p, size=p)
        reps.append(stat(x[si][:, pi], axis=(0, 1)))
    return _summarise(stat(x, axis=(0, 1)), reps, n_boot, seed, ci)


def hierarchical_bootstrap_diff(a, b, stat: Stat = np.mean, n_boot: int = 1000, seed: int = 0,
                                ci: float = 0.95) -> dict:
    """Percentile CI of stat(b) - stat(a) for two conditions a [Sa, P, ...] and b [Sb, P, ...].

    The conditions have their own seeds (resampled separately: seed i of a is not paired with seed i of
    b) and share the problem set (one column resample applied to both, so problem difficulty cancels).
    """
    _check(n_boot, ci)
    xa, xb = _as_rows(a, "a", min_ndim=2), _as_rows(b, "b", min_ndim=2)
    if xa.shape[1:] != xb.shape[1:]:
        raise ValueError(f"a and b must share the problem axis and trailing axes, got {xa.shape} and {xb.shape}")
    rng = np.random.default_rng(seed)
    sa, sb, p = xa.shape[0], xb.shape[0], xa.shape[1]
    reps = []
    for _ in range(n_boot):
        ia = rng.integers(0, sa, size=sa)
        ib = rng.integers(0, sb, size=sb)
        pi = rng.integers(0, p, size=p)
        reps.append(stat(xb[ib][:, pi], axis=(0, 1)) - stat(xa[ia][:, pi], axis=(0, 1)))
    estimate = stat(xb, axis=(0, 1)) - stat(xa, axis=(0, 1))
    return _summarise(estimate, reps, n_boot, seed, ci)
