"""Advantages and policy losses for RLVR, as pure tensor functions.

Every departure from textbook GRPO is a named field of `AlgoConfig`, and each field's values live in a
small registry of free functions (reward map, baseline, sign filter, aggregation). Nothing here logs,
keeps state or touches a model: the trainer passes tensors in and gets a loss and a metrics dict back.

    cfg = resolve_algo("dapo")                          # or resolve_algo("grpo", clip=False, ...)
    adv = group_advantages(rewards, cfg)                # [P, G] -> [P, G]
    keep = dynamic_sampling_mask(rewards)               # [P], used by the trainer iff cfg.dynamic_sampling
    loss, metrics = policy_loss(logp, old_logp, adv.reshape(-1), mask, cfg)   # rows b = p*G + g

Tests: `.venv/bin/pytest tests/test_rl_algos.py`.

Presets (each is an `AlgoConfig`; every field can be overridden one by one through `resolve_algo`):

| preset      | reward_map | baseline        | sign     | ε_low/ε_high | agg        | other               |
|-------------|------------|-----------------|----------|--------------|------------|---------------------|
| grpo        | identity   | mean_std_sample | all      | 0.2 / 0.2    | seq_mean   |                     |
| dr_grpo     | identity   | mean            | all      | 0.2 / 0.2    | constant   | agg_constant: set!  |
| dapo        | identity   | mean_std_sample | all      | 0.2 / 0.28   | token_mean | dynamic_sampling    |
| rloo        | identity   | rloo            | all      | 0.2 / 0.2    | seq_mean   |                     |
| reinforce   | pm1        | none            | all      | 0.2 / 0.2    | token_mean |                     |
| psr         | pm1        | none            | positive | 0.2 / 0.2    | token_mean |                     |
| nsr         | pm1        | none            | negative | 0.2 / 0.2    | token_mean |                     |
| w_reinforce | pm1        | none            | weighted | 0.2 / 0.2    | token_mean | w_lambda 0.1        |
| hicra       | identity   | mean_std_sample | all      | 0.2 / 0.2    | seq_mean   | hicra_alpha 0.2     |

Every preset clips the ratio to [1 − ε_low, 1 + ε_high] and has kl_beta = 0 and entropy_coef = 0, as
most seed repos do (the NSR paper states an entropy bonus of 1e-4 while its repo defaults to 1e-3: set
entropy_coef to reproduce either). `grpo` and
`dapo` use the sample (Bessel) std because verl, TRL and the Spurious-Rewards code call `torch.std()`.
`reinforce` is `w_reinforce` at λ = 1 and equals `psr` + `nsr` (arXiv 2506.01347 eq. 2); like the
RLVR-Decomposed code it keeps the PPO clip, which is inert when each rollout gets one update.

Conventions the trainer relies on:
- Shapes: P prompts × G samples; B = P·G sequences, row b = p·G + g; T generated tokens; mask [B, T].
- A sign filter zeroes advantages, it does not drop samples: filtered responses still count in the
  aggregation normaliser, as in RLVR-Decomposed (token mean over every response).
- `dynamic_sampling` is the trainer's to apply: drop (and, as DAPO does, refill) groups where
  `dynamic_sampling_mask` is False *before* the loss, since dropping changes token_mean's normaliser.
- A knob that would be silently ignored is an error: w_lambda without sign='weighted', agg_constant
  without agg='constant', kl_beta > 0 without ref_logprobs, entropy_coef > 0 without entropies,
  hicra_alpha > 0 without planning_mask.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from priorlab.common import config

# ---------------------------------------------------------------- reward maps: R [P, G] -> R' [P, G]


def identity_rewards(rewards: Tensor) -> Tensor:
    """R' = R (GRPO, Dr. GRPO, DAPO, RLOO: any real-valued reward)."""
    return rewards


def pm1_rewards(rewards: Tensor) -> Tensor:
    """Correctness to ±1, the NSR paper's r ∈ {−1, +1} (arXiv 2506.01347 §2).

    R' = +1 where R == 1, −1 where R ∈ {0, −1}; so 0/1 and ±1 correctness rewards both work (the
    RLVR-Decomposed code reads correct = score 1, wrong = score 0 or −1). Any other value raises:
    a continuous reward has no correct/wrong sign to filter on.
    """
    valid = (rewards == 1) | (rewards == 0) | (rewards == -1)
    if not bool(valid.all()):
        bad = sorted({float(v) for v in rewards[~valid].flatten()[:5]})
        raise ValueError(f"reward_map='pm1' needs correctness rewards in {{0, 1}} or {{-1, 1}}; got {bad}")
    return torch.where(rewards == 1, 1.0, -1.0).to(rewards.dtype)


