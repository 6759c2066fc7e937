"""Tests for priorlab.rl.algos: each formula against a hand-computed value, the arithmetic next to it,
and the vectorised clipped loss against a slow per-token loop."""

import dataclasses
import math

import pytest
import torch

from priorlab.rl import algos
from priorlab.rl.algos import (
    PRESETS,
    AlgoConfig,
    advantage_metrics,
    aggregate,
    dynamic_sampling_mask,
    group_advantages,
    hicra_advantages,
    kl_k3,
    policy_loss,
    resolve_algo,
)

T = torch.tensor
GROUP = T([[1.0, 0.0, 0.0, 1.0]])


def cfg(**kw):
    return AlgoConfig(**kw).validate()


def close(actual, expected, atol=1e-5):
    actual, expected = torch.as_tensor(actual).float(), torch.as_tensor(expected).float()
    torch.testing.assert_close(actual, expected, atol=atol, rtol=0)


def logs(ratios):
    """old logprobs all log(.5); new logprobs such that exp(new - old) = the given ratios."""
    old = torch.full((len(ratios), len(ratios[0])), math.log(0.5))
    return (old + torch.log(T(ratios))).requires_grad_(), old


# ---------------------------------------------------------------- baselines


def test_grpo_population_std():
    # group [1,0,0,1]: mean .5, population std .5 -> advantages (±.5)/(.5 + 1e-6) ≈ ±1
    close(group_advantages(GROUP, cfg(baseline="mean_std")), [[1, -1, -1, 1]])


def test_grpo_sample_std():
    # sample std = sqrt((4 · .25)/3) = .5774 -> ±.5/.5774 = ±.8660
    adv = group_advantages(GROUP, cfg(baseline="mean_std_sample"))
    close(adv, [[0.8660, -0.8660, -0.8660, 0.8660]], atol=1e-4)


def test_dr_grpo_mean_only():
    # R - mean = [1-.5, 0-.5, 0-.5, 1-.5]
    close(group_advantages(GROUP, cfg(baseline="mean")), [[0.5, -0.5, -0.5, 0.5]])


def test_rloo_leave_one_out():
    # [1,0,0,1]: sample 0: 1 - mean(0,0,1) = 2/3; sample 1: 0 - mean(1,0,1) = -2/3; same for 3 and 2
    close(group_advantages(GROUP, cfg(baseline="rloo")), [[2 / 3, -2 / 3, -2 / 3, 2 / 3]])
    # group [3,1,2]: 3 - (1+2)/2 = 1.5; 1 - (3+2)/2 = -1.5; 2 - (3+1)/2 = 0
    close(group_advantages(T([[3.0, 1.0, 2.0]]), cfg(baseline="rloo")), [[1.5, -1.5, 0.0]])


def test_no_baseline_is_raw_reward():
    close(group_advantages(T([[0.3, 2.0]]), cfg(baseline="none")), [[0.3, 2.0]])


def test_all_equal_group_gets_zero_advantage_under_every_centred_baseline_and_is_counted():
    rewards = T([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 1.0]])
    for baseline in ("mean_std", "mean_std_sample", "mean", "rloo"):
        adv = group_advantages(rewards, cfg(baseline=baseline))
        assert torch.equal(adv[:2], torch.zeros(2, 3)), baseline  # 0/(0 + eps) = 0 exactly, no NaN
    metrics = advantage_metrics(rewards, group_advantages(rewards, cfg(baseline="mean")))
    assert metrics["frac_groups_all_equal"] == pytest.approx(2 / 3)
    # adv of row 3 (mean 2/3): [1/3, -2/3, 1/3] -> 2 positive, 1 negative of 9; |adv| sum 4/3 over 9
    assert metrics["frac_adv_positive"] == pytest.approx(2 / 9)
    assert metrics["frac_adv_negative"] == pytest.approx(1 / 9)
    assert metrics["adv_abs_mean"] == pytest.approx(4 / 27)


