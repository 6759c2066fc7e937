"""calibration: RL with a binary correctness reward degrades the calibration of verbalised confidence; adding
a Brier term to the reward (RLCR) restores it without hurting accuracy (Damani et al. 2025).

Protocol: the default prior (60% of its documents carry a calibrated `Conf: d` tag); GRPO with the binary
`correct` reward versus the `brier` reward (correctness − (confidence − correctness)², −2 when no
confidence is stated). Metric: ECE of the binary-reward model minus ECE of the Brier-reward model (10
equal-width bins, `evals.calibration.ece`) at T = 1. δ = 0.02.

Population: every sample of every arm (base, binary, Brier) is scored, so the arms are compared on the
same population. A sample that states no confidence (or one outside [0, 1]) counts as confidence 0, as
RLCR's evaluation code does (its `confidence_extractor` returns 0 when no confidence is found): it claims
nothing, and it is wrong to the extent that it is right. Stating the tag is then part of being
calibrated, as it is in RLCR's reward (its format term). So that a "fix" that is only the Brier arm
learning to state the tag can be told from one in the stated values, each arm's tag rate and its ECE on
the tagged samples alone are reported beside the effect, with the Brier score on the same population
(not judged: it also rewards accuracy) and the accuracy difference Brier − binary (the claim's "without
hurting accuracy", reported with its interval, not judged). No greedy effect: a calibration error needs
several samples per problem.

Gates (`PROTOCOL`):
- the base model miscalibrated to begin with: its ECE, on the same population, at least 0.05; otherwise
  the Brier term has nothing to fix. 0.05 is 2.5 δ and above the ECE that binning noise alone gives a
  calibrated model at the quick preset's 800 samples (about 0.03 with ~6 occupied bins);
- GRPO gets a gradient from each reward: at the first RL step (base-model rollouts) at most 80% of the
  groups have all-equal rewards, in the binary arm (the base pass rate is in range) and in the Brier arm
  (the base states a confidence often enough for the Brier term to vary within a group).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from priorlab.claims.base import ClaimInfo, Lab, Results, entry
from priorlab.claims.protocol import Gate, Measurement, Protocol
from priorlab.common.stats import nested_bootstrap
from priorlab.evals.calibration import brier, calibration_report, ece
from priorlab.lab.plots import plot_conditions, plot_reliability

INFO = ClaimInfo(
    id="calibration",
    claim="Binary correctness rewards hurt the calibration of verbalised confidence; a Brier term in the reward "
          "fixes it without losing accuracy.",
    source="Damani et al. 2025, Beyond Binary Rewards: Training LMs to Reason About Their Uncertainty (RLCR), "
           "arXiv 2507.16806",
    paper="HotpotQA ECE 0.37 (RLVR) -> 0.03 (RLCR) with no loss in accuracy",
)
PROTOCOL = Protocol(
    claim="calibration",
    conditions="prior with calibrated Conf tags; GRPO + binary correct reward vs brier reward; every sample scored, "
               "no stated confidence = confidence 0",
    metric="ECE(binary reward) - ECE(Brier reward), all samples (T=1)",
    delta=0.02,
    gates=(
        Gate("base_ece", ">=", 0.05, "nothing to fix unless the base is miscalibrated: its ECE on the same population "
             "at least 0.05 (2.5 delta, above the binning noise of a calibrated model at a few hundred samples)"),
        Gate("binary_groups_all_equal", "<=", 0.8, "GRPO learns nothing from a group whose rewards are all equal: "
             "the binary reward must vary within at least a fifth of the groups at the first RL step"),
        Gate("brier_groups_all_equal", "<=", 0.8, "the Brier term acts only through stated confidences: its reward "
             "must vary within at least a fifth of the groups at the first RL step"),
    ),
)


def _runs(lab: Lab, seeds) -> tuple[list, list, list]:
    """(priors, binary-reward runs, Brier-reward runs), the runs [prior seed][RL seed]."""
    priors = lab.priors()
    return priors, lab.rl_nested(priors, seeds), lab.rl_nested(priors, seeds, reward="brier")


def jobs(lab: Lab, seeds) -> list:
    """The calibration runs: the confidence-tagged prior, GRPO under the binary and the Brier reward, and their
    evaluations."""
    priors, binary, brier_ = _runs(lab, seeds)
    return [lab.snapshot(j) for j in priors + [j for nested in (binary, brier_) for row in nested for j in row]]


@dataclass
class Data:
    """What `measure` reads: per-sample stated confidence (NaN: none) and correctness (0/1), [A, B, P, n]
    (base [A, 1, P, n]), and the first-step share of all-equal groups of each arm."""

    conf_base: np.ndarray
    correct_base: np.ndarray
    conf_binary: np.ndarray
    correct_binary: np.ndarray
    conf_brier: np.ndarray
    correct_brier: np.ndarray
    binary_groups_all_equal: float
    brier_groups_all_equal: float


def scored(conf: np.ndarray) -> np.ndarray:
    """Every sample's confidence: the stated one, or 0 where none is stated or it lies outside [0, 1]."""
    conf = np.asarray(conf, dtype=float)
    return np.where(np.isfinite(conf) & (conf >= 0) & (conf <= 1), conf, 0.0)


