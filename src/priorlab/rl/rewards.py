"""Rewards for RLVR: a registry of group-level rewards, built from a spec string.

A reward scores a whole group (the G samples of one prompt) at once, because TTRL's majority reward needs
the group. It returns one `RewardOutput` per sample: the score that is optimised, named components, and
the true correctness from `Task.verify` as a shadow metric, whatever is optimised. Every reward goes
through the task's `verify`; nothing here re-implements correctness or answer extraction.

    reward = make_reward("correct+malformed:0.5", seed=run_seed)
    outs = reward.score_group(problem, texts, step=step, prompt_index=p)   # list[RewardOutput], one per text
    labels = incorrect_labels(problems, base_answers)   # once before an `incorrect` run; train on its keys
    reward = make_reward("incorrect", labels=labels, seed=run_seed)

Spec syntax: `BASE[:ARG]` then zero or more `+PENALTY:COEF`, e.g. `random:0.3`, `correct+length:0.001`,
`brier+malformed:1`. Spaces are ignored; exactly one base reward, first; each penalty at most once; `+` only
separates terms (write 1e3, not 1e+3). `reward.name` is the canonical spec, every argument written out.

| base      | score of sample i                                                  | ARG                   |
|-----------|--------------------------------------------------------------------|-----------------------|
| correct   | 1[verify(text).correct]                                            | none                  |
| random    | 1[u_i < p], u_i ~ U[0,1) seeded by (seed, step, prompt_index, i)    | p in [0, 1], def. 0.5 |
| incorrect | 1[answer_i == label[problem]], label = base model's wrong majority  | none (labels=)        |
| format    | 1[well-formed: grammar of the world, one final `A: <int>` line]     | none                  |
| majority  | 1[answer_i == majority answer of the group]                         | none                  |
| brier     | c − (q − c)² if well-formed with a `Conf:` line, else BRIER_MISSING  | none                  |

| penalty   | added to the score              | COEF   |
|-----------|---------------------------------|--------|
| length    | −COEF · len(text)               | ≥ 0    |
| malformed | −COEF · 1[not well-formed]      | ≥ 0    |

Sources: random / incorrect / format from Spurious Rewards (Shao et al. 2025, arXiv 2506.10947 §2.2; there
format means a non-empty \\boxed{}, here the world's own grammar); majority from TTRL (Zuo et al. 2025, arXiv
2504.16084); brier from RLCR (Damani et al. 2025, arXiv 2507.16806). len(text) counts characters, which are
tokens under the world's character tokenizer (EOS not included).

Components of every output: `correct` and `format_ok` (shadow metrics, 0/1), the base reward's value under
its name, its diagnostics, and `<penalty>_penalty` (≤ 0) per penalty, so that
score == components[base] + Σ components[*_penalty].

Explicit choices (each tested):
- A sample without an `A: <int>` line casts no vote. Majority ties go to the tied answer seen first in
  sample order, which is what TTRL's `Counter(answers).most_common(1)` does. A group with no answer at all
  has no label and scores 0 everywhere; a group of one sample is its own majority.
- TTRL votes over 64 samples and trains on 32; here the vote is over the texts passed to `score_group`.
- `incorrect_labels` labels only problems whose base-model majority answer is wrong; problems with a right
  majority, or no parsed answer, are ineligible (the paper trains on the wrong-majority prompts only), and
  scoring an ineligible problem raises ValueError, so the trainer must restrict training to the labels' keys.
- Brier with a missing confidence: the RLCR code scores format + accuracy + Brier (weights .5 each) and gives
  all three 0 when its format regex fails or `<confidence>` does not parse. Its total is 1 + R/2 for a valid
  output with paper reward R = c − (q − c)², and 0 otherwise, i.e. R = −2 = BRIER_MISSING: worse than any
  stated confidence (R ≥ −1), so dropping the `Conf:` line never pays. A parsed confidence in a completion
  that is not well-formed counts as missing, as in RLCR. Scale: RLCR's rewards are this one / 2 + 1, which a
  std-normalised advantage ignores; with a mean-only baseline halve the learning rate to match.
- The random draw never reads the text and does not depend on batch composition: each sample has its own
  numpy Generator seeded by [seed, step, prompt_index, sample_index] (all ≥ 0). The paper uses an unseeded
  `random.random() < γ`; u < p makes p = 0 never and p = 1 always rewarded.

Tests: `.venv/bin/pytest tests/test_rl_rewards.py`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from priorlab.world.tasks import Problem, Task, Verdict, get_task

BRIER_MISSING = -2.0  # RLCR's format-failure total (0) mapped onto the paper's scale: 0 = 1 + R/2


@dataclass(frozen=True)
class RewardOutput:
    """One sample's reward: `score` is optimised, `correct` is the shadow metric (true correctness)."""

    score: float
    components: dict[str, float]
    correct: bool


class Reward(Protocol):
    name: str

    def score_group(
        self, problem: Problem, texts: Sequence[str], *, step: int, prompt_index: int
    ) -> list[RewardOutput]: ...