def test_group_of_one_sample_raises_except_without_baseline():
    for baseline in ("mean_std", "mean_std_sample", "mean", "rloo"):
        with pytest.raises(ValueError, match="G >= 2"):
            group_advantages(T([[1.0], [0.0]]), cfg(baseline=baseline))
    close(group_advantages(T([[1.0], [0.0]]), cfg(baseline="none")), [[1.0], [0.0]])
    assert dynamic_sampling_mask(T([[1.0], [0.0]])).tolist() == [False, False]  # one sample: all equal


# ---------------------------------------------------------------- sign control (arXiv 2506.01347)


def test_psr_nsr_w_reinforce_on_01_rewards():
    # pm1: [1,0,0,1] -> [+1,-1,-1,+1]; PSR keeps +, NSR keeps -, W-REINFORCE scales + by λ = .1
    close(group_advantages(GROUP, resolve_algo("psr")), [[1, 0, 0, 1]])
    close(group_advantages(GROUP, resolve_algo("nsr")), [[0, -1, -1, 0]])
    close(group_advantages(GROUP, resolve_algo("w_reinforce")), [[0.1, -1, -1, 0.1]])
    close(group_advantages(GROUP, resolve_algo("reinforce")), [[1, -1, -1, 1]])


def test_pm1_accepts_pm1_rewards_and_rejects_continuous():
    pm = T([[1.0, -1.0, -1.0, 1.0]])
    close(group_advantages(pm, resolve_algo("nsr")), [[0, -1, -1, 0]])  # ±1 rewards are not shifted to -3
    with pytest.raises(ValueError, match="pm1"):
        group_advantages(T([[0.5, 1.0]]), resolve_algo("psr"))


def test_psr_plus_nsr_is_reinforce_and_lambda_one_recovers_it():
    rewards = torch.randint(0, 2, (5, 8)).float()
    psr, nsr = group_advantages(rewards, resolve_algo("psr")), group_advantages(rewards, resolve_algo("nsr"))
    reinforce = group_advantages(rewards, resolve_algo("reinforce"))
    close(psr + nsr, reinforce)  # L_RLVR = L_PSR + L_NSR (paper eq. 2)
    close(group_advantages(rewards, resolve_algo("w_reinforce", w_lambda=1.0)), reinforce)


def test_sign_filter_on_a_mean_baseline():
    # [1,0,0,0]: mean .25 -> [.75, -.25, -.25, -.25]; PSR keeps .75, NSR keeps the three -.25
    rewards = T([[1.0, 0.0, 0.0, 0.0]])
    close(group_advantages(rewards, cfg(baseline="mean", sign="positive")), [[0.75, 0, 0, 0]])
    close(group_advantages(rewards, cfg(baseline="mean", sign="negative")), [[0, -0.25, -0.25, -0.25]])


# ---------------------------------------------------------------- dynamic sampling, HICRA


def test_dynamic_sampling_mask():
    rewards = T([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 1.0], [0.3, 0.3, 0.7]])
    assert dynamic_sampling_mask(rewards).tolist() == [False, False, True, True]


def test_hicra_advantages():
    # planning tokens: +1 -> 1 + .2·1 = 1.2, -1 -> -1 + .2·1 = -.8; execution tokens unchanged
    adv = T([1.0, -1.0])
    planning = T([[True, False], [True, False]])
    close(hicra_advantages(adv, planning, 0.2), [[1.2, 1.0], [-0.8, -1.0]])


def test_hicra_inside_policy_loss():
    # ratio 1, unclipped, token_mean over 4 tokens: loss = -(1.2 + 1 - .8 - 1)/4 = -.1
    c = cfg(clip=False, agg="token_mean", hicra_alpha=0.2)
    lp, old = logs([[1.0, 1.0], [1.0, 1.0]])
    planning = T([[True, False], [True, False]])
    mask = torch.ones(2, 2, dtype=torch.bool)
    loss, m = policy_loss(lp, old, T([1.0, -1.0]), mask, c, planning_mask=planning)
    close(loss, -0.1)
    assert m["planning_frac"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="planning_mask"):
        policy_loss(lp, old, T([1.0, -1.0]), torch.ones(2, 2, dtype=torch.bool), c)