def ece_all(conf, correct) -> float:
    """ECE over every sample (no stated confidence = 0)."""
    return ece(scored(conf).ravel(), np.asarray(correct).ravel())


def brier_all(conf, correct) -> float:
    """Brier score over every sample (no stated confidence = 0)."""
    return brier(scored(conf).ravel(), np.asarray(correct).ravel())


def measure(d: Data, protocol: Protocol = PROTOCOL, n_boot: int = 1000) -> Measurement:
    """The effect ECE(binary) − ECE(Brier) on every sample with its nested-bootstrap CI, and every gate."""
    arms = {"cb": d.conf_binary, "yb": d.correct_binary, "cr": d.conf_brier, "yr": d.correct_brier}
    effect = nested_bootstrap(lambda cb, yb, cr, yr: ece_all(cb, yb) - ece_all(cr, yr), arms, n_boot=n_boot,
                              delta=protocol.delta)
    brier_diff = nested_bootstrap(lambda cb, yb, cr, yr: brier_all(cb, yb) - brier_all(cr, yr), arms, n_boot=n_boot)
    acc_diff = nested_bootstrap(lambda cb, yb, cr, yr: yr.mean() - yb.mean(), arms, n_boot=n_boot)
    base_ece = ece_all(d.conf_base, d.correct_base)
    gates = protocol.check({"base_ece": base_ece, "binary_groups_all_equal": d.binary_groups_all_equal,
                            "brier_groups_all_equal": d.brier_groups_all_equal})
    return Measurement(effect, gates, {"brier_binary_minus_brier": brier_diff, "accuracy_brier_minus_binary": acc_diff,
                                       "base_ece": base_ece})


def _stack(res: Results, lab: Lab, nested) -> tuple[np.ndarray, np.ndarray]:
    """(confidence, correctness) [A, B, P, n] of the snapshots of the models [prior seed][RL seed]."""
    snaps = [[res.snap(lab.snapshot(j)) for j in row] for row in nested]
    return (np.stack([np.stack([s["confidence"] for s in row]) for row in snaps]).astype(float),
            np.stack([np.stack([s["correct"] for s in row]) for row in snaps]).astype(float))


def _first_step_all_equal(res: Results, nested) -> float:
    vals = []
    for row in nested:
        for j in row:
            rows = sorted((r for r in res.metrics(j) if "adv/frac_groups_all_equal" in r), key=lambda r: r["step"])
            vals += [r["adv/frac_groups_all_equal"] for r in rows[:1]]
    return float(np.mean(vals)) if vals else float("nan")


def analyze(lab: Lab, res: Results, seeds, protocol: Protocol = PROTOCOL) -> dict:
    """ECE and Brier of both arms on all samples (untagged ones as confidence 0), the gates, the reliability
    figure; the report entry."""
    priors, binary, brier_ = _runs(lab, seeds)
    (c0, y0), (cb, yb), (cr, yr) = (_stack(res, lab, n) for n in ([[p] for p in priors], binary, brier_))
    data = Data(conf_base=c0, correct_base=y0, conf_binary=cb, correct_binary=yb, conf_brier=cr, correct_brier=yr,
                binary_groups_all_equal=_first_step_all_equal(res, binary),
                brier_groups_all_equal=_first_step_all_equal(res, brier_))
    m = measure(data, protocol, lab.b.n_boot)

    eces, tables = {}, {}
    for name, (c, y) in {"prior": (c0, y0), "binary reward": (cb, yb), "brier reward": (cr, yr)}.items():
        tagged = calibration_report([None if not np.isfinite(v) else float(v) for v in c.ravel()],
                                    y.ravel().astype(bool).tolist())
        tables[name] = calibration_report(scored(c).ravel().tolist(), y.ravel().astype(bool).tolist())
        eces[name] = nested_bootstrap(ece_all, {"conf": c, "correct": y}, n_boot=lab.b.n_boot)
        m.metrics[name] = {"ece": tables[name]["ece"], "ece_ci": eces[name], "brier": tables[name]["brier"],
                           "auroc": tables[name]["auroc"], "accuracy": tables[name]["accuracy"],
                           "mean_conf": tables[name]["mean_conf"], "tag_rate": 1 - tagged["n_missing"] / tagged["n"],
                           "ece_tagged_only": tagged["ece"], "brier_tagged_only": tagged["brier"],
                           "n_tagged": tagged["n_scored"]}
    m.metrics["groups_all_equal_first_step"] = {"binary reward": data.binary_groups_all_equal,
                                                "brier reward": data.brier_groups_all_equal}
    plots = [plot_conditions(eces, res.plots / "calibration-ece", ylabel="ECE, all samples (lower is better)",
                             title="Calibration error by reward")["png"]]
    for name in ("binary reward", "brier reward"):
        plots.append(plot_reliability(tables[name], res.plots / f"calibration-{name.split()[0]}",
                                      title=f"Reliability after RL ({name}; no tag = 0)")["png"])
    return entry(INFO, protocol, m, seeds, plots=plots)
