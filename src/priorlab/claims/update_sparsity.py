"""update-sparsity: RL updates a small subnetwork (5–30% of parameters in bf16), the update is nearly full
rank, and the subnetwork is shared across seeds far above chance (Mukherjee et al. 2025).

Why a control: whether a weight w changes in bf16 depends on its update Δ against h(w), half the bf16
spacing at w (`analysis.params`: 2^(e-8) for |w| in [2^e, 2^(e+1)); 6.1e-5 at w = 0.02). Adam moves each
weight by about lr per step, so a small learning rate alone keeps most of Δ below h and the bf16 diff
sparse, whatever RL does (PULSE, arXiv 2602.03839; "The Path Not Taken", arXiv 2511.08567: a precision
gate). The claim says more: that RL's update is sparser than another fine-tune's of the same size.

Protocol: the default prior; GRPO (correct reward) runs from it, and SFT controls from the same prior on
code traces of the same problems (3x1) with as many optimizer updates as an RL run (steps x mini-batches
x epochs) at each learning rate of `SFT_LRS`. For every run, against the prior: the bf16 changed share
(`frac_bf16`) and rho = Σ|Δ| / Σ h(w) over all floating-point weights (`analysis.params`: the mean
cumulative update in half-ulps). The SFT controls give a curve frac_bf16(rho); the matched SFT share is
that curve at RL's rho (linear in log rho between the ladder's points, averaged over seeds). Metric: the
smaller margin of the claim's two parts,

    effect = min( frac_bf16(SFT at RL's rho) - frac_bf16(RL) - 0.10,   # RL sparser than SFT at equal rho
                  Jaccard(RL seeds) - chance_magnitude )               # a shared subnetwork beyond precision

with δ = 0, so `reproduced` needs both parts to hold (interval above 0) and `not reproduced` that at least
one clearly fails. 0.10: RL changes at least a tenth of the parameters fewer than SFT at equal rho, small
against the paper's gap (RL 5–30% changed, SFT about 85–94%). The overlap is the Jaccard of two RL
seeds' bf16 changed masks minus the overlap of independent masks with the same density in every (tensor,
binary exponent of w) stratum (`chance_magnitude`: bf16 visibility depends on |w|, so even independent
updates overlap far above uniform chance); it is a point value (one pair of RL seeds per prior seed,
averaged over pairs), the same in every bootstrap replicate, while the sparsity margin is resampled over
prior seeds and RL / SFT seeds. The overlap is part of the effect, not a gate: a shared subnetwork is
what the claim asserts, so its absence speaks against the claim rather than leaving it untested.

Gates (`PROTOCOL`): RL's rho at least 1 (the mean update exceeds half an ulp, so bf16 would show a dense
update of this size: the precision gate is open and a low changed share is not forced by precision; DESIGN
§5); RL's rho inside the SFT ladder's range of rho to within a factor 1.1 (the control is matched, not
extrapolated: near rho = 1 the changed share moves about in proportion to rho, so a 10% mismatch moves it
by less than δ's 0.10); at least one pair of RL seeds (the overlap needs two). The update rank and the
changed share that precision alone predicts from the update's magnitudes are reported beside them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from priorlab.analysis.params import diff_checkpoints
from priorlab.claims.base import ClaimInfo, Lab, Results, bootstrap, entry
from priorlab.claims.protocol import Gate, Measurement, Protocol
from priorlab.lab.plots import plot_conditions, plot_sparsity_per_layer

INFO = ClaimInfo(
    id="update-sparsity",
    claim="RL updates only 5-30% of the parameters, with nearly full-rank updates, and the same subnetwork "
          "across seeds.",
    source="Mukherjee et al. 2025, Reinforcement Learning Finetunes Small Subnetworks in Large Language Models, "
           "arXiv 2505.11711",
    paper="70-95% of parameters unchanged (bf16) across 7 RL algorithms and 10 models; DeepSeek-R1-Zero 86.0%; "
          "overlap across seeds far above chance",
)
SFT_LRS = (1e-6, 3e-6, 1e-5, 3e-5, 1e-4)  # the SFT controls' ladder: rho spans about two decades
SPARSER_BY = 0.10  # RL's changed share must be this much below SFT's at equal rho
PROTOCOL = Protocol(
    claim="update-sparsity",
    conditions="default prior -> GRPO (correct reward) runs; SFT controls from the same prior on code traces of "
               "the same problems (3x1), as many optimizer updates as an RL run, lr " +
               ", ".join(f"{lr:g}" for lr in SFT_LRS) + "; bf16 diff of final vs prior weights",
    metric=f"min(frac_bf16(SFT at RL's rho) - frac_bf16(RL) - {SPARSER_BY:g}, Jaccard(RL seeds) - "
           "magnitude-stratified chance); rho = sum |update| / sum half bf16 ulp of the prior's weights",
    delta=0.0,
    gates=(
        Gate("rho_rl", ">=", 1.0, "the precision gate must be open (PULSE 2602.03839; DESIGN §5): RL's mean "
             "cumulative update at least half a bf16 ulp of the weights, so bf16 would show a dense update"),
        Gate("rho_match", "<=", 1.1, "the SFT control must be matched, not extrapolated: RL's rho inside the SFT "
             "ladder's range of rho to within a factor 1.1 (a 10% rho mismatch moves the changed share by < 0.10)"),
        Gate("rl_seed_pairs", ">=", 1, "the shared-subnetwork part needs two RL seeds from one prior"),
    ),
    decoding="n/a (weights)",
)


def _conditions(lab: Lab, seeds):
    """priors, RL runs [prior seed][RL seed], SFT controls [prior seed][seed][lr]."""
    priors = lab.priors()
    rl = lab.rl_nested(priors, seeds)
    c: Any = rl[0][0].config  # an RLConfig
    updates = c.steps * c.minibatches * c.epochs
    sft = [[[lab.sft_at(p, s, lr, updates) for lr in SFT_LRS] for s in seeds] for p in priors]
    return priors, rl, sft


def jobs(lab: Lab, seeds) -> list:
    """The default prior, its GRPO runs, and SFT controls with RL's number of updates at several learning rates
    (the one at RL's cumulative update is interpolated in analyze)."""
    _, rl, sft = _conditions(lab, seeds)
    return [j for row in rl for j in row] + [j for row in sft for lrs in row for j in lrs]


@dataclass
class Data:
    """What `measure` reads: (frac_bf16, rho) per run, and the RL seeds' overlap beyond chance."""

    rl: np.ndarray  # [A, B, 2]: per RL run, (bf16 changed share, rho)
    sft: np.ndarray  # [A, S, L, 2]: per SFT control run and learning rate of SFT_LRS, (share, rho)
    overlap_excess: float  # mean over pairs of RL runs from one prior of Jaccard - chance_magnitude
    n_pairs: int  # those pairs


def sft_share_at(rho: float, sft_curve: np.ndarray) -> float:
    """The SFT changed share at `rho`: linear in log rho between the ladder's (share, rho) points [L, 2]
    (held at the end points outside their range, which the rho_match gate bounds)."""
    share, r = sft_curve[:, 0], sft_curve[:, 1]
    ok = np.isfinite(share) & np.isfinite(r) & (r > 0)
    if not ok.any() or not rho > 0:
        return float("nan")
    order = np.argsort(r[ok])
    return float(np.interp(math.log(rho), np.log(r[ok][order]), share[ok][order]))


def rho_mismatch(rho: float, sft_rhos) -> float:
    """1 when rho lies inside [min, max] of the SFT ladder's rhos, else the factor to the nearer end."""
    rs = [x for x in np.asarray(sft_rhos, dtype=float) if np.isfinite(x) and x > 0]
    if not rs or not rho > 0:
        return float("nan")
    return max(1.0, min(rs) / rho, rho / max(rs))


def _sparser(rl: np.ndarray, sft: np.ndarray) -> float:
    """frac_bf16(SFT at RL's rho) - frac_bf16(RL); rl [A, B, P=1, 2], sft [A, S, P=1, L, 2]."""
    curve = sft.reshape(-1, *sft.shape[-2:]).mean(axis=0)  # [L, 2]: per lr, mean over runs
    return sft_share_at(float(rl[..., 1].mean()), curve) - float(rl[..., 0].mean())


def measure(d: Data, protocol: Protocol = PROTOCOL, n_boot: int = 1000) -> Measurement:
    """The smaller margin of the two parts (module doc) with its nested-bootstrap CI, and every gate."""
    overlap_margin = d.overlap_excess if d.n_pairs else float("nan")
    arrays = {"rl": d.rl[:, :, None], "sft": d.sft[:, :, None]}  # one "problem": the runs are the units
    effect = bootstrap(lambda rl, sft: min(_sparser(rl, sft) - SPARSER_BY, overlap_margin), arrays, n_boot,
                       delta=protocol.delta)
    sparser = bootstrap(_sparser, arrays, n_boot)
    rho_rl = float(d.rl[..., 1].mean())
    sft_rhos = d.sft[..., 1].reshape(-1, d.sft.shape[-2]).mean(axis=0)
    gates = protocol.check({"rho_rl": rho_rl, "rho_match": rho_mismatch(rho_rl, sft_rhos),
                            "rl_seed_pairs": d.n_pairs})
    curve = d.sft.reshape(-1, *d.sft.shape[-2:]).mean(axis=0)
    return Measurement(effect, gates, {
        "sft_minus_rl_share_at_matched_rho": sparser, "overlap_excess": overlap_margin,
        "rho_rl": rho_rl, "frac_bf16_rl": float(d.rl[..., 0].mean()),
        "frac_bf16_sft_at_rl_rho": sft_share_at(rho_rl, curve),
        "sft_ladder": [{"rho": float(r), "frac_bf16": float(f)} for f, r in curve]})


def analyze(lab: Lab, res: Results, seeds, protocol: Protocol = PROTOCOL) -> dict:
    """bf16-visible update fractions of RL and the SFT control, the overlap of RL seeds against chance, the gates,
    the figure; the report entry."""
    priors, rl, sft = _conditions(lab, seeds)
    rl_rows, sft_rows, pairs, rl_runs = [], [], [], []
    for prior, rl_row, sft_row in zip(priors, rl, sft):
        d = diff_checkpoints(res.path(prior), [res.path(j) for j in rl_row])
        rl_runs += d["per_run"]
        rl_rows.append([(r["global"]["frac_bf16"], r["global"]["rho"]) for r in d["per_run"]])
        pairs += [o["global"] for o in d["overlap"]]
        sft_rows.append([[_share_rho(diff_checkpoints(res.path(prior), [res.path(j)], rank=False))
                          for j in lrs] for lrs in sft_row])
    ok = [p for p in pairs if p["jaccard"] is not None and p["chance_magnitude"] is not None]
    data = Data(rl=np.array(rl_rows, dtype=float), sft=np.array(sft_rows, dtype=float),
                overlap_excess=float(np.mean([p["jaccard"] - p["chance_magnitude"] for p in ok])) if ok else float("nan"),
                n_pairs=len(ok))
    m = measure(data, protocol, lab.b.n_boot)
    g = [r["global"] for r in rl_runs]
    m.metrics.update({
        "frac_changed_bf16": [x["frac_bf16"] for x in g], "frac_changed_fp32": [x["frac_fp32"] for x in g],
        "rho": [x["rho"] for x in g], "frac_above_half_ulp": [x["frac_above_half_ulp"] for x in g],
        "frac_bf16_expected_from_precision": [x["frac_bf16_expected"] for x in g],
        "mean_update_rank_frac": [x["mean_rank_frac"] for x in g],
        "overlap": [{k: p[k] for k in ("jaccard", "chance", "chance_stratified", "chance_magnitude")} for p in pairs],
        "sft_lrs": list(SFT_LRS), "sft_runs": data.sft.tolist(),
        "per_layer_frac_bf16": {k: v["frac_bf16"] for k, v in rl_runs[0]["per_layer"].items()}})
    bars = {"RL": _point(m.metrics["frac_bf16_rl"]),
            "SFT at RL's rho": _point(m.metrics["frac_bf16_sft_at_rl_rho"]),
            "precision only (RL's |update|)": _point(float(np.mean(m.metrics["frac_bf16_expected_from_precision"])))}
    plots = [plot_conditions(bars, res.plots / "update-sparsity-matched", ylabel="share of parameters changed (bf16)",
                             title=f"Changed share at equal rho (RL rho {m.metrics['rho_rl']:.3g})")["png"],
             plot_sparsity_per_layer(rl_runs[0]["per_layer"], res.plots / "update-sparsity",
                                     title="Parameters changed by RL per layer (seed 0)")["png"]]
    return entry(INFO, protocol, m, seeds, plots=plots)


def _share_rho(d: dict) -> tuple[float, float]:
    g = d["per_run"][0]["global"]
    return g["frac_bf16"], g["rho"]


def _point(x: float) -> dict:
    return {"estimate": x, "ci_low": x, "ci_high": x}