# ---------------------------------------------------------------- clipped surrogate


@pytest.mark.parametrize(
    "ratio, adv, expected_loss, grad_zero",
    [
        (1.5, 1.0, -1.2, True),  # A>0 above band: -min(1.5, 1.2) = -1.2, clipped
        (0.5, 1.0, -0.5, False),  # A>0 below band: -min(.5, .8) = -.5, not clipped
        (1.1, 1.0, -1.1, False),  # inside band: -1.1
        (0.5, -1.0, 0.8, True),  # A<0 below band: -min(-.5, -.8) = .8, clipped
        (1.5, -1.0, 1.5, False),  # A<0 above band: -min(-1.5, -1.2) = 1.5, not clipped
    ],
)
def test_clipped_loss_single_token(ratio, adv, expected_loss, grad_zero):
    lp, old = logs([[ratio]])
    loss, _ = policy_loss(lp, old, T([adv]), T([[True]]), cfg(agg="token_mean"))
    close(loss, expected_loss)
    loss.backward()
    # d(-A·r)/d logp = -A·r when unclipped
    close(lp.grad, [[0.0 if grad_zero else -adv * ratio]])


def test_clip_higher_asymmetric_bounds():
    c = cfg(eps_low=0.2, eps_high=0.28, agg="token_mean")
    # A>0: ratio 1.25 < 1.28 passes unclipped (-1.25); ratio 1.3 is capped at 1.28
    for ratio, expected in ((1.25, -1.25), (1.3, -1.28)):
        lp, old = logs([[ratio]])
        close(policy_loss(lp, old, T([1.0]), T([[True]]), c)[0], expected)
    # A<0: ratio .79 < .8 is raised to .8 -> -min(-.79, -.8) = .8; ratio 1.3 stays (no upper clip for A<0)
    for ratio, expected in ((0.79, 0.8), (1.3, 1.3)):
        lp, old = logs([[ratio]])
        close(policy_loss(lp, old, T([-1.0]), T([[True]]), c)[0], expected)


def test_clip_fractions_low_and_high_counted_separately():
    # 5 real tokens: row 0 (A=+1) ratios 1.5, 1.3, .6 -> 2 high-clipped (> 1.28), .6 is not clipped for A>0;
    # row 1 (A=-1) ratios .5, 1.5 -> 1 low-clipped (< .8); the padded 6th token (ratio .1) is ignored
    lp, old = logs([[1.5, 1.3, 0.6], [0.5, 1.5, 0.1]])
    mask = T([[True, True, True], [True, True, False]])
    _, m = policy_loss(lp, old, T([1.0, -1.0]), mask, cfg(eps_high=0.28, agg="token_mean"))
    assert m["clip_frac_high"] == pytest.approx(2 / 5)
    assert m["clip_frac_low"] == pytest.approx(1 / 5)
    assert m["clip_frac"] == pytest.approx(3 / 5)
    assert m["ratio_max"] == pytest.approx(1.5) and m["ratio_min"] == pytest.approx(0.5)
    assert m["ratio_mean"] == pytest.approx((1.5 + 1.3 + 0.6 + 0.5 + 1.5) / 5)
    assert m["n_tokens"] == 5


def test_unclipped_loss_and_would_clip_metric():
    # -A·r = -1.5 for A=1, r=1.5: no clip, gradient -1.5; the band (ε .2) would have clipped it
    lp, old = logs([[1.5]])
    loss, m = policy_loss(lp, old, T([1.0]), T([[True]]), cfg(clip=False, agg="token_mean"))
    close(loss, -1.5)
    loss.backward()
    close(lp.grad, [[-1.5]])
    assert m["clip_frac_high"] == 1.0


