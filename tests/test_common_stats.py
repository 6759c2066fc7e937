import numpy as np
import pytest

from priorlab.common.stats import (
    bootstrap_ci,
    hierarchical_bootstrap,
    hierarchical_bootstrap_diff,
    paired_bootstrap_diff,
)


def test_bootstrap_ci_contains_mean_and_is_deterministic_per_seed():
    x = np.random.default_rng(1).normal(3.0, 1.0, size=200)
    r1 = bootstrap_ci(x, n_boot=500, seed=7)
    r2 = bootstrap_ci(x, n_boot=500, seed=7)
    r3 = bootstrap_ci(x, n_boot=500, seed=8)
    assert r1 == r2
    assert r1 != r3
    assert r1["estimate"] == pytest.approx(x.mean())
    assert r1["ci_low"] < x.mean() < r1["ci_high"]
    # standard error of the mean ~ 1/sqrt(200) = 0.071 -> 95% half-width ~ 0.14
    assert 0.09 < (r1["ci_high"] - r1["ci_low"]) / 2 < 0.19


def test_bootstrap_ci_constant_data_has_zero_width_and_keeps_trailing_axes():
    r = bootstrap_ci(np.full((10, 3), [0.25, 0.5, 1.0]), n_boot=50)
    assert r["estimate"] == [0.25, 0.5, 1.0]
    assert r["ci_low"] == r["ci_high"] == [0.25, 0.5, 1.0]


def test_bootstrap_ci_other_statistic_and_bad_inputs():
    x = np.arange(11.0)  # median 5
    assert bootstrap_ci(x, stat=np.median, n_boot=200)["estimate"] == 5.0
    with pytest.raises(ValueError, match="ci"):
        bootstrap_ci(x, ci=1.5)
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_ci(x, n_boot=0)
    with pytest.raises(ValueError, match="shape"):
        bootstrap_ci([])


def test_paired_diff_cancels_shared_unit_variance():
    rng = np.random.default_rng(0)
    difficulty = rng.normal(0, 5, size=100)  # large between-problem spread shared by both conditions
    a = difficulty
    b = difficulty + 0.3 + rng.normal(0, 0.01, size=100)
    r = paired_bootstrap_diff(a, b, n_boot=400, seed=0)
    assert r["estimate"] == pytest.approx(np.mean(b - a))
    assert r["ci_low"] < r["estimate"] < r["ci_high"]
    # paired: the CI width reflects the 0.01 noise (SE 0.001), not the spread of 5 (SE 0.5)
    assert r["ci_high"] - r["ci_low"] < 0.01
    assert r["ci_low"] > 0.29
    with pytest.raises(ValueError, match="same shape"):
        paired_bootstrap_diff(a, b[:50])


def test_hierarchical_bootstrap_reflects_seed_variance():
    rng = np.random.default_rng(0)
    # 4 seeds with very different offsets, 50 problems of small noise
    offsets = np.array([0.0, 0.4, 0.1, 0.5])[:, None]
    arr = offsets + rng.normal(0, 0.01, size=(4, 50))
    h = hierarchical_bootstrap(arr, n_boot=400, seed=3)
    flat = bootstrap_ci(arr.reshape(-1), n_boot=400, seed=3)
    assert h["estimate"] == pytest.approx(arr.mean())
    assert h["ci_low"] < h["estimate"] < h["ci_high"]
    assert h == hierarchical_bootstrap(arr, n_boot=400, seed=3)
    # seed offsets of spread ~0.2 with 4 seeds -> SE ~0.1: much wider than a bootstrap that treats
    # all 200 values as independent problems would say
    assert (h["ci_high"] - h["ci_low"]) > 2 * (flat["ci_high"] - flat["ci_low"])


def test_hierarchical_bootstrap_diff_pairs_problems_across_conditions():
    rng = np.random.default_rng(2)
    difficulty = rng.normal(0, 3, size=60)  # shared by every seed of both conditions
    a = difficulty + rng.normal(0, 0.01, size=(3, 60))
    b = difficulty + 1.0 + rng.normal(0, 0.01, size=(5, 60))
    r = hierarchical_bootstrap_diff(a, b, n_boot=300, seed=0)
    assert r["estimate"] == pytest.approx(b.mean() - a.mean())
    assert r["ci_low"] < 1.0 < r["ci_high"]
    assert r["ci_high"] - r["ci_low"] < 0.05  # difficulty (sd 3) cancels because problems are shared
    with pytest.raises(ValueError, match="problem axis"):
        hierarchical_bootstrap_diff(a, b[:, :10])
