"""Real math as an RL environment: the grader turns completions into `Verdict`s, which `rl.rewards` scores.

    env = MathEnv(cfg)                                                 # the RL loop's env for --data files
    verdicts = env.verify(example, texts)                              # graded against example.raw_answer
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

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from priorlab.common import runfiles
from priorlab.common.seeds import derive
from priorlab.common.verdict import Verdict
from priorlab.math.data import Dataset, Example
from priorlab.math.grading import (
    DEFAULT_TIMEOUT,
    Grade,
    Grader,
    answer_key,
    gold_answer,
    parse_confidence,
    shared_grader,
)
from priorlab.rl.rewards import BRIER_MISSING, RewardOutput, majority_answer, make_reward, parse_spec

if TYPE_CHECKING:
    from priorlab.model.completions import Rollouts


def _hf_rollout(*args, **kwargs):
    # imported on use: the TRL / verl / OpenRLHF wrappers import this module and must not pull in torch
    from priorlab.model.hf.generate import hf_rollout

    return hf_rollout(*args, **kwargs)


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
    res = dict(zip(todo, grader.equal([(label, verdicts[i].extracted) for i in todo])))
    return ([bool(i in res and res[i][1]) for i in range(len(verdicts))],
            [{"label_grade_failed": float(i in res and res[i][0] != "ok")} for i in range(len(verdicts))])


class MathEnv:
    """A data file as an environment (`cfg.data`, a `math.data.DataSpec`): each step draws P of its examples
    (a pure function of (seed, step)); verification grades against each example's raw answer with a
    `Grader` of the file's style; `incorrect` trains only on examples whose base-model majority answer is
    wrong (`wrong_labels`, saved in labels.json); the optional `cfg.eval_data` gives greedy and T accuracy
    and pass@eval_samples. Without `cfg` it only verifies (`grader`, `labels` {example id: wrong label})."""

    def __init__(self, cfg=None, *, grader: Grader | None = None, labels: Mapping[str, str] | None = None,
                 log=None):
        self.cfg, self.labels, self.policy = cfg, labels, None
        self.ds: Dataset | None = None
        self.eval_ds: Dataset | None = None
        if cfg is not None:  # the files are read before any model is loaded: a bad file fails fast
            self.ds = cfg.data.load(log)
            self.eval_ds = cfg.eval_data.load(log) if cfg.eval_data is not None else None
            grader = Grader(style=self.ds.style, timeout=cfg.timeout)
        self.grader = grader
        self.eval_grader = Grader(style=self.eval_ds.style, timeout=cfg.timeout) if self.eval_ds is not None else None

    def prepare(self, policy, out: Path, log) -> None:
        cfg, self.policy = self.cfg, policy
        self.ids = policy.encode([ex.question for ex in self.ds.examples])
        self.row = {id(ex): i for i, ex in enumerate(self.ds.examples)}
        self.eval_ids = policy.encode([ex.question for ex in self.eval_ds.examples]) if self.eval_ds else None
        if parse_spec(cfg.reward).needs_labels:
            saved = out / "labels.json"
            self.labels = runfiles.read_json(saved) if saved.exists() else self.wrong_labels()
            runfiles.atomic_write_json(saved, self.labels)
            if not self.labels:
                raise ValueError(f"--reward incorrect: the base model's majority answer is never wrong on {self.ds.path}")
            log(f"incorrect reward: {len(self.labels)} problems whose base majority answer is wrong")
        self.pool = [i for i, ex in enumerate(self.ds.examples) if self.labels is None or ex.id in self.labels]

    def wrong_labels(self) -> dict[str, str]:
        """The `incorrect` reward's label per problem: the base model's majority answer where it is wrong
        (Spurious Rewards' construction); problems whose majority is right, or absent, get none."""
        cfg, examples, style = self.cfg, self.ds.examples, self.ds.style
        n = cfg.label_samples
        ro = _hf_rollout(self.policy.lm, self.ids, n=n, max_new_tokens=cfg.max_new_tokens, temperature=1.0,
                        seed=derive(cfg.seed, "base-samples"), batch_size=cfg.batch_size)
        grades = self.grader.grade(ro.texts, [ex.raw_answer for ex in examples for _ in range(n)])
        labels = {}
        for i, ex in enumerate(examples):
            row = grades[i * n:(i + 1) * n]
            keys = [answer_key(g.pred) if g.pred is not None else None for g in row]
            majority = majority_answer(keys)
            if majority is None:
                continue
            top = row[keys.index(majority)]
            label = f"#### {top.pred}" if style == "gsm8k" else top.pred
            try:
                gold_answer(label, style)
            except ValueError:
                continue  # e.g. a non-integer majority on an integer-answer (AIME) file cannot be a label
            if not top.correct:
                labels[ex.id] = label
        return labels

    def prompts(self, step: int) -> list[Example]:
        rng = random.Random(f"hf-rl-prompts:{self.cfg.seed}:{step}")
        P, pool = self.cfg.prompts_per_step, self.pool
        idx = rng.sample(pool, P) if len(pool) >= P else [rng.choice(pool) for _ in range(P)]
        return [self.ds.examples[i] for i in idx]

    def prompt_ids(self, problems: list[Example]) -> list[list[int]]:
        return [self.ids[self.row[id(ex)]] for ex in problems]

    def verify(self, example: Example, texts: Sequence[str]) -> list[Verdict]:
        grades = self.grader.grade(texts, [example.raw_answer] * len(texts))
        return [math_verdict(g, t) for g, t in zip(grades, texts)]

    def label_hits(self, example: Example, verdicts: Sequence[Verdict]) -> tuple[list[bool], list[dict]]:
        if self.labels is None or example.id not in self.labels:
            raise ValueError(f"reward 'incorrect' needs a wrong label for example {example.id!r}")
        return label_agreement(self.grader, self.labels[example.id], verdicts)

    def rollout_metrics(self, ro: Rollouts) -> dict:
        return {}

    def evaluate(self, step: int) -> dict:
        """Greedy accuracy, accuracy at the training temperature (eval_samples each) and pass@eval_samples;
        nothing without --eval-data."""
        if self.eval_ds is None:
            return {}
        cfg = self.cfg
        golds = [ex.raw_answer for ex in self.eval_ds.examples]
        out = {}
        for name, temp, n in (("greedy", 0.0, 1), ("t1", cfg.temperature or 1.0, cfg.eval_samples)):
            ro = _hf_rollout(self.policy.lm, self.eval_ids, n=n, max_new_tokens=cfg.max_new_tokens, temperature=temp,
                            top_p=cfg.top_p, seed=derive(cfg.seed, "eval"), batch_size=cfg.batch_size)
            grades = self.eval_grader.grade(ro.texts, [g for g in golds for _ in range(n)])
            c = np.array([g.correct for g in grades]).reshape(-1, n)
            out[f"eval/acc_{name}"] = float(c.mean())
            if n > 1:
                out[f"eval/pass@{n}"] = float(c.any(1).mean())
        return out

    def problem_id(self, example: Example) -> str:
        return example.id

    def close(self) -> None:
        for g in (self.grader, self.eval_grader):
            if g is not None:
                g.close()


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
        if step < 0 or prompt_index < 0:
            raise ValueError(f"step={step} and prompt_index={prompt_index} must be >= 0")
        if self.reward.spec.needs_labels and wrong_label is None:
            raise ValueError("reward 'incorrect' needs a wrong label for each prompt (e.g. an incorrect_label column)")
        grades = self.grader.grade(texts, [gold] * len(texts))
        verdicts = [math_verdict(g, t) for g, t in zip(grades, texts)]
        hits, diags = label_agreement(self.grader, wrong_label, verdicts) if self.reward.spec.needs_labels else (None, None)
        outs = self.reward.score(texts, verdicts, step=step, prompt_index=prompt_index, label_hits=hits,
                                 label_diagnostics=diags)
        return [Scored(o, g) for o, g in zip(outs, grades)]

    def base_unit_score(self, out: RewardOutput) -> float:
        """The base reward without penalties, mapped to [0, 1] (OpenRLHF's `scores`)."""
        v = out.components[self.base]
        return (v - BRIER_MISSING) / (1.0 - BRIER_MISSING) if self.base == "brier" else v