REWARD_MAPS: dict[str, Callable[[Tensor], Tensor]] = {"identity": identity_rewards, "pm1": pm1_rewards}

# ---------------------------------------------------------------- baselines: R' [P, G] -> Â [P, G]


def mean_std_baseline(rewards: Tensor, std_eps: float) -> Tensor:
    """Â_i = (R_i − mean_j R_j) / (std_j R_j + ε), population std (÷G). GRPO, arXiv 2402.03300.

    Group [1, 0, 0, 1]: mean .5, population std .5 -> Â = ±1 (up to ε). All-equal group -> Â = 0.
    """
    mean = rewards.mean(dim=1, keepdim=True)
    return (rewards - mean) / (rewards.std(dim=1, keepdim=True, correction=0) + std_eps)


def mean_std_sample_baseline(rewards: Tensor, std_eps: float) -> Tensor:
    """As `mean_std` but with the sample std (÷(G−1), Bessel), i.e. `torch.std()` as verl and TRL call it.

    Group [1, 0, 0, 1]: mean .5, sample std sqrt(1/3) = .577 -> Â = ±.866.
    """
    mean = rewards.mean(dim=1, keepdim=True)
    return (rewards - mean) / (rewards.std(dim=1, keepdim=True, correction=1) + std_eps)


def mean_baseline(rewards: Tensor, std_eps: float) -> Tensor:
    """Â_i = R_i − mean_j R_j, no std (Dr. GRPO's fix for difficulty bias, arXiv 2503.20783)."""
    return rewards - rewards.mean(dim=1, keepdim=True)


def rloo_baseline(rewards: Tensor, std_eps: float) -> Tensor:
    """Â_i = R_i − (1/(G−1)) Σ_{j≠i} R_j = G/(G−1) · (R_i − mean_j R_j). RLOO, arXiv 2402.14740."""
    g = rewards.shape[1]
    return (rewards - rewards.mean(dim=1, keepdim=True)) * (g / (g - 1))


def no_baseline(rewards: Tensor, std_eps: float) -> Tensor:
    """Â_i = R_i (REINFORCE, Williams 1992; PSR/NSR/W-REINFORCE, arXiv 2506.01347)."""
    return rewards


BASELINES: dict[str, Callable[[Tensor, float], Tensor]] = {
    "mean_std": mean_std_baseline,
    "mean_std_sample": mean_std_sample_baseline,
    "mean": mean_baseline,
    "rloo": rloo_baseline,
    "none": no_baseline,
}
STD_BASELINES = ("mean_std", "mean_std_sample")

# ---------------------------------------------------------------- sign filters: Â -> Â (arXiv 2506.01347)


def keep_all(adv: Tensor, w_lambda: float | None) -> Tensor:
    """Â unchanged: positive and negative samples both train (L_RLVR = L_PSR + L_NSR)."""
    return adv


def keep_positive(adv: Tensor, w_lambda: float | None) -> Tensor:
    """PSR: max(Â, 0). With ±1 rewards and no baseline: correct +1, wrong 0."""
    return adv.clamp(min=0)


def keep_negative(adv: Tensor, w_lambda: float | None) -> Tensor:
    """NSR: min(Â, 0). With ±1 rewards and no baseline: correct 0, wrong −1."""
    return adv.clamp(max=0)


def weight_positive(adv: Tensor, w_lambda: float | None) -> Tensor:
    """W-REINFORCE: λ·max(Â, 0) + min(Â, 0); with ±1 rewards: correct +λ, wrong −1 (paper λ = 0.1)."""
    assert w_lambda is not None, "AlgoConfig.validate: sign='weighted' needs w_lambda"
    return w_lambda * adv.clamp(min=0) + adv.clamp(max=0)


SIGN_FILTERS: dict[str, Callable[[Tensor, float | None], Tensor]] = {
    "all": keep_all,
    "positive": keep_positive,
    "negative": keep_negative,
    "weighted": weight_positive,
}

