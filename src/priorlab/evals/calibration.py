"""Calibration of verbalised confidence: ECE, Brier, AUROC, reliability table, and a report.

Metrics follow RLCR (Damani et al. 2025, "Beyond Binary Rewards", arXiv 2507.16806; code
`damanimehul/RLCR` `eval/eval_utils.py`), with q the stated confidence and c in {0, 1} correctness:

    Brier = mean((q - c)^2)
    ECE   = sum_b (n_b / N) * |mean q_b - mean c_b|       10 equal-width bins over [0, 1]
    AUROC = P(q_correct > q_wrong) + 0.5 * P(q_correct == q_wrong)

Binning. RLCR bins with `np.digitize(q, edges) - 1` where `edges = np.linspace(0, 1, 11)` with the outer
edges replaced by -inf and +inf: bins are left-closed, right-open [lo, hi), 0 falls in the first bin
and 1 in the last. `edges="rlcr"` reproduces that bit for bit. But linspace's float edges are slightly
off the decimals (edges[3] = 0.30000000000000004, edges[6] = 0.6000000000000001, edges[7] =
0.7000000000000001), so there q = 0.3, 0.6, 0.7 land one bin LOWER than their decimal value says, merging
bins {0.2, 0.3}, {0.5, 0.6} and {0.9, 1.0} when confidences are tenths -- as they are in priorlab's world
(`Conf: 7` = 0.7). The default `edges="decimal"` uses the same [lo, hi) rule with exact decimal edges
(bin = floor(q * n_bins), after rounding q * n_bins to 9 decimals; 1.0 goes to the last bin), so q = b/10
always lands in bin b.

AUROC is rank-based (Mann-Whitney U with average ranks for ties), equal to sklearn's
`auc(*roc_curve(c, q)[:2])` that RLCR uses. It is undefined when all answers are correct or all are
wrong: `auroc` then returns nan (and `calibration_report` None).
"""

from __future__ import annotations

import math

import numpy as np

EDGES = ("decimal", "rlcr")


def _arrays(conf, correct) -> tuple[np.ndarray, np.ndarray]:
    q = np.asarray(conf, dtype=float).reshape(-1)
    c = np.asarray(correct).reshape(-1)
    if q.shape != c.shape:
        raise ValueError(f"conf and correct must have the same length, got {q.size} and {c.size}")
    if not np.all((c == 0) | (c == 1)):
        raise ValueError("correct must hold booleans or 0/1")
    if np.any(~np.isfinite(q)) or np.any((q < 0) | (q > 1)):
        raise ValueError("conf must be finite and in [0, 1]; use calibration_report for missing values")
    return q, c.astype(float)


def bin_index(conf, n_bins: int = 10, edges: str = "decimal") -> np.ndarray:
    """Bin of each confidence in 0..n_bins-1, [lo, hi) bins with open outer edges (see module doc)."""
    if edges not in EDGES:
        raise ValueError(f"edges must be one of {EDGES}, got {edges!r}")
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    q = np.asarray(conf, dtype=float).reshape(-1)
    if edges == "rlcr":
        e = np.linspace(0, 1, n_bins + 1)
        e[0], e[-1] = -np.inf, np.inf
        return np.digitize(q, e) - 1
    return np.clip(np.floor(np.round(q * n_bins, 9)), 0, n_bins - 1).astype(int)


def reliability_table(conf, correct, n_bins: int = 10, edges: str = "decimal") -> list[dict]:
    """Per bin: {"bin", "lo", "hi", "count", "mean_conf", "accuracy"}; an empty bin has None means.

    lo/hi are the nominal decimal bounds b/n_bins, (b+1)/n_bins (the outer bins are open beyond them).
    """
    q, c = _arrays(conf, correct)
    idx = bin_index(q, n_bins, edges)
    rows = []
    for b in range(n_bins):
        m = idx == b
        n_b = int(m.sum())
        rows.append({"bin": b, "lo": b / n_bins, "hi": (b + 1) / n_bins, "count": n_b,
                     "mean_conf": float(q[m].mean()) if n_b else None,
                     "accuracy": float(c[m].mean()) if n_b else None})
    return rows