def test_gradient_of_unclipped_token_mean_is_minus_a_over_n():
    # on-policy (ratio 1), N = 3 real tokens, A = [2, -1]:
    # d loss / d logp = -A/N = [-2/3, -2/3 | 1/3], 0 on padding
    lp, old = logs([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    mask = T([[True, True, False], [True, False, False]])
    loss, _ = policy_loss(lp, old, T([2.0, -1.0]), mask, cfg(clip=False, agg="token_mean"))
    loss.backward()
    close(lp.grad, [[-2 / 3, -2 / 3, 0.0], [1 / 3, 0.0, 0.0]])


def test_advantage_per_sequence_or_per_token_give_the_same_loss():
    lp, old = logs([[1.1, 0.7], [1.4, 0.9]])
    mask = torch.ones(2, 2, dtype=torch.bool)
    a = policy_loss(lp, old, T([0.5, -2.0]), mask, cfg())[0]
    b = policy_loss(lp, old, T([[0.5, 0.5], [-2.0, -2.0]]), mask, cfg())[0]
    close(a, b)


def test_padding_with_inf_and_nan_gives_finite_loss_and_gradients():
    lp = T([[-1.0, -float("inf")], [-0.5, float("nan")]], requires_grad=True)
    old = T([[-1.2, -float("inf")], [-0.4, 0.0]])
    ref = T([[-1.1, float("nan")], [-0.3, -float("inf")]])
    ent = T([[0.7, float("nan")], [0.2, float("inf")]], requires_grad=True)
    mask = T([[True, False], [True, False]])
    c = cfg(kl_beta=0.1, entropy_coef=0.01)
    loss, m = policy_loss(lp, old, T([1.0, -1.0]), mask, c, ref_logprobs=ref, entropies=ent)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(lp.grad).all() and torch.isfinite(ent.grad).all()
    assert all(math.isfinite(v) for v in m.values())
    assert lp.grad[0, 1] == 0 and lp.grad[1, 1] == 0


def slow_clipped_loss(lp, old, adv, mask, eps_low, eps_high, agg):
    """Reference: a per-token Python loop of the PPO-clip loss, then seq_mean or token_mean."""
    rows, total, count = [], 0.0, 0
    for i in range(lp.shape[0]):
        row_sum, row_n = 0.0, 0
        for t in range(lp.shape[1]):
            if not mask[i, t]:
                continue
            r = torch.exp(lp[i, t] - old[i, t])
            term = -torch.min(r * adv[i], torch.clamp(r, 1 - eps_low, 1 + eps_high) * adv[i])
            row_sum, row_n = row_sum + term, row_n + 1
        if row_n:
            rows.append(row_sum / row_n)
        total, count = total + row_sum, count + row_n
    return sum(rows) / len(rows) if agg == "seq_mean" else total / count


@pytest.mark.parametrize("agg", ["seq_mean", "token_mean"])
def test_vectorised_clipped_loss_matches_slow_loop(agg):
    gen = torch.Generator().manual_seed(0)
    c = cfg(eps_low=0.2, eps_high=0.28, agg=agg)
    for _ in range(5):
        old = -torch.rand(6, 7, generator=gen) * 3
        lp = (old + torch.randn(6, 7, generator=gen) * 0.4).requires_grad_()
        adv = torch.randn(6, generator=gen)
        lengths = torch.randint(0, 8, (6,), generator=gen)
        lengths[0] = 7  # at least one real token
        mask = torch.arange(7)[None, :] < lengths[:, None]
        fast, _ = policy_loss(lp, old, adv, mask, c)
        (fast_grad,) = torch.autograd.grad(fast, lp)
        slow = slow_clipped_loss(lp, old, adv, mask, 0.2, 0.28, agg)
        (slow_grad,) = torch.autograd.grad(slow, lp)
        close(fast, slow)
        close(fast_grad, slow_grad)


# ---------------------------------------------------------------- KL and entropy


def test_kl_k3():
    lp = torch.log(T([[0.5, 0.2]]))
    close(kl_k3(lp, lp), [[0.0, 0.0]])  # same policy -> 0
    # logp = log .5, ref = log .25: d = log .5 = -.6931; exp(d) - d - 1 = .5 + .6931 - 1 = .1931
    close(kl_k3(torch.log(T([0.5])), torch.log(T([0.25]))), [0.5 + math.log(2) - 1])


def test_kl_and_entropy_terms_in_loss():
    # one token, ratio 1, A = 0 -> pg 0; k3 = .1931, β = .5 -> +.0966; H = 2, c = .01 -> -.02
    lp, old = logs([[1.0]])
    ref = old + math.log(0.5)  # π_ref = half of π_θ
    c = cfg(kl_beta=0.5, entropy_coef=0.01)
    loss, m = policy_loss(lp, old, T([0.0]), T([[True]]), c, ref_logprobs=ref, entropies=T([[2.0]]))
    close(loss, 0.5 * (0.5 + math.log(2) - 1) - 0.02)
    assert m["kl"] == pytest.approx(0.5 + math.log(2) - 1, abs=1e-5) and m["entropy"] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="ref_logprobs"):
        policy_loss(lp, old, T([0.0]), T([[True]]), cfg(kl_beta=0.5))
    with pytest.raises(ValueError, match="entropies"):
        policy_loss(lp, old, T([0.0]), T([[True]]), cfg(entropy_coef=0.01))


# ---------------------------------------------------------------- aggregation


def test_aggregation_modes_on_a_ragged_mask():
    values = T([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    mask = T([[True, True, False], [True, False, False]])
    close(aggregate(values, mask, "token_mean"), 7 / 3)  # (1 + 2 + 4) / 3 tokens
    close(aggregate(values, mask, "seq_mean"), 2.75)  # ((1+2)/2 + 4/1) / 2 rows = (1.5 + 4)/2
    close(aggregate(values, mask, "constant", 4.0), 0.875)  # (1 + 2 + 4) / (2 rows · C=4)


def test_aggregation_with_empty_rows_has_no_nan():
    values = T([[1.0, 2.0, 3.0], [float("nan"), 5.0, 6.0]], requires_grad=True)
    mask = T([[True, True, False], [False, False, False]])
    close(aggregate(values, mask, "seq_mean"), 1.5)  # empty row left out: (1+2)/2 over 1 row
    close(aggregate(values, mask, "token_mean"), 1.5)  # (1+2)/2 tokens
    close(aggregate(values, mask, "constant", 2.0), 0.75)  # (1+2)/(2 rows · 2): the empty row counts in B
    empty = torch.zeros(2, 3, dtype=torch.bool)
    for mode in ("seq_mean", "token_mean"):
        out = aggregate(values, empty, mode)
        out.backward()
        assert out.item() == 0.0 and torch.isfinite(values.grad).all()


# ---------------------------------------------------------------- config, presets, validation


def test_every_preset_validates():
    for name, preset in PRESETS.items():
        if preset.agg == "constant":  # Dr. GRPO's constant is the max generation length: the caller's to give
            with pytest.raises(ValueError, match="agg_constant"):
                resolve_algo(name)
            assert resolve_algo(name, agg_constant=512).agg_constant == 512
        else:
            assert resolve_algo(name) == preset


def test_presets_set_what_the_papers_say():
    dapo = PRESETS["dapo"]
    assert (dapo.eps_low, dapo.eps_high, dapo.agg, dapo.dynamic_sampling) == (0.2, 0.28, "token_mean", True)
    assert (PRESETS["dr_grpo"].baseline, PRESETS["dr_grpo"].agg) == ("mean", "constant")
    assert PRESETS["grpo"].baseline == "mean_std_sample" and PRESETS["grpo"].agg == "seq_mean"
    assert PRESETS["rloo"].baseline == "rloo"
    assert PRESETS["w_reinforce"].w_lambda == 0.1 and PRESETS["hicra"].hicra_alpha == 0.2
    for name in ("psr", "nsr", "w_reinforce", "reinforce"):
        p = PRESETS[name]
        assert (p.reward_map, p.baseline, p.kl_beta) == ("pm1", "none", 0.0), name
    # presets differ from their base in the named fields only
    assert dataclasses.replace(PRESETS["hicra"], hicra_alpha=0.0) == PRESETS["grpo"]


def test_overrides_one_by_one():
    c = resolve_algo("grpo", clip=False, baseline="mean_std", kl_beta=0.01)
    assert (c.clip, c.baseline, c.kl_beta, c.agg) == (False, "mean_std", 0.01, "seq_mean")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(sign="positive", baseline="mean_std", reward_map="pm1"), "std normalisation"),
        (dict(sign="negative", baseline="mean_std_sample", reward_map="pm1"), "std normalisation"),
        (dict(sign="weighted", w_lambda=0.1, baseline="mean_std", reward_map="pm1"), "std normalisation"),
        (dict(sign="negative", baseline="none"), "pm1"),  # 0/1 rewards would give NSR nothing to push down
        (dict(w_lambda=0.5), "w_lambda"),  # would be ignored without sign='weighted'
        (dict(sign="weighted", baseline="none", reward_map="pm1"), "w_lambda"),
        (dict(agg="constant"), "agg_constant"),
        (dict(agg_constant=100.0), "agg_constant"),  # would be ignored
        (dict(agg="constant", agg_constant=0.0), "agg_constant"),
        (dict(eps_low=1.0), "eps_low"),
        (dict(eps_high=-0.1), "eps_high"),
        (dict(kl_beta=-1.0), "kl_beta"),
        (dict(hicra_alpha=1.0), "hicra_alpha"),
        (dict(std_eps=0.0), "std_eps"),
        (dict(baseline="zscore"), "valid: mean_std, mean_std_sample, mean, rloo, none"),
        (dict(sign="neg"), "valid: all, positive, negative, weighted"),
        (dict(agg="sum"), "valid: seq_mean, token_mean, constant"),
        (dict(reward_map="binary"), "valid: identity, pm1"),
    ],
)
def test_invalid_combinations_raise_one_line(kwargs, match):
    with pytest.raises(ValueError, match=match) as err:
        AlgoConfig(**kwargs).validate()
    assert "\n" not in str(err.value)


