"""Unbiased pass@k, pass@k curves with bootstrap CIs, and base-vs-other curve comparison.

pass@k is the probability that at least one of k samples solves a problem. From n >= k samples of which
c are correct, the unbiased estimator (Chen et al. 2021, "Evaluating Large Language Models Trained on
Code", arXiv 2107.03374, eq. 1; used by Limit-of-RLVR, arXiv 2504.13837, App. A.2) is

    pass@k = 1 - C(n - c, k) / C(n, k)
           = 1 - prod_{i = n-c+1}^{n} (1 - k / i)        (numerically stable form; Codex, RLVR-Decomposed)

with the exact edge cases c = 0 -> 0 and n - c < k -> 1. A curve averages it over problems; its CI
resamples problems (`priorlab.common.stats`). `compare_curves` reports other - base per k with a paired
bootstrap over problems and the crossover k of the "pass@k boundary" claim (base below at k = 1,
above at large k).

    >>> from priorlab.evals.passk import pass_at_k
    >>> pass_at_k(4, 1, 2)          # 1 - C(3, 2)/C(4, 2) = 1 - 3/6
    0.5
"""

from __future__ import annotations

import numpy as np

from priorlab.common.stats import bootstrap_ci, paired_bootstrap_diff


def pass_at_k(n, c, k: int):
    """Unbiased pass@k for each problem; n and c are ints or broadcastable int arrays, k a scalar.

    Returns a float for scalar inputs, else a float array of the broadcast shape. Raises ValueError if
    k < 1, k > n (naming both), c < 0 or c > n.
    """
    if int(k) != k or k < 1:
        raise ValueError(f"pass@k needs an integer k >= 1, got k={k}")
    k = int(k)
    n_arr, c_arr = np.broadcast_arrays(np.asarray(n), np.asarray(c))
    for name, arr in (("n", n_arr), ("c", c_arr)):
        as_float = arr.astype(float)
        if np.any(as_float != np.floor(as_float)):
            raise ValueError(f"pass@k needs integer {name}, got {name}={arr}")
    n_arr, c_arr = n_arr.astype(np.int64), c_arr.astype(np.int64)
    if n_arr.size and k > n_arr.min():
        raise ValueError(f"pass@k needs k <= n samples per problem, got k={k} > n={int(n_arr.min())}")
    if n_arr.size and (c_arr.min() < 0 or np.any(c_arr > n_arr)):
        raise ValueError(f"pass@k needs 0 <= c <= n, got c={c_arr} for n={n_arr}")

    out = np.empty(n_arr.shape, dtype=float)
    for nv in np.unique(n_arr):  # usually one n for all problems
        at = n_arr == nv
        # tail[j] = prod of the last j factors (1 - k/i), i = n, n-1, ..., n-j+1; tail[0] = 1 (c = 0 -> 0)
        tail = np.concatenate([[1.0], np.cumprod(1.0 - k / np.arange(nv, 0, -1, dtype=float))])
        out[at] = 1.0 - tail[c_arr[at]]
    out[n_arr - c_arr < k] = 1.0  # every k-subset holds a correct sample; the product form hits i <= k
    return float(out) if out.ndim == 0 else out


def default_ks(n: int) -> list[int]:
    """Powers of two up to n, plus n itself: 1, 2, 4, ..., n."""
    ks = [1 << i for i in range(int(n).bit_length()) if (1 << i) <= n]
    return ks if ks[-1] == n else ks + [int(n)]


def _correct_matrix(correct, name: str) -> np.ndarray:
    arr = np.asarray(correct)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty [problems, samples] array, got shape {arr.shape}")
    if arr.dtype != bool:
        if not np.all((arr == 0) | (arr == 1)):
            raise ValueError(f"{name} must hold booleans or 0/1")
        arr = arr.astype(bool)
    return arr