def ece(conf, correct, n_bins: int = 10, edges: str = "decimal") -> float:
    """Expected calibration error sum_b (n_b/N) |mean q_b - mean c_b|; nan for no samples."""
    q, _ = _arrays(conf, correct)
    if q.size == 0:
        return math.nan
    table = reliability_table(conf, correct, n_bins, edges)
    return float(sum(r["count"] / q.size * abs(r["mean_conf"] - r["accuracy"]) for r in table if r["count"]))


def brier(conf, correct) -> float:
    """Brier score mean((q - c)^2); 0 is perfect, 0.25 is a constant 0.5; nan for no samples."""
    q, c = _arrays(conf, correct)
    return float(np.mean((q - c) ** 2)) if q.size else math.nan


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks of x, tied values sharing the mean of the ranks they span."""
    _, inv, counts = np.unique(x, return_inverse=True, return_counts=True)
    first = np.cumsum(counts) - counts  # 0-based position of each distinct value's first copy
    return (first + (counts + 1) / 2.0)[inv.reshape(-1)]


def auroc(conf, correct) -> float:
    """Area under the ROC curve of confidence as a detector of correct answers.

    AUROC = (R_pos - n_pos (n_pos + 1) / 2) / (n_pos n_neg), with R_pos the sum of the average ranks
    of the correct answers' confidences; a tie between a correct and a wrong answer counts 0.5.
    Returns nan when either class is missing (the ROC curve is undefined).
    """
    q, c = _arrays(conf, correct)
    pos = c == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    r_pos = _average_ranks(q)[pos].sum()
    return float((r_pos - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _none_if_nan(x: float):
    return None if x is None or math.isnan(x) else x


def _to_float(v) -> float:
    try:
        return math.nan if v is None else float(v)
    except (TypeError, ValueError):  # e.g. an unparsed string: counted as missing
        return math.nan


def calibration_report(confs, correct, n_bins: int = 10, edges: str = "decimal") -> dict:
    """Calibration of a list of verbalised confidences, some of them absent.

    confs: one entry per answer, a float or None (no confidence stated or unparseable; NaN and values
    that float() rejects count the same); correct: one bool per answer. Answers whose confidence is missing or outside [0, 1] are
    counted, not scored: calibration metrics use the scored answers only, `accuracy` uses all answers.
    (RLCR instead gives such answers a format reward of 0; that is a reward choice, not a metric.)

    Returns {"n", "n_missing", "n_out_of_range", "n_scored", "accuracy", "accuracy_scored",
    "mean_conf", "ece", "brier", "auroc", "reliability", "n_bins", "edges"}; a metric that is undefined
    (no scored answers; AUROC with one class) is None.
    """
    if len(confs) != len(correct):
        raise ValueError(f"confs and correct must have the same length, got {len(confs)} and {len(correct)}")
    c_all = np.asarray(correct).reshape(-1)
    if not np.all((c_all == 0) | (c_all == 1)):
        raise ValueError("correct must hold booleans or 0/1")
    q_all = np.array([_to_float(v) for v in confs], dtype=float)
    missing = np.isnan(q_all)
    out_of_range = ~missing & ((q_all < 0) | (q_all > 1) | np.isinf(q_all))
    scored = ~missing & ~out_of_range
    q, c = q_all[scored], c_all[scored].astype(float)
    n_scored = int(scored.sum())
    return {
        "n": int(len(confs)),
        "n_missing": int(missing.sum()),
        "n_out_of_range": int(out_of_range.sum()),
        "n_scored": n_scored,
        "accuracy": float(c_all.mean()) if len(confs) else None,
        "accuracy_scored": float(c.mean()) if n_scored else None,
        "mean_conf": float(q.mean()) if n_scored else None,
        "ece": _none_if_nan(ece(q, c, n_bins, edges)),
        "brier": _none_if_nan(brier(q, c)),
        "auroc": _none_if_nan(auroc(q, c)),
        "reliability": reliability_table(q, c, n_bins, edges),
        "n_bins": n_bins,
        "edges": edges,
    }
