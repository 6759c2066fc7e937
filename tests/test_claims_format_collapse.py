import numpy as np
import pytest

from priorlab.claims.format_collapse import PROTOCOL, Data, choose_winner, measure
from priorlab.claims.protocol import judge
from priorlab.world.formats import FORMATS

DIRECT, NL, CODE = (FORMATS.index(f) for f in ("direct", "nl", "code"))


def shares(rng, means, b=2):
    """[A=2, B=b, P=150, F=3] per-problem format shares around `means` (each row renormalised to sum to 1)."""
    x = np.clip(np.asarray(means) + 0.05 * rng.standard_normal((2, b, 150, 3)), 0, None)
    return x / x.sum(axis=-1, keepdims=True)


def data(rng, after_large=(0.1, 0.1, 0.8), after_small=(0.1, 0.8, 0.1), prior=(1 / 3, 1 / 3, 1 / 3), **kw):
    d = dict(before_large=shares(rng, prior, 1), after_large=shares(rng, after_large), before_small=shares(rng, prior, 1),
             after_small=shares(rng, after_small), winner_large=CODE, winner_small=NL, size_ratio=3.4,
             groups_all_equal_max=0.4)
    return Data(**{**d, **kw})


def test_reproduced_when_each_size_collapses_on_its_own_winner():
    m = measure(data(np.random.default_rng(0)), n_boot=300)
    assert all(g["passed"] for g in m.gates)
    h = m.metrics["halves"]
    assert abs(h["collapse_large"]["estimate"] - (0.8 - 1 / 3)) < 0.03
    assert abs(h["winner_depends_on_size"]["estimate"] - 0.7) < 0.03  # 0.8 - 0.1 at each size
    assert abs(m.effect["estimate"] - (0.8 - 1 / 3)) < 0.03  # the smallest half
    assert judge(PROTOCOL, m)[0] == "reproduced"


def test_not_reproduced_when_the_same_format_wins_at_both_sizes():
    # collapse at both sizes (the first half holds) but on code at both: the scale half is exactly 0
    m = measure(data(np.random.default_rng(1), after_small=(0.1, 0.1, 0.8), winner_small=CODE), n_boot=300)
    assert m.metrics["halves"]["collapse_small"]["ci_low"] > 0.2
    assert m.effect["estimate"] == 0.0 and m.effect["ci_high"] == 0.0
    assert judge(PROTOCOL, m)[0] == "not reproduced"


def test_not_reproduced_when_rl_does_not_move_the_shares():
    m = measure(data(np.random.default_rng(2), after_large=(1 / 3,) * 3, after_small=(1 / 3,) * 3), n_boot=300)
    assert m.effect["ci_high"] <= 0.2 and judge(PROTOCOL, m)[0] == "not reproduced"


def test_not_reproduced_when_the_held_out_winner_is_not_the_one_that_grows():
    # RL collapses on nl at the large size, but the held-out run chose code: no post-hoc rescue
    m = measure(data(np.random.default_rng(3), after_large=(0.1, 0.8, 0.1), after_small=(0.8, 0.1, 0.1),
                     winner_small=DIRECT), n_boot=300)
    assert m.metrics["halves"]["collapse_large"]["estimate"] < 0
    assert judge(PROTOCOL, m)[0] == "not reproduced"


@pytest.mark.parametrize("kw, gate", [
    ({"size_ratio": 1.0}, "size_ratio"),
    ({"prior": (0.9, 0.05, 0.05)}, "second_format_share_min"),
    ({"groups_all_equal_max": 0.9}, "groups_all_equal_max"),
])
def test_untestable_names_the_failed_gate(kw, gate):
    m = measure(data(np.random.default_rng(4), **kw), n_boot=200)
    verdict, reason = judge(PROTOCOL, m)
    assert verdict == "untestable" and [g["name"] for g in m.gates if not g["passed"]] == [gate] and gate in reason


def test_untestable_when_the_winner_already_dominates_the_prior():
    m = measure(data(np.random.default_rng(5), prior=(0.0, 0.15, 0.85)), n_boot=200)
    assert m.metrics["prior_shares"]["large"]["code"] > 0.8 and m.metrics["prior_shares"]["small"]["nl"] >= 0.1
    assert [g["name"] for g in m.gates if not g["passed"]] == ["winner_share_before_max"]


def test_choose_winner_reads_the_last_quarter_of_the_held_out_runs():
    # run 1 (8 steps): last 2 steps nl .6/.7 vs code .3/.2; run 2 (4 steps): last step nl .5, code .4
    run1 = {"direct": [0.3] * 8, "nl": [0.3] * 6 + [0.6, 0.7], "code": [0.4] * 6 + [0.3, 0.2]}
    run2 = {"direct": [0.2, 0.2, 0.2, 0.1], "nl": [0.2, 0.2, 0.2, 0.5], "code": [0.6, 0.6, 0.6, 0.4]}
    w, means = choose_winner([run1, run2])
    assert FORMATS[w] == "nl" and abs(means["nl"] - (0.65 + 0.5) / 2) < 1e-12 and abs(means["code"] - 0.325) < 1e-12