def _check_ks(ks, n: int) -> list[int]:
    ks = sorted({int(k) for k in ks})
    if not ks:
        raise ValueError("ks is empty")
    bad = [k for k in ks if k < 1 or k > n]
    if bad:
        raise ValueError(f"pass@k needs 1 <= k <= n, got k={bad[0]} with n={n} samples per problem")
    return ks


def passk_matrix(correct, ks) -> np.ndarray:
    """Per-problem pass@k: correct [P, n] bool -> [P, len(ks)] floats (ks sorted ascending)."""
    arr = _correct_matrix(correct, "correct")
    n = arr.shape[1]
    ks = _check_ks(ks, n)
    c = arr.sum(axis=1)
    return np.stack([pass_at_k(n, c, k) for k in ks], axis=1)


def passk_curve(correct, ks=None, n_boot: int = 1000, seed: int = 0, ci: float = 0.95) -> dict:
    """Mean pass@k over problems per k, with percentile bootstrap CIs over problems.

    correct: [P, n] bool, n samples for each of P problems. ks defaults to `default_ks(n)`.
    Returns {"k", "mean", "ci_low", "ci_high"} (lists aligned with sorted ks) and "n_problems",
    "n_samples", "n_boot", "seed", "ci". One resample of problems serves every k, so the band is
    consistent across k.
    """
    arr = _correct_matrix(correct, "correct")
    ks = _check_ks(default_ks(arr.shape[1]) if ks is None else ks, arr.shape[1])
    boot = bootstrap_ci(passk_matrix(arr, ks), n_boot=n_boot, seed=seed, ci=ci)
    return {"k": ks, "mean": boot["estimate"], "ci_low": boot["ci_low"], "ci_high": boot["ci_high"],
            "n_problems": int(arr.shape[0]), "n_samples": int(arr.shape[1]),
            "n_boot": int(n_boot), "seed": seed, "ci": ci}


def crossover_k(ks, diff) -> int | None:
    """Smallest k whose difference has the opposite sign to the difference at the smallest k.

    None when there is no flip, or when the difference at the smallest k is exactly 0 (no direction
    to flip from). Uses point estimates; read the CI at that k before calling the flip real.
    """
    signs = np.sign(np.asarray(diff, dtype=float))
    if signs.size == 0 or signs[0] == 0:
        return None
    flipped = np.nonzero(signs == -signs[0])[0]
    return int(ks[flipped[0]]) if flipped.size else None


def compare_curves(base, other, ks=None, n_boot: int = 1000, seed: int = 0, ci: float = 0.95) -> dict:
    """Per-k difference other - base in mean pass@k, with a paired bootstrap CI over problems.

    base, other: [P, n] bool for the same P problems in the same order (n may differ; every k must be
    <= both). Returns {"k", "base", "other", "diff", "ci_low", "ci_high"} (lists aligned with sorted
    ks), "crossover_k" (see `crossover_k`), "reference_k" (the smallest k, the sign reference),
    "n_problems", "n_boot", "seed", "ci".
    """
    a, b = _correct_matrix(base, "base"), _correct_matrix(other, "other")
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"base and other must cover the same problems, got {a.shape[0]} and {b.shape[0]}")
    n = min(a.shape[1], b.shape[1])
    ks = _check_ks(default_ks(n) if ks is None else ks, n)
    pa, pb = passk_matrix(a, ks), passk_matrix(b, ks)
    d = paired_bootstrap_diff(pa, pb, n_boot=n_boot, seed=seed, ci=ci)
    return {"k": ks, "base": pa.mean(axis=0).tolist(), "other": pb.mean(axis=0).tolist(),
            "diff": d["estimate"], "ci_low": d["ci_low"], "ci_high": d["ci_high"],
            "crossover_k": crossover_k(ks, d["estimate"]), "reference_k": ks[0],
            "n_problems": int(a.shape[0]), "n_boot": int(n_boot), "seed": seed, "ci": ci}
