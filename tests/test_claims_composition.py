import numpy as np

from priorlab.claims.composition import PROTOCOL, Data, composed_share, measure
from priorlab.claims.passk_boundary import passk
from priorlab.claims.protocol import judge

N = 32  # samples per problem


def counts(rng, solvable, p, b=2):
    """[A=2, b, P=120] correct counts of N samples: problems below `solvable` (a share) have success rate p, the
    rest are never solved."""
    P = 120
    rate = np.where(np.arange(P) < round(solvable * P), p, 0.0)
    return rng.binomial(N, np.broadcast_to(rate, (2, b, P)))


def data(rng, base=(0.3, 0.2), rl=(0.6, 0.5), base_c=(0.1, 0.1), rl_c=(0.1, 0.3), **kw):
    d = dict(base=counts(rng, *base, b=1), rl=counts(rng, *rl), base_control=counts(rng, *base_c, b=1),
             rl_control=counts(rng, *rl_c), n=N, atoms_learnt=0.8, composed_in_prior=0.0, control_lacks_g=0.05,
             groups_all_equal=0.5)
    return Data(**{**d, **kw})


def test_pass_at_n_by_hand():
    # pass@n of a problem is 1 if any of its n samples is right: the effect reads coverage at K = n
    assert passk(np.array([0, 1, 32]), 32, 32).tolist() == [0.0, 1.0, 1.0]


def test_reproduced_when_rl_covers_new_problems_and_the_control_does_not():
    # coverage: base 0.3 -> RL 0.6 (+0.3); control 0.1 -> 0.1 (+0): clauses 0.3 and 0.3
    m = measure(data(np.random.default_rng(0)), n_boot=300)
    assert all(g["passed"] for g in m.gates)
    assert abs(m.metrics["clauses"]["creation"]["estimate"] - 0.3) < 0.03
    assert abs(m.effect["estimate"] - 0.3) < 0.04 and m.metrics["k_compared"] == N
    assert judge(PROTOCOL, m)[0] == "reproduced"


def test_not_reproduced_when_rl_only_sharpens_within_the_base_coverage():
    # RL raises the per-sample rate (pass@1) on the problems the base already covers, and no others
    m = measure(data(np.random.default_rng(1), base=(0.3, 0.2), rl=(0.3, 0.8)), n_boot=300)
    assert m.metrics["pass1"]["rl"] > 3 * m.metrics["pass1"]["base"]
    assert abs(m.effect["estimate"]) < 0.03 and m.effect["ci_high"] <= PROTOCOL.delta
    assert judge(PROTOCOL, m)[0] == "not reproduced"


def test_not_reproduced_when_the_control_gains_more():
    # control coverage 0.1 -> 0.5 (+0.4) against the skills prior's +0.3: atoms needed = -0.1
    m = measure(data(np.random.default_rng(2), rl_c=(0.5, 0.5)), n_boot=300)
    assert m.metrics["clauses"]["creation"]["ci_low"] > 0.2
    assert abs(m.metrics["clauses"]["atoms_needed"]["estimate"] + 0.1) < 0.03
    assert judge(PROTOCOL, m)[0] == "not reproduced"


def test_inconclusive_when_the_control_gains_about_as_much():
    # two prior seeds: the nested interval of a zero clause is wider than delta on either side
    m = measure(data(np.random.default_rng(2), rl_c=(0.4, 0.5)), n_boot=300)
    assert abs(m.metrics["clauses"]["atoms_needed"]["estimate"]) < 0.03
    assert judge(PROTOCOL, m)[0] == "inconclusive"


def test_untestable_when_an_atom_was_not_learnt_or_grpo_had_no_gradient():
    m = measure(data(np.random.default_rng(3), atoms_learnt=0.3), n_boot=200)
    verdict, reason = judge(PROTOCOL, m)
    assert verdict == "untestable" and "atoms_learnt" in reason and "0.3" in reason
    m = measure(data(np.random.default_rng(3), groups_all_equal=0.97, control_lacks_g=0.6), n_boot=200)
    assert [g["name"] for g in m.gates if not g["passed"]] == ["control_lacks_g", "groups_all_equal"]


def test_untestable_when_the_base_already_covers_everything():
    m = measure(data(np.random.default_rng(4), base=(1.0, 0.5), rl=(1.0, 0.9)), n_boot=200)
    assert [g["name"] for g in m.gates if not g["passed"]] == ["base_room"]


def test_composed_share_of_the_presets():
    assert composed_share("skills") == 0.0 and composed_share("skills-chain") == 0.0
    assert composed_share("balanced") == 0.0