@dataclass(frozen=True)
class Group:
    """What a base reward sees: one prompt's samples, already verified, and where they sit in the run."""

    problem: Problem
    verdicts: list[Verdict]
    seed: int
    step: int
    prompt_index: int
    labels: Mapping[str, int] | None


Scored = list[tuple[float, dict[str, float]]]  # per sample: (value, diagnostics)


def majority_answer(answers: Sequence[int | None]) -> int | None:
    """Most common non-None answer; ties go to the tied answer seen first (TTRL's Counter.most_common(1))."""
    counts = Counter(a for a in answers if a is not None)
    return counts.most_common(1)[0][0] if counts else None


def incorrect_labels(problems: Sequence[Problem], sample_answers: Sequence[Sequence[int | None]]) -> dict[str, int]:
    """Spurious Rewards' incorrect labels (arXiv 2506.10947 §2.2): for each problem whose base-model majority
    answer (over `sample_answers[i]`, the parsed answers of its samples) is wrong, {problem.expr: that answer}.

    Problems with a right majority or no parsed answer are left out: the keys are the eligible problems,
    the only ones an `incorrect` run may train on (see `eligible_problems`).
    """
    if len(problems) != len(sample_answers):
        raise ValueError(f"problems and sample_answers differ in length: {len(problems)} vs {len(sample_answers)}")
    labels = {}
    for problem, answers in zip(problems, sample_answers):
        m = majority_answer(answers)
        if m is not None and m != problem.answer:
            labels[problem.expr] = m
    return labels


def eligible_problems(problems: Sequence[Problem], labels: Mapping[str, int]) -> list[Problem]:
    """The problems an `incorrect` run trains on: those with a (wrong) label."""
    return [p for p in problems if p.expr in labels]


# ------------------------------------------------------------ base rewards: (group, arg) -> per-sample values


def correct_reward(g: Group, _arg: float | None) -> Scored:
    """r_i = 1[answer_i == truth], the verifiable reward."""
    return [(float(v.correct), {}) for v in g.verdicts]


def random_reward(g: Group, p: float | None) -> Scored:
    """r_i = 1[u_i < p], u_i from Generator([seed, step, prompt_index, i]) (Spurious Rewards, 2506.10947)."""
    draws = [np.random.default_rng([g.seed, g.step, g.prompt_index, i]).random() for i in range(len(g.verdicts))]
    return [(float(u < p), {}) for u in draws]


def incorrect_reward(g: Group, _arg: float | None) -> Scored:
    """r_i = 1[answer_i == label], label = the base model's wrong majority answer (Spurious Rewards)."""
    assert g.labels is not None  # make_reward guarantees it
    if g.problem.expr not in g.labels:
        raise ValueError(
            f"problem {g.problem.expr!r} has no incorrect label: its base-model majority is right or absent; "
            "train only on eligible_problems(problems, labels)"
        )
    label = g.labels[g.problem.expr]
    return [(float(v.answer == label), {}) for v in g.verdicts]


def format_reward(g: Group, _arg: float | None) -> Scored:
    """r_i = 1[completion is well-formed], whatever its answer (Spurious Rewards' format reward)."""
    return [(float(v.well_formed), {}) for v in g.verdicts]


def majority_reward(g: Group, _arg: float | None) -> Scored:
    """r_i = 1[answer_i == majority answer of the group] (TTRL, arXiv 2504.16084).

    Diagnostics (TTRL's): `label_correct` = 1[majority == truth], `majority_ratio` = majority count / G.
    """
    answers = [v.answer for v in g.verdicts]
    label = majority_answer(answers)
    diag = {
        "label_correct": float(label is not None and label == g.problem.answer),
        "majority_ratio": (answers.count(label) / len(answers)) if label is not None else 0.0,
    }
    return [(float(label is not None and a == label), dict(diag)) for a in answers]


def brier_reward(g: Group, _arg: float | None) -> Scored:
    """RLCR (arXiv 2507.16806): r = c − (q − c)², c = 1[correct], q the stated confidence (`Conf: 7` = .7);
    BRIER_MISSING (−2) when the completion is not well-formed or states no confidence (see module doc)."""
    out: Scored = []
    for v in g.verdicts:
        if v.well_formed and v.confidence is not None:
            c, q = float(v.correct), v.confidence
            out.append((c - (q - c) ** 2, {"conf_ok": 1.0, "confidence": q, "sq_error": (q - c) ** 2}))
        else:
            out.append((BRIER_MISSING, {"conf_ok": 0.0}))
    return out


# ---------------------------------------------------------- penalties: (text, verdict, coef) -> value ≤ 0


def length_penalty(text: str, _v: Verdict, coef: float) -> float:
    """−coef · len(text): characters, i.e. tokens of the world's character tokenizer."""
    return -coef * len(text)


def malformed_penalty(_text: str, v: Verdict, coef: float) -> float:
    """−coef when the completion is not well-formed, else 0."""
    return 0.0 if v.well_formed else -coef


@dataclass(frozen=True)
class _Base:
    fn: Callable[[Group, float | None], Scored]
    arg: str | None = None  # name of the argument, None when it takes none
    default: float | None = None
    lo: float = 0.0
    hi: float = math.inf


