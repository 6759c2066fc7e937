"""distillation-expands: distilling a teacher's reasoning pattern into a model expands what it can solve
(pass@k at large k), while RLVR on the same model does not (Yue et al. 2025, §distillation).

Protocol: the student is the `affinity` world without its code writers (`STUDENT` = `affinity@code=0`,
each pretraining seed): it writes nl traces that drop the sign of every negative intermediate (the
`affinity` nl rule, rate 1) and direct answers, so it has a hole — problems of the class
`negative-intermediate` that only an order of operations avoiding the negative value, or a lucky direct
answer, can solve — and no latent format that solves them. (a) SFT on world-generated gold `code` traces
(the teacher: a perfect reasoner in a pattern the student never saw; `sft_steps` steps), (b) GRPO with the
correct reward. Metric: pass@K*(distilled) − pass@K*(RL) on the harder pass@k problems, K* the largest k
at which the student's pass@k is at most 0.95 (`passk_boundary.k_star`). δ = 0.05. pass@K* on the hole
class and on the rest is reported beside it for every condition.

Why this student (issue 14): on a world where the student's own strategy already reaches every problem at
some k (the `nl-prior`, whose misconception rate 0.8 leaves a fifth of its nl traces right), no coverage
exists that only the teacher's pattern can add, and "RL does as well as distillation at large k" is a
property of the student. The teacher's traces are gold, not the affinity world's code (which fails on
repeated operands): a teacher that trades one hole for another would make the effect a difference of class
frequencies, not the transfer of a pattern the paper's R1 teacher stands for.

Gates (`PROTOCOL`): the paper's mechanism is that distillation *transfers a new reasoning pattern* (the
distilled model's curve lies above the base's at every k because it reasons as the teacher does,
arXiv 2504.13837, Fig. 7), while RL sharpens what the student already samples. A student that copied the
teacher's surface but not its computation has received no pattern, and an RL run that changed nothing has
not been compared, so, on the students' samples of the pass@k problems (T = 1, pooled over runs):
- `code_share` >= 0.9: the teacher's format is the distilled student's (it was trained on nothing else; a
  distilled model writes its teacher's pattern, as R1-Distill writes R1's, nearly always);
- `code_accuracy` >= 0.5: its samples in that format are right more often than not. The teacher's traces
  are always right, and a model pretrained on code traces computes them nearly exactly (DESIGN §2a:
  0.98–1.00 at 2–4 operands); below one half the student carries the form, not the arithmetic;
- `rl_pass1_gain` >= 0.05: RL raised the student's pass@1 by 5 points (passk-boundary's sharpening gate,
  the same threshold): "RLVR does not expand" is a statement about an RL run that trained;
- `student_room` <= 0.95: the student's pass@K* leaves room for a difference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from priorlab.claims.base import ClaimInfo, Lab, Results, bootstrap, entry
from priorlab.claims.passk_boundary import PASS1_GAIN, ROOM, counts, curves, k_star, pass1, passk
from priorlab.claims.protocol import Gate, Measurement, Protocol
from priorlab.evals.snapshot import FORMAT_CODES
from priorlab.lab.plots import plot_passk
from priorlab.world.classes import in_class
from priorlab.world.tasks import Problem

INFO = ClaimInfo(
    id="distillation-expands",
    claim="Distillation transfers new reasoning patterns and expands pass@k at large k; RLVR does not.",
    source="Yue et al. 2025, Does RL Really Incentivize Reasoning Capacity in LLMs Beyond the Base Model?, "
           "arXiv 2504.13837 (distillation comparison)",
    paper="DeepSeek-R1-Distill-Qwen-7B lies above the base at every k, RL models cross below it at large k",
)
STUDENT = "affinity@code=0"  # the affinity world's nl and direct writers, no code (see the module docstring)
HOLE = "negative-intermediate"  # the class the student's nl traces get wrong (sign-drop, rate 1)
TEACHER_SHARE = 0.9  # the student writes the teacher's format (shared with imitation-then-rl)
TEACHER_ACCURACY = 0.5  # ... and is right in it more often than not
PROTOCOL = Protocol(
    claim="distillation-expands",
    conditions="affinity@code=0 student (the affinity world's nl and direct writers, no code; per pretraining "
               "seed): SFT on gold code traces vs GRPO + correct reward; n = passk_samples samples on passk_problems "
               "problems of passk_difficulty, unbiased pass@k",
    metric="pass@K*(distilled) - pass@K*(RL), K* = largest k with student pass@k <= 0.95",
    delta=0.05,
    gates=(
        Gate("code_share", ">=", TEACHER_SHARE, "distillation transfers the teacher's pattern (2504.13837 Fig. 7): at "
             "least 90% of the distilled student's samples are in the teacher's format (code)"),
        Gate("code_accuracy", ">=", TEACHER_ACCURACY, "the pattern, not its surface: the student's code samples are "
             "right at least half the time (gold teacher; code-pretrained models compute them nearly exactly)"),
        Gate("rl_pass1_gain", ">=", PASS1_GAIN, "RL must have trained the student: its pass@1 rose by at least 5 "
             "points (passk-boundary's sharpening gate)"),
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
    students = lab.priors(STUDENT)
    sft = [[lab.sft(p, s, "code") for s in seeds] for p in students]
    return students, sft, lab.rl_nested(students, seeds)


def jobs(lab: Lab, seeds) -> list:
    """The student, its SFT on code traces and its GRPO runs, with pass@k and format evaluations."""
    students, sft, rl = _runs(lab, seeds)
    return [lab.passk(p) for p in students] + [lab.passk(j) for nested in (sft, rl) for row in nested for j in row]


@dataclass
class Data:
    """Correct samples per problem (of n) on the pass@k problems: student [A, 1, P], distilled and RL
    [A, B, P]; the distilled students' share of code samples and the accuracy of those samples; which of the P
    problems are in the student's hole class (`HOLE`; None: not reported)."""

    student: np.ndarray
    distilled: np.ndarray
    rl: np.ndarray
    n: int
    code_share: float
    code_accuracy: float
    hole: np.ndarray | None = None


