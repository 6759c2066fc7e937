"""update-sparsity: RL updates a small subnetwork (5–30% of parameters in bf16), the update is nearly full
rank, and the subnetwork is shared across seeds far above chance (Mukherjee et al. 2025).

Protocol: the default prior and its GRPO (correct reward) runs; bf16-exact comparison of the final weights
with the prior's, per tensor and layer; rank of each 2-D update; Jaccard overlap of the changed masks
between seeds against the chance overlap at the same densities, stratified by the base weights'
magnitude (bf16 visibility of a change depends on it). Metric: the fraction of parameters changed (bf16).
Verdict: `reproduced` if its CI lies inside [0.05, 0.30] and the cross-seed overlap exceeds the
magnitude-stratified chance; `not reproduced` if the CI lies outside that band; else inconclusive.
"""

from __future__ import annotations

import numpy as np

from priorlab.analysis.params import diff_checkpoints
from priorlab.claims.base import ClaimInfo, Lab, Results, bootstrap, result
from priorlab.lab.plots import plot_sparsity_per_layer

INFO = ClaimInfo(
    id="update-sparsity",
    claim="RL updates only 5-30% of the parameters, with nearly full-rank updates, and the same subnetwork "
          "across seeds.",
    source="Mukherjee et al. 2025, Reinforcement Learning Finetunes Small Subnetworks in Large Language Models, "
           "arXiv 2505.11711",
    paper="70-95% of parameters unchanged (bf16) across 7 RL algorithms and 10 models; DeepSeek-R1-Zero 86.0%; "
          "overlap across seeds far above chance",
    protocol="default prior vs its GRPO (correct reward) runs; bf16-exact diff, update rank, cross-seed Jaccard",
    metric="fraction of parameters changed (bf16 exact)",
    rule="reproduced if the CI lies inside [0.05, 0.30] and cross-seed overlap > magnitude-stratified chance; "
         "not reproduced if the CI lies outside [0.05, 0.30]; else inconclusive",
    delta=0.05,
)
BAND = (0.05, 0.30)


def band_verdict(effect: dict, overlap_above_chance: bool, band: tuple[float, float] = BAND) -> str:
    """The rule in INFO.rule: a changed fraction inside the band (and a shared subnetwork) reproduces it."""
    lo, hi = effect["ci_low"], effect["ci_high"]
    if band[0] <= lo and hi <= band[1] and overlap_above_chance:
        return "reproduced"
    if hi < band[0] or lo > band[1]:
        return "not reproduced"
    return "inconclusive"


def _runs(lab: Lab, seeds):
    prior = lab.prior()
    return prior, [lab.rl(prior, s) for s in seeds]


def jobs(lab: Lab, seeds) -> list:
    return _runs(lab, seeds)[1]


def analyze(lab: Lab, res: Results, seeds) -> dict:
    prior, rl_jobs = _runs(lab, seeds)
    d = diff_checkpoints(res.path(prior), [res.path(j) for j in rl_jobs])
    fracs = np.array([r["global"]["frac_bf16"] for r in d["per_run"]])[:, None]  # [S, 1]
    effect = bootstrap(lambda f: f.mean(), {"f": fracs}, lab.b.n_boot)
    overlap = [{"runs": o["runs"], "jaccard": o["global"]["jaccard"], "chance": o["global"]["chance"],
                "chance_magnitude": o["global"]["chance_magnitude"]} for o in d["overlap"]]
    above = bool(overlap) and all(o["jaccard"] is not None and o["chance_magnitude"] is not None
                                  and o["jaccard"] > o["chance_magnitude"] for o in overlap)
    ranks = [r["global"]["mean_rank_frac"] for r in d["per_run"]]
    metrics = {"frac_changed_bf16": fracs[:, 0].tolist(),
               "frac_changed_fp32": [r["global"]["frac_fp32"] for r in d["per_run"]],
               "mean_update_rank_frac": ranks, "overlap": overlap, "overlap_above_chance": above,
               "per_layer_frac_bf16": {k: v["frac_bf16"] for k, v in d["per_run"][0]["per_layer"].items()}}
    verdict = band_verdict(effect, above)
    plot = plot_sparsity_per_layer(d["per_run"][0]["per_layer"], res.plots / "update-sparsity",
                                   title="Parameters changed by RL per layer (seed 0)")
    return result(INFO, effect, seeds, metrics, verdict=verdict, plots=[plot["png"]])