REWARDS: dict[str, _Base] = {
    "correct": _Base(correct_reward),
    "random": _Base(random_reward, arg="p", default=0.5, hi=1.0),
    "incorrect": _Base(incorrect_reward),
    "format": _Base(format_reward),
    "majority": _Base(majority_reward),
    "brier": _Base(brier_reward),
}
PENALTIES: dict[str, Callable[[str, Verdict, float], float]] = {
    "length": length_penalty,
    "malformed": malformed_penalty,
}


def reward_names() -> list[str]:
    return list(REWARDS)


def penalty_names() -> list[str]:
    return list(PENALTIES)


@dataclass(frozen=True)
class SpecReward:
    """A base reward plus penalties; build it with `make_reward`."""

    name: str  # canonical spec
    base: str
    arg: float | None
    penalties: tuple[tuple[str, float], ...]
    seed: int
    labels: Mapping[str, int] | None
    task: Task

    def score_group(
        self, problem: Problem, texts: Sequence[str], *, step: int, prompt_index: int
    ) -> list[RewardOutput]:
        """Score the samples `texts` of one prompt; `step` and `prompt_index` (≥ 0) seed the random reward."""
        if step < 0 or prompt_index < 0:
            raise ValueError(f"step={step} and prompt_index={prompt_index} must be >= 0")
        verdicts = [self.task.verify(problem, t) for t in texts]
        g = Group(problem, verdicts, self.seed, step, prompt_index, self.labels)
        outs = []
        for text, v, (value, diag) in zip(texts, verdicts, REWARDS[self.base].fn(g, self.arg)):
            comps = {"correct": float(v.correct), "format_ok": float(v.well_formed), **diag, self.base: value}
            score = value
            for pname, coef in self.penalties:
                pen = PENALTIES[pname](text, v, coef)
                comps[f"{pname}_penalty"] = pen
                score += pen
            outs.append(RewardOutput(score, comps, v.correct))
        return outs


def _number(s: str, what: str) -> float:
    try:
        x = float(s)
    except ValueError:
        raise ValueError(f"{what} {s!r} is not a number") from None
    if not math.isfinite(x):
        raise ValueError(f"{what} {s!r} must be finite")
    return x


def _valid() -> str:
    return f"valid rewards: {', '.join(REWARDS)}; penalties: {', '.join(PENALTIES)}"


def make_reward(
    spec: str, *, labels: Mapping[str, int] | None = None, seed: int = 0, task: Task | None = None
) -> SpecReward:
    """Parse a spec (`random:0.5`, `correct+length:0.001`, ...; see the module doc) into a reward.

    `labels` (from `incorrect_labels`) is required by `incorrect` and rejected by every other reward;
    `seed` (≥ 0) is the run seed behind `random`; `task` defaults to `get_task()`.
    """
    terms = [t.partition(":") for t in spec.replace(" ", "").split("+")]
    if any(not name for name, _, _ in terms):
        raise ValueError(f"reward spec {spec!r} has an empty term; {_valid()}")
    for name, _, _ in terms:
        if name not in REWARDS and name not in PENALTIES:
            raise ValueError(f"unknown reward {name!r} in spec {spec!r}; {_valid()}")
    (base, colon, raw), rest = terms[0], terms[1:]
    if base not in REWARDS:
        raise ValueError(f"reward spec {spec!r} must start with a base reward; {_valid()}")
    spec_b = REWARDS[base]
    if spec_b.arg is None:
        if colon:
            raise ValueError(f"reward {base!r} takes no argument, got {base}:{raw}")
        arg = None
    else:
        arg = _number(raw, f"{base} reward {spec_b.arg}") if colon else spec_b.default
        if not spec_b.lo <= arg <= spec_b.hi:
            raise ValueError(f"{base} reward {spec_b.arg}={arg} must be in [{spec_b.lo:g}, {spec_b.hi:g}]")
    penalties: list[tuple[str, float]] = []
    for name, colon, raw in rest:
        if name in REWARDS:
            raise ValueError(f"reward spec {spec!r} has more than one base reward ({base}, {name}); {_valid()}")
        if name in (p for p, _ in penalties):
            raise ValueError(f"penalty {name!r} appears twice in reward spec {spec!r}")
        if not colon:
            raise ValueError(f"penalty {name!r} needs a coefficient, e.g. {name}:0.01")
        coef = _number(raw, f"{name} penalty coefficient")
        if coef < 0:
            raise ValueError(f"{name} penalty coefficient {coef} must be >= 0")
        penalties.append((name, coef))
    if base == "incorrect" and labels is None:
        raise ValueError("reward 'incorrect' needs labels: pass labels=incorrect_labels(problems, base_answers)")
    if base != "incorrect" and labels is not None:
        raise ValueError(f"labels are only used by reward 'incorrect', not {base!r}")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"reward seed={seed!r} must be an int >= 0")
    name = base + (f":{arg!r}" if arg is not None else "") + "".join(f"+{n}:{c!r}" for n, c in penalties)
    return SpecReward(name, base, arg, tuple(penalties), seed, labels, task if task is not None else get_task())
