import numpy as np
import pytest

from priorlab.claims.protocol import judge
from priorlab.claims.two_phase import PROTOCOL, Data, measure, phase_lag, smooth, starts_rising, stops_falling

T = np.arange(41)
FALL_THEN_FLAT = np.where(T <= 20, 2 - T / 20, 1.0)  # execution: 2 -> 1 over steps 0..20, then flat
FLAT_THEN_RISE = np.where(T <= 20, 1.0, 1 + (T - 20) / 20)  # planning: flat, then 1 -> 2 over steps 20..40
FALL_ALL_RUN, RISE_ALL_RUN = 2 - T / 40, 1 + T / 40  # both phases over the whole run


def test_smooth_is_a_centred_mean_shrunk_at_the_ends():
    # T = 4: half-width max(1, 4 // 20) = 1 -> [(0+3)/2, (0+3+6)/3, (3+6+9)/3, (6+9)/2]
    assert smooth([0, 3, 6, 9]).tolist() == [1.5, 3.0, 6.0, 7.5]


def test_execution_stops_falling_when_90_percent_of_its_fall_is_done():
    # T = 41 -> window 5; smoothed max (2+1.95+1.9)/3 = 1.95, min 1, tolerance 0.1 * 0.95 = 0.095.
    # step 18: mean(x[16..20]) = 1.10, 0.10 above the minimum still to come; step 19: 1.06, within 0.095
    assert stops_falling(FALL_THEN_FLAT) == 19
    assert stops_falling(np.ones(41)) is None  # never fell
    assert stops_falling(FLAT_THEN_RISE) is None


def test_planning_starts_rising_at_the_last_step_near_its_running_minimum():
    # step 21: mean(x[19..23]) = 1.06, within 0.095 of the running minimum 1; step 22: 1.10, and it stays above
    assert starts_rising(FLAT_THEN_RISE) == 21
    assert starts_rising(np.ones(41)) is None and starts_rising(FALL_THEN_FLAT) is None  # never rose
    # a dip before the rise: the rise starts at the bottom of the dip, not at step 0
    dip = np.where(T <= 10, 1.5 - T / 20, np.where(T <= 20, 1.0, 1 + (T - 20) / 20))
    assert 10 <= starts_rising(dip) <= 22


def test_phase_lag_orders_the_phases():
    assert phase_lag(FALL_THEN_FLAT, FLAT_THEN_RISE) == pytest.approx((21 - 19) / 40)  # one after the other
    assert phase_lag(FALL_ALL_RUN, RISE_ALL_RUN) < -0.7  # together over the whole run
    assert phase_lag(FALL_THEN_FLAT, np.ones(41)) == -1.0  # planning never rose: no second phase
    assert np.isnan(phase_lag([1.0], [1.0]))
    noisy = np.random.default_rng(0).normal(0, 0.02, (2, 41))
    assert phase_lag(FALL_THEN_FLAT + noisy[0], FLAT_THEN_RISE + noisy[1]) > 0


def data(rng, hicra=0.8, grpo=0.7, execution=FALL_THEN_FLAT, planning=FLAT_THEN_RISE, problems=300, **kw):
    """[A=2, B=2, P] accuracies (4 samples per problem) and [A=2, B=2, T] entropy series with small noise."""
    def acc(p):
        return (rng.random((2, 2, problems, 4)) < p).mean(axis=-1)

    def series(x):
        return np.asarray(x, dtype=float) + rng.normal(0, 0.01, (2, 2, len(x)))
    d = dict(hicra=acc(hicra), grpo=acc(grpo), execution=series(execution), planning=series(planning),
             planning_token_share=0.3, hicra_groups_all_equal=0.4)
    return Data(**{**d, **kw})


def test_measure_reproduced_when_hicra_wins_and_the_phases_follow_each_other():
    m = measure(data(np.random.default_rng(1)), n_boot=300)
    assert all(g["passed"] for g in m.gates)
    # min(0.8 - 0.7 - 0.02, lag about 0.05): the lag is the smaller margin
    assert m.effect["estimate"] == pytest.approx(0.05, abs=0.03) and m.effect["ci_low"] > 0
    assert judge(PROTOCOL, m)[0] == "reproduced"


def test_measure_not_reproduced_when_the_phases_run_together():
    m = measure(data(np.random.default_rng(2), execution=FALL_ALL_RUN, planning=RISE_ALL_RUN), n_boot=300)
    assert m.effect["ci_high"] < -0.5 and judge(PROTOCOL, m)[0] == "not reproduced"


def test_measure_not_reproduced_when_hicra_equals_grpo():
    m = measure(data(np.random.default_rng(3), hicra=0.7, problems=2000), n_boot=300)
    assert m.effect["estimate"] == pytest.approx(-0.02, abs=0.01)  # 0 - 0.02, below the lag's margin
    assert judge(PROTOCOL, m)[0] == "not reproduced"


def test_measure_untestable_with_too_few_steps():
    short = data(np.random.default_rng(4))
    m = measure(Data(**{**short.__dict__, "execution": short.execution[:, :, :10],
                        "planning": short.planning[:, :, :10]}), n_boot=100)
    verdict, reason = judge(PROTOCOL, m)
    assert verdict == "untestable" and reason == "gate steps_logged: measured 10, needs >= 20"


@pytest.mark.parametrize("gate, value", [("planning_token_share", 0.01), ("hicra_groups_all_equal", 0.95)])
def test_measure_untestable_names_the_failed_gate(gate, value):
    m = measure(data(np.random.default_rng(5), **{gate: value}), n_boot=100)
    assert judge(PROTOCOL, m)[0] == "untestable"
    assert [g["name"] for g in m.gates if not g["passed"]] == [gate]
