import math

import numpy as np
import pytest

from priorlab.evals.calibration import auroc, bin_index, brier, calibration_report, ece, reliability_table


def rlcr_ece(correctness, confidence):
    """Oracle: the ECE loop of the RLCR code (eval/eval_utils.py get_ece), written out."""
    edges = np.linspace(0, 1, 11)
    edges[0], edges[-1] = -np.inf, np.inf
    idx = np.digitize(confidence, edges) - 1
    total = 0.0
    for b in range(10):
        m = idx == b
        if m.sum():
            total += m.sum() / len(confidence) * abs(confidence[m].mean() - correctness[m].mean())
    return total


def test_ece_of_perfectly_calibrated_table_is_zero():
    # 10 answers at 0.2 with 2 correct, 4 at 0.5 with 2 correct, 5 at 1.0 all correct
    conf = [0.2] * 10 + [0.5] * 4 + [1.0] * 5
    correct = [1, 1] + [0] * 8 + [1, 1, 0, 0] + [1] * 5
    assert ece(conf, correct) == pytest.approx(0.0, abs=1e-12)


def test_ece_of_miscalibrated_table_by_hand():
    # 4 answers at 0.9 with 2 correct: |0.9 - 0.5| = 0.4, weight 4/10
    # 6 answers at 0.3 with 3 correct: |0.3 - 0.5| = 0.2, weight 6/10
    # ECE = 0.4 * 0.4 + 0.6 * 0.2 = 0.28
    conf = [0.9] * 4 + [0.3] * 6
    correct = [1, 1, 0, 0] + [1, 1, 1, 0, 0, 0]
    assert ece(conf, correct) == pytest.approx(0.28)
    assert ece(conf, correct, edges="rlcr") == pytest.approx(0.28)  # 0.3 and 0.9 stay in separate bins


def test_confidence_zero_and_one_land_in_the_outer_bins():
    for edges in ("decimal", "rlcr"):
        assert list(bin_index([0.0, 1.0], edges=edges)) == [0, 9]
    table = reliability_table([0.0, 1.0], [0, 1])
    assert [r["count"] for r in table] == [1, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    assert ece([0.0, 1.0], [0, 1]) == 0.0
    assert ece([1.0], [0]) == 1.0  # said certain, was wrong


def test_decimal_edges_put_tenths_in_their_own_bin_rlcr_edges_do_not():
    tenths = np.arange(11) / 10
    assert list(bin_index(tenths)) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9]
    # RLCR's linspace edges are 0.30000000000000004, 0.6000000000000001, 0.7000000000000001
    assert list(bin_index(tenths, edges="rlcr")) == [0, 1, 2, 2, 4, 5, 5, 6, 8, 9, 9]
    # 0.5 right, 0.6 wrong: decimal bins apart -> (|0.5 - 1| + |0.6 - 0|) / 2 = 0.55;
    # RLCR merges them into one bin: |0.55 - 0.5| = 0.05
    assert ece([0.5, 0.6], [1, 0]) == pytest.approx(0.55)
    assert ece([0.5, 0.6], [1, 0], edges="rlcr") == pytest.approx(0.05)


def test_rlcr_edges_reproduce_the_rlcr_code():
    rng = np.random.default_rng(0)
    for _ in range(20):
        q = np.concatenate([rng.uniform(0, 1, 50), rng.integers(0, 11, 50) / 10])
        c = (rng.uniform(0, 1, 100) < q).astype(float)
        assert ece(q, c, edges="rlcr") == pytest.approx(rlcr_ece(c, q), abs=1e-12)


def test_reliability_table_rows():
    table = reliability_table([0.05, 0.15, 0.12, 0.95], [0, 1, 0, 1])
    assert table[1] == {"bin": 1, "lo": 0.1, "hi": 0.2, "count": 2,
                        "mean_conf": pytest.approx(0.135), "accuracy": 0.5}
    assert table[2]["count"] == 0 and table[2]["mean_conf"] is None and table[2]["accuracy"] is None


def test_brier_by_hand():
    # (0.9 - 1)^2 + (0.2 - 0)^2 + (0.5 - 1)^2 = 0.01 + 0.04 + 0.25 = 0.30 -> / 3 = 0.1
    assert brier([0.9, 0.2, 0.5], [1, 0, 1]) == pytest.approx(0.1)
    assert brier([0.5] * 4, [1, 0, 1, 0]) == pytest.approx(0.25)


def brute_auroc(q, c):
    """Oracle: fraction of (correct, wrong) pairs ordered right, ties counting 0.5."""
    pos = [a for a, y in zip(q, c) if y]
    neg = [a for a, y in zip(q, c) if not y]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def test_auroc_by_hand_with_and_without_ties():
    # pairs (correct, wrong): (0.9,0.8) yes, (0.9,0.6) yes, (0.7,0.8) no, (0.7,0.6) yes -> 3/4
    assert auroc([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0]) == pytest.approx(0.75)
    # (0.5,0.5) tie 0.5, (0.5,0.1) 1, (0.9,0.5) 1, (0.9,0.1) 1 -> 3.5/4
    assert auroc([0.5, 0.5, 0.9, 0.1], [1, 0, 1, 0]) == pytest.approx(0.875)
    assert auroc([0.7] * 4, [1, 0, 1, 0]) == pytest.approx(0.5)  # one constant confidence: chance
    rng = np.random.default_rng(1)
    q, c = rng.integers(0, 11, 60) / 10, rng.integers(0, 2, 60)
    assert auroc(q, c) == pytest.approx(brute_auroc(q, c))


def test_auroc_undefined_with_one_class():
    assert math.isnan(auroc([0.2, 0.9], [1, 1]))
    assert math.isnan(auroc([0.2, 0.9], [0, 0]))


def test_metrics_reject_bad_inputs():
    with pytest.raises(ValueError, match="same length"):
        ece([0.1, 0.2], [1])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        brier([1.5], [1])
    with pytest.raises(ValueError, match="edges"):
        ece([0.1], [1], edges="quantile")


def test_calibration_report_counts_missing_and_out_of_range_separately():
    confs = [0.9, None, 0.2, float("nan"), 0.5, 1.5]
    correct = [True, True, False, False, True, False]
    r = calibration_report(confs, correct)
    assert (r["n"], r["n_missing"], r["n_out_of_range"], r["n_scored"]) == (6, 2, 1, 3)
    assert r["accuracy"] == pytest.approx(3 / 6)           # all answers
    assert r["accuracy_scored"] == pytest.approx(2 / 3)    # answers 0.9/T, 0.2/F, 0.5/T
    assert r["brier"] == pytest.approx(0.1)                # as in test_brier_by_hand
    # bins: 0.9 -> |0.9 - 1| = 0.1, 0.2 -> 0.2, 0.5 -> 0.5; ECE = (0.1 + 0.2 + 0.5) / 3
    assert r["ece"] == pytest.approx(0.8 / 3)
    assert r["auroc"] == pytest.approx(1.0)                # both correct answers above the wrong one
    assert sum(row["count"] for row in r["reliability"]) == 3


def test_calibration_report_with_nothing_scored_gives_none():
    r = calibration_report([None, None], [True, False])
    assert r["n_scored"] == 0 and r["ece"] is None and r["brier"] is None and r["auroc"] is None
    assert r["accuracy"] == 0.5
    assert calibration_report([0.9, 0.8], [True, True])["auroc"] is None  # one class
    assert calibration_report(["high", 0.8], [True, True])["n_missing"] == 1  # unparsed string