# ---------------------------------------------------------------- aggregations: v, mask [B, T] -> scalar


def seq_mean(values: Tensor, mask: Tensor, constant: float | None) -> Tensor:
    """(1/|S|) Σ_{i∈S} (1/|o_i|) Σ_t v_it, S = rows with ≥ 1 token. GRPO, arXiv 2402.03300.

    A row with no tokens is left out of the mean (it has no per-token average); all rows empty -> 0.
    """
    tokens = mask.sum(dim=-1)
    per_row = torch.where(mask, values, 0.0).sum(dim=-1) / tokens.clamp(min=1)
    return per_row.sum() / (tokens > 0).sum().clamp(min=1)


def token_mean(values: Tensor, mask: Tensor, constant: float | None) -> Tensor:
    """Σ_i Σ_t v_it / Σ_i |o_i|. DAPO's token-level loss, arXiv 2503.14476; no tokens -> 0."""
    return torch.where(mask, values, 0.0).sum() / mask.sum().clamp(min=1)


def constant_norm(values: Tensor, mask: Tensor, constant: float | None) -> Tensor:
    """(1/B) Σ_i Σ_t v_it / C, C a fixed constant (max generation length). Dr. GRPO, arXiv 2503.20783.

    B counts every row, empty ones included, so the normaliser never depends on the sampled lengths.
    (verl's `seq-mean-token-sum-norm` omits the 1/B; that is a constant factor on the learning rate.)
    """
    if constant is None:
        raise ValueError("agg='constant' needs a constant (Dr. GRPO uses the max generation length)")
    return torch.where(mask, values, 0.0).sum() / (values.shape[0] * constant)


AGGREGATIONS: dict[str, Callable[[Tensor, Tensor, float | None], Tensor]] = {
    "seq_mean": seq_mean,
    "token_mean": token_mean,
    "constant": constant_norm,
}

# ---------------------------------------------------------------- config and presets


@dataclass(frozen=True)
class AlgoConfig:
    """Every choice that separates GRPO, Dr. GRPO, DAPO, RLOO, REINFORCE, PSR/NSR/W-REINFORCE, HICRA."""

    reward_map: str = "identity"  # REWARD_MAPS: 'pm1' turns 0/1 correctness into ±1
    baseline: str = "mean_std_sample"  # BASELINES: mean_std = population std (÷G), _sample = ÷(G−1)
    sign: str = "all"  # SIGN_FILTERS: all | positive (PSR) | negative (NSR) | weighted (W-REINFORCE)
    w_lambda: float | None = None  # weight on positive samples; required by, and only by, sign='weighted'
    clip: bool = True  # PPO ratio clipping, arXiv 1707.06347
    eps_low: float = 0.2  # ratio clipped below at 1 − eps_low
    eps_high: float = 0.2  # ratio clipped above at 1 + eps_high (DAPO clip-higher: 0.28)
    agg: str = "seq_mean"  # AGGREGATIONS: seq_mean | token_mean | constant
    agg_constant: float | None = None  # C for agg='constant' (max generation length); required by it alone
    kl_beta: float = 0.0  # β on the k3 KL to the reference (initial) policy
    entropy_coef: float = 0.0  # entropy bonus: loss −= entropy_coef · agg(H)
    dynamic_sampling: bool = False  # trainer drops groups whose rewards are all equal (DAPO)
    hicra_alpha: float = 0.0  # Â + α|Â| on planning tokens; 0 = off (HICRA, arXiv 2509.03646)
    std_eps: float = 1e-6  # ε added to the group std (verl 1e-6, TRL 1e-4, Spurious Rewards 1e-9)

    def validate(self) -> AlgoConfig:
        """Raise ValueError (one line) for unknown names and combinations that make no sense; return self."""
        config.require_finite(self)
        for field, registry in (
            ("reward_map", REWARD_MAPS),
            ("baseline", BASELINES),
            ("sign", SIGN_FILTERS),
            ("agg", AGGREGATIONS),
        ):
            value = getattr(self, field)
            if value not in registry:
                raise ValueError(f"unknown {field} {value!r}; valid: {', '.join(registry)}")
        if self.sign != "all" and self.baseline in STD_BASELINES:
            raise ValueError(
                f"sign={self.sign!r} with baseline={self.baseline!r}: PSR/NSR/W-REINFORCE train on raw ±1 "
                "rewards (arXiv 2506.01347), std normalisation rescales them per group; use baseline='none'"
            )
        if self.sign != "all" and self.baseline == "none" and self.reward_map != "pm1":
            raise ValueError(
                f"sign={self.sign!r} with baseline='none' needs reward_map='pm1', "
                "else a wrong answer's 0 reward gives no negative signal"
            )
        if (self.sign == "weighted") != (self.w_lambda is not None):
            raise ValueError(
                f"w_lambda is set exactly when sign='weighted'; "
                f"got sign={self.sign!r}, w_lambda={self.w_lambda}"
            )
        if self.w_lambda is not None and self.w_lambda < 0:
            raise ValueError(f"w_lambda must be >= 0, got {self.w_lambda}")
        if (self.agg == "constant") != (self.agg_constant is not None):
            raise ValueError(
                f"agg_constant is set exactly when agg='constant' (Dr. GRPO: the max generation length); "
                f"got agg={self.agg!r}, agg_constant={self.agg_constant}"
            )
        if self.agg_constant is not None and self.agg_constant <= 0:
            raise ValueError(f"agg_constant must be > 0, got {self.agg_constant}")
        if not (0 <= self.eps_low < 1 and self.eps_high >= 0):
            raise ValueError(f"need 0 <= eps_low < 1 and eps_high >= 0; got {self.eps_low}, {self.eps_high}")
        if self.kl_beta < 0 or self.entropy_coef < 0:
            raise ValueError(f"kl_beta, entropy_coef must be >= 0; got {self.kl_beta}, {self.entropy_coef}")
        if not 0 <= self.hicra_alpha < 1:
            raise ValueError(f"hicra_alpha must be in [0, 1) (α ≥ 1 kills negatives); got {self.hicra_alpha}")
        if self.std_eps <= 0:
            raise ValueError(f"std_eps must be > 0, got {self.std_eps}")
        return self


