"""Rewards for RLVR: a registry of group-level rewards over verdicts, built from a spec string.

A reward scores a whole group (the G samples of one prompt) at once, because TTRL's majority reward needs
the group. It reads only `Verdict`s (`common.verdict`), which an environment's verifier produced -- the
world's `Task.verify` or the math grader -- so the same scorer runs on the controlled world and on real
math text, and nothing here re-implements correctness or answer extraction. It returns one `RewardOutput`
per sample: the score that is optimised, named components, and the true correctness as a shadow metric,
whatever is optimised.

    spec = parse_spec("correct+malformed:0.5")                  # RewardSpec; every spec string is parsed here
    reward = make_reward(spec, seed=run_seed)
    outs = reward.score(texts, verdicts, step=step, prompt_index=p)  # list[RewardOutput], one per text
    # `incorrect` also takes label_hits: per sample, does its answer equal the problem's wrong label
    # (the env decides: `rl.envs.WorldEnv.label_hits`, `math.reward.label_agreement`)

Spec syntax: `BASE[:ARG]` then zero or more `+PENALTY:COEF`, e.g. `random:0.3`, `correct+length:0.001`,
`brier+malformed:1`. Spaces are ignored; exactly one base reward, first; each penalty at most once; `+` only
separates terms (write 1e3, not 1e+3). `reward.name` is the canonical spec, every argument written out.

| base      | score of sample i                                                  | ARG                   |
|-----------|--------------------------------------------------------------------|-----------------------|
| correct   | 1[verdict.correct]                                                 | none                  |
| random    | 1[u_i < p], u_i ~ U[0,1) seeded by (seed, step, prompt_index, i)    | p in [0, 1], def. 0.5 |
| incorrect | 1[answer_i agrees with label], label = base model's wrong majority | none (labels=)        |
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
- TTRL votes over 64 samples and trains on 32; here the vote is over the texts passed to `score`.
- `rl.envs.incorrect_labels` labels only problems whose base-model majority answer is wrong; problems with a right
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from priorlab.common.verdict import Verdict

BRIER_MISSING = -2.0  # RLCR's format-failure total (0) mapped onto the paper's scale: 0 = 1 + R/2


@dataclass(frozen=True)
class RewardOutput:
    """One sample's reward: `score` is optimised, `correct` is the shadow metric (true correctness)."""

    score: float
    components: dict[str, float]
    correct: bool


@dataclass(frozen=True)
class Group:
    """What a base reward sees: one prompt's samples, already verified, and where they sit in the run.
    label_hits: per sample, whether its answer agrees with the problem's wrong label (`incorrect` only)."""

    verdicts: Sequence[Verdict]
    seed: int
    step: int
    prompt_index: int
    label_hits: Sequence[bool] | None = None


Scored = list[tuple[float, dict[str, float]]]  # per sample: (value, diagnostics)
A = TypeVar("A")  # an answer: an int in the world, a normalised string in math data


def majority_answer(answers: Sequence[A | None]) -> A | None:
    """Most common non-None answer; ties go to the tied answer seen first (TTRL's Counter.most_common(1))."""
    counts = Counter(a for a in answers if a is not None)
    return counts.most_common(1)[0][0] if counts else None


# ------------------------------------------------------------ base rewards: (group, arg) -> per-sample values


def correct_reward(g: Group, _arg: float | None) -> Scored:
    """r_i = 1[answer_i is right], the verifiable reward."""
    return [(float(v.correct), {}) for v in g.verdicts]


def random_reward(g: Group, p: float | None) -> Scored:
    """r_i = 1[u_i < p], u_i from Generator([seed, step, prompt_index, i]) (Spurious Rewards, 2506.10947)."""
    assert p is not None, "parse_spec gives random its default p"
    draws = [np.random.default_rng([g.seed, g.step, g.prompt_index, i]).random() for i in range(len(g.verdicts))]
    return [(float(u < p), {}) for u in draws]


def incorrect_reward(g: Group, _arg: float | None) -> Scored:
    """r_i = 1[answer_i agrees with the base model's wrong majority answer] (Spurious Rewards)."""
    if g.label_hits is None or len(g.label_hits) != len(g.verdicts):
        raise ValueError("reward 'incorrect' needs label_hits: one bool per sample (does it match the wrong label)")
    return [(float(hit), {}) for hit in g.label_hits]


