import random
from fractions import Fraction

import pytest

from priorlab.evals.formats import decompose, decompose_counts, format_counts


def exact(d: dict) -> dict:
    return {k: Fraction(v) for k, v in d["exact"].items()}


def test_decomposition_by_hand_sums_exactly_to_delta():
    # base: nl 2 samples (1 correct), code 2 (2)  -> shares .5/.5, acc .5/1,  accuracy .75
    # other: nl 1 (1), code 3 (3)                 -> shares .25/.75, acc 1/1, accuracy 1
    # shift  = (.25-.5)*.5 + (.75-.5)*1 = -.125 + .25 = .125
    # within = .25*(1-.5) + .75*(1-1)   = .125            -> .125 + .125 = .25 = 1 - .75
    d = decompose_counts({"nl": (2, 1), "code": (2, 2)}, {"nl": (1, 1), "code": (3, 3)})
    assert (d["base_accuracy"], d["other_accuracy"], d["delta"]) == (0.75, 1.0, 0.25)
    assert (d["format_shift"], d["within_format"]) == (0.125, 0.125)
    assert d["format_shift"] + d["within_format"] == d["delta"]
    assert d["per_format"]["nl"] == {"share_base": 0.5, "share_other": 0.25, "acc_base": 0.5, "acc_other": 1.0,
                                     "format_shift": -0.125, "within_format": 0.125}
    assert d["per_format"]["code"]["format_shift"] == 0.25 and d["per_format"]["code"]["within_format"] == 0.0
    assert (d["n_base"], d["n_other"]) == (4, 4)


def test_formats_absent_on_one_side():
    # base: nl 3 (1 correct), none 1 (0)   -> accuracy 1/4
    # other: nl 2 (2), code 2 (1)          -> accuracy 3/4, delta 1/2
    # nl:   shift (1/2 - 3/4) * 1/3 = -1/12, within 1/2 * (1 - 1/3) = 1/3
    # none: shift (0 - 1/4) * 0 = 0 (absent from other: within 0)
    # code: absent from base, valued at its other accuracy 1/2: shift (1/2 - 0) * 1/2 = 1/4, within 0
    # shift = -1/12 + 1/4 = 1/6, within = 1/3, sum 1/2
    d = decompose_counts({"nl": (3, 1), "none": (1, 0)}, {"nl": (2, 2), "code": (2, 1)})
    e = exact(d)
    assert e == {"delta": Fraction(1, 2), "format_shift": Fraction(1, 6), "within_format": Fraction(1, 3)}
    assert e["format_shift"] + e["within_format"] == e["delta"]
    assert d["per_format"]["code"]["acc_base"] is None and d["per_format"]["code"]["format_shift"] == 0.25
    assert d["per_format"]["none"]["acc_other"] is None and d["per_format"]["none"]["within_format"] == 0.0


def test_a_pure_format_switch_is_all_shift():
    # direct 4 samples, 1 correct -> code 4 samples, 4 correct: shift -1*.25 + 1*1 = .75, within 0
    d = decompose_counts({"direct": (4, 1)}, {"code": (4, 4)})
    assert (d["delta"], d["format_shift"], d["within_format"]) == (0.75, 0.75, 0.0)


def test_identity_is_exact_for_random_counts():
    rng = random.Random(0)
    fmts = ["direct", "nl", "code", "none"]
    for _ in range(200):
        sides = []
        for _side in range(2):
            counts = {}
            for f in rng.sample(fmts, rng.randint(1, 4)):
                n = rng.randint(1, 50)
                counts[f] = (n, rng.randint(0, n))
            sides.append(counts)
        d = decompose_counts(*sides)
        e = exact(d)
        pooled = [Fraction(sum(c for _, c in s.values()), sum(n for n, _ in s.values())) for s in sides]
        assert e["delta"] == pooled[1] - pooled[0]  # share-weighted accuracy == pooled accuracy
        assert e["format_shift"] + e["within_format"] == e["delta"]
        assert sum(r["format_shift"] for r in d["per_format"].values()) == pytest.approx(d["format_shift"], abs=1e-12)


def test_decompose_from_float_shares_and_validation():
    d = decompose({"nl": 0.1, "code": 0.9}, {"nl": 0.5, "code": 0.8},
                  {"nl": 0.3, "code": 0.7}, {"nl": 0.6, "code": 0.8})
    e = exact(d)
    assert e["format_shift"] + e["within_format"] == e["delta"]
    assert d["delta"] == pytest.approx((0.3 * 0.6 + 0.7 * 0.8) - (0.1 * 0.5 + 0.9 * 0.8))
    with pytest.raises(ValueError, match="sum to 1"):
        decompose({"nl": 0.5}, {"nl": 1.0}, {"nl": 1.0}, {"nl": 1.0})
    with pytest.raises(ValueError, match="no accuracy"):
        decompose({"nl": 1.0}, {}, {"nl": 1.0}, {"nl": 1.0})
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        decompose({"nl": 1.0}, {"nl": 1.5}, {"nl": 1.0}, {"nl": 1.0})
    with pytest.raises(ValueError, match="no samples"):
        decompose_counts({}, {"nl": (1, 1)})


def test_format_counts():
    comps = [{"format": "nl", "correct": True}, {"format": "nl", "correct": False},
             {"format": None, "correct": False}, {"format": "code", "correct": True}]
    assert format_counts(comps) == {"code": (1, 1), "nl": (2, 1), "none": (1, 0)}
