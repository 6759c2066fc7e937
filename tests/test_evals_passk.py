import math

import numpy as np
import pytest

from priorlab.evals.passk import compare_curves, crossover_k, default_ks, pass_at_k, passk_curve, passk_matrix


def comb_pass_at_k(n: int, c: int, k: int) -> float:
    """Slow oracle: the definition 1 - C(n-c, k) / C(n, k) in exact integer arithmetic."""
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)  # math.comb(m, k) = 0 for k > m


def test_pass_at_k_matches_combinatorial_definition_on_random_cases():
    rng = np.random.default_rng(0)
    for _ in range(2000):
        n = int(rng.integers(1, 300))
        c = int(rng.integers(0, n + 1))
        k = int(rng.integers(1, n + 1))
        assert pass_at_k(n, c, k) == pytest.approx(comb_pass_at_k(n, c, k), rel=1e-9, abs=1e-12)


def test_pass_at_k_hand_values_and_edge_cases():
    assert pass_at_k(4, 1, 2) == 0.5   # 1 - C(3,2)/C(4,2) = 1 - 3/6
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)  # pass@1 = c/n
    assert pass_at_k(5, 2, 2) == pytest.approx(0.7)   # 1 - C(3,2)/C(5,2) = 1 - 3/10
    assert pass_at_k(256, 0, 256) == 0.0  # c = 0 -> exactly 0
    assert pass_at_k(8, 8, 1) == 1.0      # all correct
    assert pass_at_k(8, 5, 4) == 1.0      # n - c = 3 < k = 4: every 4-subset holds a correct one
    assert pass_at_k(1024, 1, 1024) == 1.0
    assert isinstance(pass_at_k(4, 1, 2), float)


def test_pass_at_k_vectorised_over_problems_with_mixed_n():
    n = np.array([4, 4, 10, 16])
    c = np.array([0, 1, 3, 16])
    out = pass_at_k(n, c, 2)
    assert out.shape == (4,)
    expected = [comb_pass_at_k(int(a), int(b), 2) for a, b in zip(n, c)]
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    np.testing.assert_allclose(pass_at_k(8, np.array([0, 4, 8]), 1), [0.0, 0.5, 1.0])


def test_pass_at_k_rejects_bad_inputs():
    with pytest.raises(ValueError, match=r"k=5 > n=4"):
        pass_at_k(4, 1, 5)
    with pytest.raises(ValueError, match="k >= 1"):
        pass_at_k(4, 1, 0)
    with pytest.raises(ValueError, match="c <= n"):
        pass_at_k(4, 5, 1)
    with pytest.raises(ValueError, match="integer"):
        pass_at_k(4.5, 1, 1)


def test_passk_curve_means_and_ci():
    # problem 0: 1 of 4 correct; problem 1: 4 of 4; problem 2: 0 of 4
    correct = np.array([[1, 0, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0]], dtype=bool)
    curve = passk_curve(correct, ks=[4, 1, 2], n_boot=200, seed=0)
    assert curve["k"] == [1, 2, 4]
    # k=1: (1/4 + 1 + 0)/3; k=2: (1/2 + 1 + 0)/3 (1 - C(3,2)/C(4,2) = 1/2); k=4: (1 + 1 + 0)/3
    np.testing.assert_allclose(curve["mean"], [1.25 / 3, 1.5 / 3, 2 / 3])
    for m, lo, hi in zip(curve["mean"], curve["ci_low"], curve["ci_high"]):
        assert 0.0 <= lo <= m <= hi <= 1.0
    assert curve["n_problems"] == 3 and curve["n_samples"] == 4
    assert passk_curve(correct, ks=[1, 2, 4], n_boot=200, seed=0) == curve
    np.testing.assert_allclose(passk_matrix(correct, [1, 2, 4])[0], [0.25, 0.5, 1.0])
    with pytest.raises(ValueError, match=r"k=8 with n=4"):
        passk_curve(correct, ks=[1, 8])


def test_default_ks():
    assert default_ks(8) == [1, 2, 4, 8]
    assert default_ks(12) == [1, 2, 4, 8, 12]
    assert default_ks(1) == [1]


def test_crossover_k_rule():
    ks = [1, 2, 4, 8]
    assert crossover_k(ks, [0.3, 0.1, -0.05, -0.2]) == 4  # RL ahead at k=1, behind from k=4
    assert crossover_k(ks, [-0.1, 0.0, 0.2, 0.3]) == 4
    assert crossover_k(ks, [0.3, 0.2, 0.1, 0.0]) is None  # touches 0 but never flips
    assert crossover_k(ks, [0.0, -0.1, -0.2, -0.3]) is None  # no direction at the smallest k


def test_compare_curves_finds_the_pass_at_k_crossover():
    # base: every problem solved by 2 of 16 samples -> pass@1 = 1/8, pass@16 = 1
    # other (sharpened): half the problems always solved, half never -> 0.5 at every k
    p = 40
    base = np.zeros((p, 16), dtype=bool)
    base[:, :2] = True
    other = np.zeros((p, 16), dtype=bool)
    other[: p // 2] = True
    cmp = compare_curves(base, other, ks=[1, 2, 4, 8, 16], n_boot=300, seed=0)
    # diff at k=1: 0.5 - 0.125 = 0.375; k=2: 1 - C(14,2)/C(16,2) = 1 - 91/120 -> 0.5 - 0.2417 > 0
    # k=4: 1 - C(14,4)/C(16,4) = 1 - 1001/1820 = 0.45 -> diff 0.05; k=8: 1 - 3003/12870 = 0.7667 -> < 0
    assert cmp["diff"][0] == pytest.approx(0.375)
    assert cmp["diff"][2] == pytest.approx(0.5 - 0.45)
    assert cmp["diff"][4] == pytest.approx(0.5 - 1.0)
    assert cmp["crossover_k"] == 8 and cmp["reference_k"] == 1
    assert cmp["ci_high"][4] < 0 < cmp["ci_low"][0]
    np.testing.assert_allclose(np.array(cmp["other"]) - np.array(cmp["base"]), cmp["diff"])
    with pytest.raises(ValueError, match="same problems"):
        compare_curves(base, other[:10])
