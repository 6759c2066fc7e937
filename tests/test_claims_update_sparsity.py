import numpy as np
import pytest

from priorlab.claims.protocol import judge
from priorlab.claims.update_sparsity import PROTOCOL, Data, measure, rho_mismatch, sft_share_at

# an SFT ladder (share changed, rho), one point per learning rate: the share rises with rho
LADDER = [(0.05, 0.2), (0.15, 0.6), (0.40, 2.0), (0.70, 6.0), (0.90, 20.0)]


def data(rng, rl_share=0.2, rl_rho=2.0, overlap_excess=0.2, n_pairs=1, ladder=LADDER, noise=0.005):
    """[A=1, B=3] RL runs and [A=1, S=3, L=5] SFT runs around the given (share, rho), seed noise `noise`."""
    rl = np.array([[[rl_share, rl_rho]] * 3], dtype=float) + noise * rng.standard_normal((1, 3, 2))
    sft = np.array([[ladder] * 3], dtype=float) + noise * rng.standard_normal((1, 3, len(ladder), 2))
    return Data(rl=rl, sft=sft, overlap_excess=overlap_excess, n_pairs=n_pairs)


def test_sft_share_is_interpolated_in_log_rho():
    curve = np.array([[0.1, 1.0], [0.3, 100.0]])
    assert sft_share_at(10.0, curve) == pytest.approx(0.2)  # log10: halfway between 0 and 2
    assert sft_share_at(1000.0, curve) == pytest.approx(0.3)  # held at the end (the rho_match gate bounds it)
    assert sft_share_at(10.0, curve[::-1]) == pytest.approx(0.2)  # the ladder's order does not matter


def test_rho_mismatch_is_1_inside_the_ladder_else_the_factor_to_its_end():
    assert rho_mismatch(5.0, [1.0, 20.0]) == 1.0
    assert rho_mismatch(50.0, [1.0, 20.0]) == pytest.approx(2.5)
    assert rho_mismatch(0.5, [1.0, 20.0]) == pytest.approx(2.0)


def test_measure_reproduced_when_rl_is_sparser_at_equal_rho_and_shares_a_subnetwork():
    m = measure(data(np.random.default_rng(0)), n_boot=300)
    assert all(g["passed"] for g in m.gates)
    # SFT at rho 2 changes 0.40, RL 0.20: margin 0.40 - 0.20 - 0.10 = 0.10 (< the overlap's 0.2)
    assert m.effect["estimate"] == pytest.approx(0.10, abs=0.02)
    assert judge(PROTOCOL, m)[0] == "reproduced"


def test_measure_not_reproduced_when_rl_changes_what_sft_changes_at_equal_rho():
    m = measure(data(np.random.default_rng(1), rl_share=0.40), n_boot=300)  # the precision-gate account
    assert m.effect["estimate"] == pytest.approx(-0.10, abs=0.02) and m.effect["ci_high"] <= 0
    assert judge(PROTOCOL, m)[0] == "not reproduced"


def test_measure_not_reproduced_when_the_overlap_is_at_magnitude_chance():
    m = measure(data(np.random.default_rng(2), overlap_excess=-0.01), n_boot=300)
    assert m.effect["estimate"] == pytest.approx(-0.01) and judge(PROTOCOL, m)[0] == "not reproduced"


def test_measure_untestable_when_the_update_is_below_half_an_ulp():
    ladder = [(s, r / 10) for s, r in LADDER]
    m = measure(data(np.random.default_rng(3), rl_rho=0.5, ladder=ladder, noise=0.0), n_boot=100)
    verdict, reason = judge(PROTOCOL, m)
    assert verdict == "untestable" and "rho_rl" in reason and "0.5" in reason
    assert [g["name"] for g in m.gates if not g["passed"]] == ["rho_rl"]


def test_measure_untestable_when_sft_never_reaches_rls_rho():
    m = measure(data(np.random.default_rng(4), rl_rho=50.0, noise=0.0), n_boot=100)
    verdict, reason = judge(PROTOCOL, m)
    assert verdict == "untestable" and "rho_match" in reason and "2.5" in reason  # 50 / 20


def test_measure_untestable_with_one_rl_seed():
    m = measure(data(np.random.default_rng(5), overlap_excess=float("nan"), n_pairs=0), n_boot=100)
    assert judge(PROTOCOL, m)[0] == "untestable"
    assert [g["name"] for g in m.gates if not g["passed"]] == ["rl_seed_pairs"]
