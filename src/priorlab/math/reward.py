"""priorlab's rewards on real math text: the grader turns completions into `Verdict`s, which `rl.rewards` scores.

    reward = MathReward("brier+length:0.001", style="math", seed=0)    # what the TRL / verl / OpenRLHF wrappers use
    outs = reward.score_group(texts, gold, step=0, prompt_index=0)     # list[RewardOutput]

The reward specs are `rl.rewards`' (`correct`, `random:0.3`, `brier+length:0.001`, ...), read on real text:

| base      | score of completion i (a = its extracted answer: last \\boxed{}; gsm8k style also `#### N`)   |
|-----------|--------------------------------------------------------------------------------------------|
| correct   | 1[a is Math-Verify-equivalent to the gold answer]                                          |
| random    | 1[u_i < p], u_i from Generator([seed, step, prompt_index, i]) -- never reads the text        |
| incorrect | 1[a is equivalent to the supplied wrong label] (Spurious Rewards grade against the label)  |
| format    | 1[a non-empty, closed \\boxed{} (gsm8k: or `#### N`)] (Spurious Rewards' format reward)     |
| majority  | 1[key(a) == the group's most common key(a)] (TTRL); key = `grading.answer_key`             |
| brier     | c − (q − c)², c = correct, q = last `<confidence>q</confidence>` in [0, 1] (RLCR); −2 when  |
|           | there is no answer or no such confidence (`rewards.BRIER_MISSING`, as in the world)        |

A math verdict: correct = the grade; answer = `answer_key(pred)` (what the majority vote counts); well_formed
= an answer was extracted; format "boxed"; confidence = `parse_confidence(text)`; extracted = pred; and the
diagnostic `grade_failed` = 1 when Math-Verify timed out or raised on the gold comparison (counted, never a
silent 0). Penalties are the world's (`length`: −coef per character, not token; `malformed`: −coef
without an answer). `incorrect` adds `label_grade_failed` (the comparison with the label failed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from priorlab.common.verdict import Verdict
from priorlab.math.grading import (
    DEFAULT_TIMEOUT,
    Grade,
    Grader,
    answer_key,
    gold_answer,
    parse_confidence,
    shared_grader,
)
from priorlab.rl.rewards import BRIER_MISSING, RewardOutput, make_reward


def math_verdict(grade: Grade, text: str) -> Verdict:
    """A grade as a verdict (module doc)."""
    return Verdict(grade.correct, answer_key(grade.pred) if grade.pred is not None else None, grade.pred is not None,
                   "boxed" if grade.pred is not None else None, parse_confidence(text), grade.pred,
                   {"grade_failed": float(grade.status in ("timeout", "error"))})


def label_agreement(grader: Grader, wrong_label: str, verdicts: Sequence[Verdict]) -> tuple[list[bool], list[dict]]:
    """Per completion: does its extracted answer equal the wrong label (Math-Verify), and did that comparison
    fail (`label_grade_failed`); a completion without an answer agrees with nothing."""
    label = gold_answer(str(wrong_label), grader.style)
    todo = [i for i, v in enumerate(verdicts) if v.extracted is not None]
    res = dict(zip(todo, grader.equal([(label, str(verdicts[i].extracted)) for i in todo])))
    return ([bool(i in res and res[i][1]) for i in range(len(verdicts))],
            [{"label_grade_failed": float(i in res and res[i][0] != "ok")} for i in range(len(verdicts))])


@dataclass(frozen=True)
class Scored:
    """One completion: the reward output plus what the grader saw (for logging)."""

    out: RewardOutput
    grade: Grade


class MathReward:
    """A priorlab reward spec applied to real math completions given with their gold answer (module doc)."""

    def __init__(self, spec: str = "correct", *, style: str = "math", seed: int = 0,
                 timeout: float = DEFAULT_TIMEOUT, grader: Grader | None = None):
        self.reward = make_reward(spec, seed=seed)
        self.name, self.base, self.seed = self.reward.name, self.reward.base, seed
        self.grader = grader if grader is not None else shared_grader(style, timeout)
        self.style = self.grader.style

    def score_group(self, texts: Sequence[str], gold: str, *, step: int, prompt_index: int,
                    wrong_label: str | None = None) -> list[RewardOutput]:
        """Score the completions `texts` of one prompt with gold answer `gold` (the raw answer field)."""
        return [s.out for s in self.score(texts, gold, step=step, prompt_index=prompt_index, wrong_label=wrong_label)]

    def score(self, texts: Sequence[str], gold: str, *, step: int, prompt_index: int,
              wrong_label: str | None = None) -> list[Scored]:
        """Grade one prompt's completions against `gold` and score them with the reward (a wrong label for
        `incorrect`); one Scored per completion."""
        if step < 0 or prompt_index < 0:
            raise ValueError(f"step={step} and prompt_index={prompt_index} must be >= 0")
        if self.reward.spec.needs_labels and wrong_label is None:
            raise ValueError("reward 'incorrect' needs a wrong label for each prompt (e.g. an incorrect_label column)")
        grades = self.grader.grade(texts, [gold] * len(texts))
        verdicts = [math_verdict(g, t) for g, t in zip(grades, texts)]
        hits, diags = (label_agreement(self.grader, wrong_label, verdicts)
                       if self.reward.spec.needs_labels and wrong_label is not None else (None, None))
        outs = self.reward.score(texts, verdicts, step=step, prompt_index=prompt_index, label_hits=hits,
                                 label_diagnostics=diags)
        return [Scored(o, g) for o, g in zip(outs, grades)]

    def base_unit_score(self, out: RewardOutput) -> float:
        """The base reward without penalties, mapped to [0, 1] (OpenRLHF's `scores`)."""
        v = out.components[self.base]
        return (v - BRIER_MISSING) / (1.0 - BRIER_MISSING) if self.base == "brier" else v