_GRPO = AlgoConfig()  # arXiv 2402.03300, as run by Spurious Rewards (2506.10947): ε 0.2, no KL
_SIGNED = AlgoConfig(reward_map="pm1", baseline="none", agg="token_mean")  # RLVR-Decomposed, 2506.01347
PRESETS: dict[str, AlgoConfig] = {
    "grpo": _GRPO,
    "dr_grpo": dataclasses.replace(_GRPO, baseline="mean", agg="constant"),  # 2503.20783; set agg_constant
    "dapo": dataclasses.replace(_GRPO, eps_high=0.28, agg="token_mean", dynamic_sampling=True),  # 2503.14476
    "rloo": dataclasses.replace(_GRPO, baseline="rloo"),  # 2402.14740
    "reinforce": _SIGNED,
    "psr": dataclasses.replace(_SIGNED, sign="positive"),
    "nsr": dataclasses.replace(_SIGNED, sign="negative"),
    "w_reinforce": dataclasses.replace(_SIGNED, sign="weighted", w_lambda=0.1),
    "hicra": dataclasses.replace(_GRPO, hicra_alpha=0.2),  # 2509.03646
}


def resolve_algo(name: str, **overrides: Any) -> AlgoConfig:
    """The preset `name` with `overrides` applied field by field, validated."""
    if name not in PRESETS:
        raise ValueError(f"unknown algorithm {name!r}; valid: {', '.join(PRESETS)}")
    fields = [f.name for f in dataclasses.fields(AlgoConfig)]
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        raise ValueError(f"unknown AlgoConfig field(s) {unknown}; valid: {', '.join(fields)}")
    return dataclasses.replace(PRESETS[name], **overrides).validate()


def resolve_for_budget(name: str, overrides: tuple = (), *, max_new_tokens: int) -> AlgoConfig:
    """`resolve_algo` for a run that samples at most `max_new_tokens` per completion: Dr. GRPO's constant
    (`agg_constant`, unless overridden) is that generation budget (Liu et al. 2025, arXiv 2503.20783)."""
    kw = dict(overrides)
    if name == "dr_grpo" and "agg_constant" not in kw:
        kw["agg_constant"] = float(max_new_tokens)
    return resolve_algo(name, **kw)


# ---------------------------------------------------------------- advantages