def hole_mask(problems: list[str]) -> np.ndarray:
    """Whether each problem (its expression) is in the student's hole class `HOLE`."""
    return np.array([in_class(Problem.from_expr(e), HOLE) for e in problems], dtype=bool)


def measure(d: Data, protocol: Protocol = PROTOCOL, n_boot: int = 1000) -> Measurement:
    """The effect pass@K*(distilled) − pass@K*(RL) with its nested-bootstrap CI, every gate, and pass@K* of each
    condition inside and outside the student's hole class when `d.hole` is given."""
    k = k_star(d.student, d.n)
    effect = bootstrap(lambda s, r: s.mean() - r.mean(), {"s": passk(d.distilled, d.n, k), "r": passk(d.rl, d.n, k)},
                       n_boot, delta=protocol.delta)
    gates = protocol.check({"code_share": d.code_share, "code_accuracy": d.code_accuracy,
                            "rl_pass1_gain": pass1(d.rl, d.n) - pass1(d.student, d.n),
                            "student_room": float(passk(d.student, d.n, k).mean())})
    metrics: dict = {"k_compared": k}
    if d.hole is not None:
        metrics["hole_share"] = float(d.hole.mean())
        for name, c in (("student", d.student), ("distilled", d.distilled), ("RL", d.rl)):
            per = passk(c, d.n, k)
            for where, mask in ((HOLE, d.hole), ("other problems", ~d.hole)):
                metrics[f"pass@{k} {name} on {where}"] = float(per[..., mask].mean()) if mask.any() else float("nan")
    return Measurement(effect, gates, metrics)


def analyze(lab: Lab, res: Results, seeds, protocol: Protocol = PROTOCOL) -> dict:
    """pass@K* of the distilled and the RL students, the gates on what the student learnt, the pass@k figure; the
    report entry."""
    students, sft, rl = _runs(lab, seeds)
    student, n = counts(res, [[lab.passk(p)] for p in students])
    distilled, _ = counts(res, [[lab.passk(j) for j in row] for row in sft])
    after_rl, _ = counts(res, [[lab.passk(j) for j in row] for row in rl])
    share, acc = format_stats([res.snap(lab.passk(j)) for row in sft for j in row])
    problems = {tuple(res.snap(lab.passk(j))["problems"]) for j in [*students, *sum(sft, []), *sum(rl, [])]}
    if len(problems) != 1:
        raise ValueError("distillation-expands: the pass@k snapshots hold different problems")
    hole = hole_mask(list(problems.pop()))
    m = measure(Data(student, distilled, after_rl, n, share, acc, hole), protocol, lab.b.n_boot)
    k = m.metrics["k_compared"]
    named = {"student (affinity, no code)": student, "distilled (SFT on code)": distilled, "RL (GRPO)": after_rl}
    m.metrics.update({
        "difficulty": lab.b.passk_difficulty, "n_samples": n, "sft_steps": lab.b.sft_steps,
        "code_share_after_sft": share, "code_accuracy_after_sft": acc,
        **{f"pass@1 {name}": pass1(c, n) for name, c in named.items()},
        **{f"pass@{k} {name}": float(passk(c, n, k).mean()) for name, c in named.items()}})
    plot = plot_passk(curves(named, n), res.plots / "distillation-expands",
                      title="pass@k: distillation vs RL on a student without code")
    return entry(INFO, protocol, m, seeds, plots=[plot["png"]])
