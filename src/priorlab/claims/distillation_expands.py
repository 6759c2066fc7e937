"""distillation-expands: distilling a teacher's reasoning pattern into a model expands what it can solve
(pass@k at large k), while RLVR on the same model does not (Yue et al. 2025, §distillation).

Protocol: the `nl-prior` student (each pretraining seed), which never saw code traces; (a) SFT on
world-generated gold `code` traces (the teacher's pattern; `sft_steps` steps), (b) GRPO with the correct
reward. Metric: pass@K*(distilled) − pass@K*(RL) on the harder pass@k problems, K* the largest k at which
the student's pass@k is at most 0.95 (`passk_boundary.k_star`). δ = 0.05.

Gates (`PROTOCOL`): the paper's mechanism is that distillation *transfers a new reasoning pattern* (the
distilled model's curve lies above the base's at every k because it reasons as the teacher does,
arXiv 2504.13837, Fig. 7). A student that copied the teacher's surface but not its computation has
received no pattern, so, on the distilled students' samples of the pass@k problems (T = 1, pooled over runs):
- `code_share` >= 0.9: the teacher's format is the student's (it was trained on nothing else; a distilled
  model writes its teacher's pattern, as R1-Distill writes R1's, nearly always);
- `code_accuracy` >= 0.5: its samples in that format are right more often than not. The teacher's traces
  are always right, and a model pretrained on code traces computes them nearly exactly (DESIGN §2a:
  0.98–1.00 at 2–4 operands); below one half the student carries the form, not the arithmetic;
- `student_room` <= 0.95: the student's pass@K* leaves room for a difference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from priorlab.claims.base import ClaimInfo, Lab, Results, bootstrap, entry
from priorlab.claims.passk_boundary import ROOM, counts, curves, k_star, pass1, passk
from priorlab.claims.protocol import Gate, Measurement, Protocol
from priorlab.evals.snapshot import FORMAT_CODES
from priorlab.lab.plots import plot_passk

INFO = ClaimInfo(
    id="distillation-expands",
    claim="Distillation transfers new reasoning patterns and expands pass@k at large k; RLVR does not.",
    source="Yue et al. 2025, Does RL Really Incentivize Reasoning Capacity in LLMs Beyond the Base Model?, "
           "arXiv 2504.13837 (distillation comparison)",
    paper="DeepSeek-R1-Distill-Qwen-7B lies above the base at every k, RL models cross below it at large k",
)
TEACHER_SHARE = 0.9  # the student writes the teacher's format (shared with imitation-then-rl)
TEACHER_ACCURACY = 0.5  # ... and is right in it more often than not
PROTOCOL = Protocol(
    claim="distillation-expands",
    conditions="nl-prior student (no code traces; per pretraining seed): SFT on gold code traces vs GRPO + correct "
               "reward; n = passk_samples samples on passk_problems problems of passk_difficulty, unbiased pass@k",
    metric="pass@K*(distilled) - pass@K*(RL), K* = largest k with student pass@k <= 0.95",
    delta=0.05,
    gates=(
        Gate("code_share", ">=", TEACHER_SHARE, "distillation transfers the teacher's pattern (2504.13837 Fig. 7): at "
             "least 90% of the distilled student's samples are in the teacher's format (code)"),
        Gate("code_accuracy", ">=", TEACHER_ACCURACY, "the pattern, not its surface: the student's code samples are "
             "right at least half the time (gold teacher; code-pretrained models compute them nearly exactly)"),
        Gate("student_room", "<=", ROOM, "the student's pass@K* must leave room for a difference"),
    ),
)


def format_stats(snaps: list[dict], fmt: str = "code") -> tuple[float, float]:
    """(share of samples in `fmt`, accuracy of those samples), pooled over snapshots; the accuracy is NaN
    when no sample is in `fmt`."""
    code = FORMAT_CODES.index(fmt)
    in_fmt = np.concatenate([(s["format"] == code).ravel() for s in snaps])
    correct = np.concatenate([s["correct"].ravel() for s in snaps])
    share = float(in_fmt.mean())
    return share, float(correct[in_fmt].mean()) if in_fmt.any() else float("nan")


def _runs(lab: Lab, seeds):
    students = lab.priors("nl-prior")
    sft = [[lab.sft(p, s, "code") for s in seeds] for p in students]
    return students, sft, lab.rl_nested(students, seeds)


def jobs(lab: Lab, seeds) -> list:
    """The nl-prior student, its SFT on code traces and its GRPO runs, with pass@k and format evaluations."""
    students, sft, rl = _runs(lab, seeds)
    return [lab.passk(p) for p in students] + [lab.passk(j) for nested in (sft, rl) for row in nested for j in row]


@dataclass
class Data:
    """Correct samples per problem (of n) on the pass@k problems: student [A, 1, P], distilled and RL
    [A, B, P]; the distilled students' share of code samples and the accuracy of those samples."""

    student: np.ndarray
    distilled: np.ndarray
    rl: np.ndarray
    n: int
    code_share: float
    code_accuracy: float


def measure(d: Data, protocol: Protocol = PROTOCOL, n_boot: int = 1000) -> Measurement:
    """The effect pass@K*(distilled) − pass@K*(RL) with its nested-bootstrap CI, and every gate."""
    k = k_star(d.student, d.n)
    effect = bootstrap(lambda s, r: s.mean() - r.mean(), {"s": passk(d.distilled, d.n, k), "r": passk(d.rl, d.n, k)},
                       n_boot, delta=protocol.delta)
    gates = protocol.check({"code_share": d.code_share, "code_accuracy": d.code_accuracy,
                            "student_room": float(passk(d.student, d.n, k).mean())})
    return Measurement(effect, gates, {"k_compared": k})


def analyze(lab: Lab, res: Results, seeds, protocol: Protocol = PROTOCOL) -> dict:
    """pass@K* of the distilled and the RL students, the gates on what the student learnt, the pass@k figure; the
    report entry."""
    students, sft, rl = _runs(lab, seeds)
    student, n = counts(res, [[lab.passk(p)] for p in students])
    distilled, _ = counts(res, [[lab.passk(j) for j in row] for row in sft])
    after_rl, _ = counts(res, [[lab.passk(j) for j in row] for row in rl])
    share, acc = format_stats([res.snap(lab.passk(j)) for row in sft for j in row])
    m = measure(Data(student, distilled, after_rl, n, share, acc), protocol, lab.b.n_boot)
    k = m.metrics["k_compared"]
    named = {"student (nl-prior)": student, "distilled (SFT on code)": distilled, "RL (GRPO)": after_rl}
    m.metrics.update({
        "difficulty": lab.b.passk_difficulty, "n_samples": n, "sft_steps": lab.b.sft_steps,
        "code_share_after_sft": share, "code_accuracy_after_sft": acc,
        **{f"pass@1 {name}": pass1(c, n) for name, c in named.items()},
        **{f"pass@{k} {name}": float(passk(c, n, k).mean()) for name, c in named.items()}})
    plot = plot_passk(curves(named, n), res.plots / "distillation-expands",
                      title="pass@k: distillation vs RL on the nl-prior student")
    return entry(INFO, protocol, m, seeds, plots=[plot["png"]])