def format_reward(g: Group, _arg: float | None) -> Scored:
    """r_i = 1[completion is well-formed], whatever its answer (Spurious Rewards' format reward)."""
    return [(float(v.well_formed), {}) for v in g.verdicts]


def majority_reward(g: Group, _arg: float | None) -> Scored:
    """r_i = 1[answer_i == majority answer of the group] (TTRL, arXiv 2504.16084).

    Diagnostics (TTRL's): `label_correct` = 1[majority is right] (read off the verdict of the first sample
    that gave it), `majority_ratio` = majority count / G.
    """
    answers = [v.answer for v in g.verdicts]
    label = majority_answer(answers)
    holder = answers.index(label) if label is not None else None
    diag = {
        "label_correct": float(holder is not None and g.verdicts[holder].correct),
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
    """The registered base rewards."""
    return list(REWARDS)


def penalty_names() -> list[str]:
    """The registered penalties."""
    return list(PENALTIES)


# ------------------------------------------------------------------------------------------- specs
@dataclass(frozen=True)
class RewardSpec:
    """A parsed reward spec: one base reward with its argument, then penalties with their coefficients."""

    base: str
    arg: float | None = None
    penalties: tuple[tuple[str, float], ...] = ()

    @property
    def name(self) -> str:
        """The canonical spec string, every argument written out (`random` -> `random:0.5`)."""
        return self.base + (f":{self.arg!r}" if self.arg is not None else "") + "".join(
            f"+{n}:{c!r}" for n, c in self.penalties)

    @property
    def needs_labels(self) -> bool:
        """The `incorrect` reward scores agreement with per-problem wrong labels fixed before training."""
        return self.base == "incorrect"


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


def parse_spec(spec: str | RewardSpec) -> RewardSpec:
    """Parse a spec (`random:0.5`, `correct+length:0.001`, ...; see the module doc); a RewardSpec is returned
    as is. Every invalid spec is a ValueError naming the spec and the valid names."""
    if isinstance(spec, RewardSpec):
        return spec
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
        if arg is None or not spec_b.lo <= arg <= spec_b.hi:
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
    return RewardSpec(base, arg, tuple(penalties))


# ------------------------------------------------------------------------------------------ scorer
@dataclass(frozen=True)
class Reward:
    """A base reward plus penalties, scoring verdicts; build it with `make_reward`."""

    spec: RewardSpec
    seed: int

    @property
    def name(self) -> str:
        """The reward's full spec, e.g. `correct+length:0.01`."""
        return self.spec.name

    @property
    def base(self) -> str:
        """The base reward's name, e.g. `correct`."""
        return self.spec.base

    def score(self, texts: Sequence[str], verdicts: Sequence[Verdict], *, step: int, prompt_index: int,
              label_hits: Sequence[bool] | None = None,
              label_diagnostics: Sequence[dict[str, float]] | None = None) -> list[RewardOutput]:
        """Score the samples `texts` of one prompt from their verdicts; `step` and `prompt_index` (≥ 0) seed
        the random reward; `label_hits` (and optional per-sample `label_diagnostics`) serve `incorrect`.

        Components, in this order: correct, format_ok, the verdict's diagnostics, the label diagnostics, the
        base reward's diagnostics, the base value under its name, then `<penalty>_penalty` per penalty."""
        if step < 0 or prompt_index < 0:
            raise ValueError(f"step={step} and prompt_index={prompt_index} must be >= 0")
        if len(texts) != len(verdicts):
            raise ValueError(f"texts and verdicts differ in length: {len(texts)} vs {len(verdicts)}")
        g = Group(verdicts, self.seed, step, prompt_index, label_hits)
        outs = []
        for i, (text, v, (value, diag)) in enumerate(zip(texts, verdicts, REWARDS[self.spec.base].fn(g, self.spec.arg))):
            comps = {"correct": float(v.correct), "format_ok": float(v.well_formed), **v.diagnostics,
                     **(label_diagnostics[i] if label_diagnostics is not None else {}), **diag, self.spec.base: value}
            score = value
            for pname, coef in self.spec.penalties:
                pen = PENALTIES[pname](text, v, coef)
                comps[f"{pname}_penalty"] = pen
                score += pen
            outs.append(RewardOutput(score, comps, v.correct))
        return outs


def make_reward(spec: str | RewardSpec, *, seed: int = 0) -> Reward:
    """The reward of a spec; `seed` (an int ≥ 0) is the run seed behind `random`."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"reward seed={seed!r} must be an int >= 0")
    return Reward(parse_spec(spec), seed)