def group_advantages(rewards: Tensor, cfg: AlgoConfig) -> Tensor:
    """Per-sequence advantages: sign_filter(baseline(reward_map(R))).

    rewards: [P, G] (P prompts, G samples each) -> [P, G] float, no gradient.
    A group with all-equal rewards gets Â = 0 under every centred baseline (count them with
    `dynamic_sampling_mask`). A group of one sample has no group baseline: every baseline except
    'none' raises ValueError for G = 1 rather than silently returning 0 (or NaN for the sample std).
    """
    cfg.validate()
    if rewards.ndim != 2:
        raise ValueError(f"rewards must be [P, G], got shape {tuple(rewards.shape)}")
    if rewards.shape[1] < 2 and cfg.baseline != "none":
        raise ValueError(f"baseline={cfg.baseline!r} needs G >= 2 samples a group; got G={rewards.shape[1]}")
    r = REWARD_MAPS[cfg.reward_map](rewards.detach().float())
    return SIGN_FILTERS[cfg.sign](BASELINES[cfg.baseline](r, cfg.std_eps), cfg.w_lambda)


def dynamic_sampling_mask(rewards: Tensor) -> Tensor:
    """keep[p] = not all R[p, g] equal, i.e. 0 < #correct < G for 0/1 rewards (DAPO, arXiv 2503.14476).

    rewards: [P, G] -> bool [P]. A group of one sample counts as all-equal and is dropped.
    """
    return (rewards != rewards[:, :1]).any(dim=1)


def advantage_metrics(rewards: Tensor, adv: Tensor) -> dict[str, float]:
    """Diagnostics for one batch of groups: rewards, adv [P, G] -> floats (unprefixed names)."""
    return {
        "frac_groups_all_equal": (~dynamic_sampling_mask(rewards)).float().mean().item(),
        "adv_abs_mean": adv.abs().mean().item(),
        "frac_adv_positive": (adv > 0).float().mean().item(),
        "frac_adv_negative": (adv < 0).float().mean().item(),
    }


def hicra_advantages(adv: Tensor, planning_mask: Tensor, alpha: float) -> Tensor:
    """Â_t + α|Â_t| on planning tokens, Â_t elsewhere (HICRA, arXiv 2509.03646; paper α = 0.2).

    Equivalently Â(1 + α) for Â > 0 and Â(1 − α) for Â < 0 on planning tokens.
    adv: [B] or [B, T]; planning_mask: bool [B, T] (not differentiated) -> [B, T].
    """
    adv = adv if adv.ndim == 2 else adv[:, None]
    return torch.where(planning_mask.bool(), adv + alpha * adv.abs(), adv).expand(planning_mask.shape)


# ---------------------------------------------------------------- losses


def kl_k3(logprobs: Tensor, ref_logprobs: Tensor) -> Tensor:
    """k3 estimate of KL(π_θ ‖ π_ref) per token: exp(d) − d − 1 with d = log π_ref − log π_θ.

    Schulman, "Approximating KL divergence" (2020); verl `low_var_kl` (which also clamps to ±10; we
    do not). ≥ 0, and 0 exactly where the policies agree. [B, T], [B, T] -> [B, T].
    """
    d = ref_logprobs - logprobs
    return d.exp() - d - 1


def aggregate(values: Tensor, mask: Tensor, mode: str, constant: float | None = None) -> Tensor:
    """Reduce per-token values [B, T] over mask [B, T] to a scalar with AGGREGATIONS[mode]."""
    if mode not in AGGREGATIONS:
        raise ValueError(f"unknown agg {mode!r}; valid: {', '.join(AGGREGATIONS)}")
    return AGGREGATIONS[mode](values, mask.bool(), constant)


