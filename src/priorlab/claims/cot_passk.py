"""cot-passk: counted by CoT-pass@k (the answer *and* every reasoning step correct), RLVR does expand
correct-reasoning coverage: the RL model's CoT-pass@k stays above the base's at large k, even where
answer pass@k says the base catches up (Wen et al. 2025, arXiv 2506.14245; the disagreement with
passk-boundary, Yue et al. 2504.13837).

In the world a step's correctness is checked exactly (`world.formats.steps_correct`: the chain starts at
the first operand, each result is its start with its operations applied, each step starts where the last
ended, the operations are the problem's, the answer is the last result; a direct answer has no step to be
wrong). A sample is CoT-correct when its answer is right and its steps are.

Protocol: the runs of passk-boundary (the affinity prior at every pretraining seed and its GRPO runs with the
correct reward, `passk_samples` samples on `passk_problems` problems of `passk_difficulty`), so the two
claims read the same samples. Metric: CoT-pass@K*(RL) − CoT-pass@K*(base) with passk-boundary's K* (the
largest k at which the base's answer pass@k is at most 0.95). δ = 0: the claim holds when RL is
significantly above the base at K*. Both curves (answer and CoT, base and RL) are reported.

Gates (`PROTOCOL`):
- `rl_pass1_gain` >= 0.05 and `k_max` >= 256: the same as passk-boundary's (RL sharpened; the papers' k
  range, 2506.14245 and 2504.13837 evaluate up to k = 256 and beyond), so the pair is judged on equal terms;
- `base_flawed_share` >= 0.02: at least 2% of the base's correct answers come with a wrong step. Without
  right answers reached by wrong reasoning (the paper's premise: base models often guess right with flawed
  chains), CoT-pass@k equals pass@k and the claim is passk-boundary itself;
- `base_room` <= 0.95: the base's CoT-pass@K* leaves room.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from priorlab.claims import passk_boundary as pb
from priorlab.claims.base import ClaimInfo, Lab, Results, bootstrap, entry
from priorlab.claims.protocol import Gate, Measurement, Protocol
from priorlab.evals.passk import default_ks
from priorlab.lab.plots import plot_passk

INFO = ClaimInfo(
    id="cot-passk",
    claim="Counted by CoT-pass@k (answer and every step correct), RLVR expands correct-reasoning coverage: the "
          "RL model stays above the base at large k even where answer pass@k does not.",
    source="Wen et al. 2025, Reinforcement Learning with Verifiable Rewards Implicitly Incentivizes Correct "
           "Reasoning in Base LLMs, arXiv 2506.14245",
    paper="CoT-pass@k of the RLVR model above the base's at every k on AIME 2024/2025 (numbers unverified)",
)
FLAWED = 0.02
PROTOCOL = Protocol(
    claim="cot-passk",
    conditions="passk-boundary's runs: affinity prior (per pretraining seed) vs its GRPO runs with the correct "
               "reward; n = passk_samples samples on passk_problems problems of passk_difficulty",
    metric="CoT-pass@K*(RL) - CoT-pass@K*(base), K* = passk-boundary's (largest k with base answer pass@k <= 0.95)",
    delta=0.0,
    gates=(
        Gate("rl_pass1_gain", ">=", pb.PASS1_GAIN, "RL must have sharpened the base, as in passk-boundary: its "
             "pass@1 rose by at least 5 points"),
        Gate("k_max", ">=", pb.K_PAPER, "the papers' k range: pass@k up to k = 256 (2506.14245; 2504.13837)"),
        Gate("base_flawed_share", ">=", FLAWED, "the base must reach some right answers through a wrong step (at "
             "least 2% of its correct answers), else CoT-pass@k is pass@k and there is nothing to tell apart"),
        Gate("base_room", "<=", pb.ROOM, "the base's CoT-pass@K* must leave room for a difference"),
    ),
)


def jobs(lab: Lab, seeds) -> list:
    """passk-boundary's runs and evaluations (the same samples are read for answers and for CoT correctness)."""
    return pb.jobs(lab, seeds)


@dataclass
class Data:
    """Correct and CoT-correct samples per problem (of n): base [A, 1, P], RL [A, B, P]."""

    base: np.ndarray
    rl: np.ndarray
    base_cot: np.ndarray
    rl_cot: np.ndarray
    n: int


def measure(d: Data, protocol: Protocol = PROTOCOL, n_boot: int = 1000) -> Measurement:
    """The effect CoT-pass@K*(RL) − CoT-pass@K*(base) with its nested-bootstrap CI, and every gate."""
    k = pb.k_star(d.base, d.n)
    effect = bootstrap(lambda b, r: r.mean() - b.mean(),
                       {"b": pb.passk(d.base_cot, d.n, k), "r": pb.passk(d.rl_cot, d.n, k)}, n_boot,
                       delta=protocol.delta)
    answers = bootstrap(lambda b, r: r.mean() - b.mean(),
                        {"b": pb.passk(d.base, d.n, k), "r": pb.passk(d.rl, d.n, k)}, n_boot)
    right = d.base.sum()
    flawed = float((d.base.sum() - d.base_cot.sum()) / right) if right else float("nan")
    gates = protocol.check({"rl_pass1_gain": pb.pass1(d.rl, d.n) - pb.pass1(d.base, d.n), "k_max": d.n,
                            "base_flawed_share": flawed,
                            "base_room": float(pb.passk(d.base_cot, d.n, k).mean())})
    return Measurement(effect, gates, {
        "k_compared": k, "k": default_ks(d.n), "answer_rl_minus_base": answers,
        "passk_base": pb.curve_means(d.base, d.n), "passk_rl": pb.curve_means(d.rl, d.n),
        "cot_passk_base": pb.curve_means(d.base_cot, d.n), "cot_passk_rl": pb.curve_means(d.rl_cot, d.n),
        "flawed_share": {"base": flawed, "rl": float((d.rl.sum() - d.rl_cot.sum()) / d.rl.sum()) if d.rl.sum() else None}})


def analyze(lab: Lab, res: Results, seeds, protocol: Protocol = PROTOCOL) -> dict:
    """Answer and CoT pass@k of the base and the RL runs, the effect at K*, the gates, the four-curve figure; the
    report entry."""
    priors, rl = pb._runs(lab, seeds)
    base_snaps, rl_snaps = [[lab.passk(p)] for p in priors], [[lab.passk(j) for j in row] for row in rl]
    base, n = pb.counts(res, base_snaps)
    after, _ = pb.counts(res, rl_snaps)
    base_cot, _ = pb.counts(res, base_snaps, "cot_correct")
    after_cot, _ = pb.counts(res, rl_snaps, "cot_correct")
    m = measure(Data(base, after, base_cot, after_cot, n), protocol, lab.b.n_boot)
    m.metrics["difficulty"] = lab.b.passk_difficulty
    cv = pb.curves({"base (answer)": base, "RL (answer)": after, "base (CoT)": base_cot, "RL (CoT)": after_cot}, n)
    plot = plot_passk(cv, res.plots / "cot-passk", title=f"pass@k and CoT-pass@k, base vs RL ({lab.b.passk_difficulty})")
    return entry(INFO, protocol, m, seeds, plots=[plot["png"]])