def test_invalid_config_is_refused_by_the_functions_too():
    bad = AlgoConfig(sign="positive", baseline="mean_std", reward_map="pm1")  # constructed, never validated
    with pytest.raises(ValueError):
        group_advantages(GROUP, bad)
    lp, old = logs([[1.0]])
    with pytest.raises(ValueError):
        policy_loss(lp, old, T([1.0]), T([[True]]), bad)


def test_unknown_preset_and_field_list_the_valid_ones():
    valid = "valid: grpo, dr_grpo, dapo, rloo, reinforce, psr, nsr, w_reinforce, hicra"
    with pytest.raises(ValueError, match=valid):
        resolve_algo("ppo")
    with pytest.raises(ValueError, match="unknown AlgoConfig field"):
        resolve_algo("grpo", epsilon=0.3)


def test_resolve_for_budget_sets_dr_grpos_constant_to_the_generation_budget():
    assert algos.resolve_for_budget("dr_grpo", max_new_tokens=96).agg_constant == 96.0
    assert algos.resolve_for_budget("dr_grpo", (("agg_constant", 7.0),), max_new_tokens=96).agg_constant == 7.0
    assert algos.resolve_for_budget("grpo", (("eps_high", 0.3),), max_new_tokens=96) == algos.resolve_algo(
        "grpo", eps_high=0.3)  # other presets: just the overrides