def policy_loss(
    logprobs: Tensor,
    old_logprobs: Tensor,
    advantages: Tensor,
    mask: Tensor,
    cfg: AlgoConfig,
    ref_logprobs: Tensor | None = None,
    entropies: Tensor | None = None,
    planning_mask: Tensor | None = None,
) -> tuple[Tensor, dict[str, float]]:
    """Clipped (or unclipped) policy-gradient surrogate + β·KL − c·entropy, aggregated by cfg.agg.

    r_t = exp(log π_θ − log π_old)
    ℓ_t = −min(r_t Â_t, clip(r_t, 1 − ε_low, 1 + ε_high) Â_t)     (PPO 1707.06347; DAPO 2503.14476)
    ℓ_t = −r_t Â_t                                                 (cfg.clip = False)
    loss = agg(ℓ) + β · agg(k3(π_θ, π_ref)) − c · agg(H)

    logprobs, old_logprobs, ref_logprobs, entropies: [B, T]; advantages: [B] or [B, T] (detached);
    mask: [B, T] bool/0-1, True on generated tokens; planning_mask: bool [B, T] for HICRA.
    Values under mask = 0 (padding) are ignored, even if inf/NaN, and get zero gradient.

    Metrics (floats): loss, pg_loss, clip_frac_low (Â < 0 and r < 1 − ε_low: the clip zeroes the
    gradient), clip_frac_high (Â > 0 and r > 1 + ε_high), clip_frac (their sum), ratio_mean/min/max
    (1.0 on an empty mask), n_tokens; kl and entropy (token means) when their inputs are given;
    planning_frac when planning_mask is given. With cfg.clip = False the clip fractions still count
    the tokens the band *would* clip (the clipping-bias diagnostic of arXiv 2506.10947).
    """
    cfg.validate()
    if logprobs.ndim != 2 or logprobs.shape != old_logprobs.shape or logprobs.shape != mask.shape:
        raise ValueError(f"logprobs, old_logprobs, mask must share shape [B, T]; got "
                         f"{tuple(logprobs.shape)}, {tuple(old_logprobs.shape)}, {tuple(mask.shape)}")
    if cfg.kl_beta > 0 and ref_logprobs is None:
        raise ValueError(f"kl_beta={cfg.kl_beta} needs ref_logprobs")
    if cfg.entropy_coef > 0 and entropies is None:
        raise ValueError(f"entropy_coef={cfg.entropy_coef} needs entropies")
    if cfg.hicra_alpha > 0 and planning_mask is None:
        raise ValueError(f"hicra_alpha={cfg.hicra_alpha} needs planning_mask")
    mask = mask.bool()

    def clean(x: Tensor) -> Tensor:  # padding may hold -inf; zero it so no NaN reaches a gradient
        return x.masked_fill(~mask, 0.0)

    adv = advantages.detach()
    adv = adv[:, None] if adv.ndim == 1 else adv
    adv = clean(adv.expand_as(logprobs).float())
    if cfg.hicra_alpha > 0 and planning_mask is not None:  # (None with hicra_alpha > 0 was refused above)
        adv = hicra_advantages(adv, planning_mask, cfg.hicra_alpha)

    ratio = (clean(logprobs) - clean(old_logprobs.detach())).exp()  # [B, T], 1 on padding
    low, high = 1 - cfg.eps_low, 1 + cfg.eps_high
    pg = -adv * ratio
    if cfg.clip:
        pg = torch.maximum(pg, -adv * ratio.clamp(low, high))
    pg_loss = aggregate(pg, mask, cfg.agg, cfg.agg_constant)
    loss = pg_loss

    n = mask.sum().clamp(min=1)
    with torch.no_grad():
        clipped_low = ((ratio < low) & (adv < 0) & mask).sum() / n
        clipped_high = ((ratio > high) & (adv > 0) & mask).sum() / n
        valid_ratio = ratio[mask] if bool(mask.any()) else torch.ones(1)
        metrics = {
            "pg_loss": pg_loss.item(),
            "clip_frac_low": clipped_low.item(),
            "clip_frac_high": clipped_high.item(),
            "clip_frac": (clipped_low + clipped_high).item(),
            "ratio_mean": valid_ratio.mean().item(),
            "ratio_min": valid_ratio.min().item(),
            "ratio_max": valid_ratio.max().item(),
            "n_tokens": float(mask.sum()),
        }
    if ref_logprobs is not None:
        kl = kl_k3(clean(logprobs), clean(ref_logprobs.detach()))
        loss = loss + cfg.kl_beta * aggregate(kl, mask, cfg.agg, cfg.agg_constant)
        metrics["kl"] = token_mean(kl.detach(), mask, None).item()
    if entropies is not None:
        loss = loss - cfg.entropy_coef * aggregate(clean(entropies), mask, cfg.agg, cfg.agg_constant)
        metrics["entropy"] = token_mean(entropies.detach(), mask, None).item()
    if planning_mask is not None:
        metrics["planning_frac"] = ((planning_mask.bool() & mask).sum() / n).item()
    metrics["loss"] = loss.item()
    return loss, metrics
