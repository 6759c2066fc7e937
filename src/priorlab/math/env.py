"""A math data file as an RL environment for Hugging Face policies (`rl.loop` with `--data`).

    env = MathEnv(cfg)                        # reads cfg.data (and cfg.eval_data) before any model is loaded
    env.prepare(policy, out, log)             # encodes the prompts; `incorrect` labels (labels.json)
    verdicts = env.verify(example, texts)     # graded against example.raw_answer (math.reward.math_verdict)

Verification and the reward table are `math.reward`'s (the scorer the TRL / verl / OpenRLHF wrappers use).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from priorlab.common import runfiles
from priorlab.common.seeds import derive
from priorlab.common.verdict import Verdict
from priorlab.math.data import Dataset, Example
from priorlab.math.grading import Grader, answer_key, gold_answer
from priorlab.math.reward import label_agreement, math_verdict
from priorlab.model.hf.generate import hf_rollout
from priorlab.rl.envs import VerifiedEnv
from priorlab.rl.rewards import majority_answer, make_reward, parse_spec


class MathEnv(VerifiedEnv):
    """A data file as an environment (`cfg.data`, a `math.data.DataSpec`): each step draws P of its examples
    (a pure function of (seed, step)); verification grades against each example's raw answer with a
    `Grader` of the file's style; `incorrect` trains only on examples whose base-model majority answer is
    wrong (`wrong_labels`, saved in labels.json); the optional `cfg.eval_data` gives greedy and T accuracy
    and pass@eval_samples. Without `cfg` it only verifies (`grader`, `labels` {example id: wrong label})."""

    def __init__(self, cfg=None, *, grader: Grader | None = None, labels: Mapping[str, str] | None = None,
                 log=None):
        self.cfg, self.labels = cfg, labels
        self.policy: Any = None  # the RL loop's policy, given to prepare
        self.reward = make_reward(cfg.reward, seed=cfg.seed) if cfg is not None else None
        self.ds: Any = None  # the training Dataset; None when the env only verifies
        self.eval_ds: Dataset | None = None
        if cfg is not None:  # the files are read before any model is loaded: a bad file fails fast
            self.ds = cfg.data.load(log)
            self.eval_ds = cfg.eval_data.load(log) if cfg.eval_data is not None else None
            grader = Grader(style=self.ds.style, timeout=cfg.timeout)
        self.grader: Any = grader  # a Grader; None only for an env that is never asked to verify
        self.eval_grader: Any = Grader(style=self.eval_ds.style, timeout=cfg.timeout) if self.eval_ds is not None else None

    def prepare(self, policy, out: Path, log) -> None:
        """Encode the training (and evaluation) prompts once, and fix the `incorrect` reward's labels (saved in
        labels.json) and the training pool."""
        cfg, self.policy = self.cfg, policy
        self.ids = policy.encode([ex.question for ex in self.ds.examples])
        self.row = {id(ex): i for i, ex in enumerate(self.ds.examples)}
        self.eval_ids: Any = policy.encode([ex.question for ex in self.eval_ds.examples]) if self.eval_ds else None
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
        ro = hf_rollout(self.policy.lm, self.ids, n=n, max_new_tokens=cfg.max_new_tokens, temperature=1.0,
                        seed=derive(cfg.seed, "base-samples"), batch_size=cfg.batch_size)
        grades = self.grader.grade(ro.texts, [ex.raw_answer for ex in examples for _ in range(n)])
        labels: dict[str, str] = {}
        for i, ex in enumerate(examples):
            row = grades[i * n:(i + 1) * n]
            keys = [answer_key(g.pred) if g.pred is not None else None for g in row]
            majority = majority_answer(keys)
            if majority is None:
                continue
            top = row[keys.index(majority)]
            label = f"#### {top.pred}" if style == "gsm8k" else str(top.pred)  # not None: it is the majority
            try:
                gold_answer(label, style)
            except ValueError:
                continue  # e.g. a non-integer majority on an integer-answer (AIME) file cannot be a label
            if not top.correct:
                labels[ex.id] = label
        return labels

    def prompts(self, step: int) -> list[Example]:
        """`prompts_per_step` examples of the training pool for step `step` (seeded by the step; with replacement
        when the pool is smaller)."""
        rng = random.Random(f"hf-rl-prompts:{self.cfg.seed}:{step}")
        P, pool = self.cfg.prompts_per_step, self.pool
        idx = rng.sample(pool, P) if len(pool) >= P else [rng.choice(pool) for _ in range(P)]
        return [self.ds.examples[i] for i in idx]

    def prompt_ids(self, problems: list[Example]) -> list[list[int]]:
        """The examples' prompts, rendered and tokenized once in `prepare`."""
        return [self.ids[self.row[id(ex)]] for ex in problems]

    def verify(self, example: Example, texts: Sequence[str]) -> list[Verdict]:
        """Grade each completion against the example's gold answer (Math-Verify in the worker pool) as Verdicts."""
        grades = self.grader.grade(texts, [example.raw_answer] * len(texts))
        return [math_verdict(g, t) for g, t in zip(grades, texts)]

    def label_hits(self, example: Example, verdicts: Sequence[Verdict]) -> tuple[list[bool], list[dict]]:
        """The `incorrect` reward's hits: whether each completion's answer matches the example's wrong label."""
        if self.labels is None or example.id not in self.labels:
            raise ValueError(f"reward 'incorrect' needs a wrong label for example {example.id!r}")
        return label_agreement(self.grader, self.labels[example.id], verdicts)

    def evaluate(self, step: int) -> dict:
        """Greedy accuracy, accuracy at the training temperature (eval_samples each) and pass@eval_samples;
        nothing without --eval-data."""
        if self.eval_ds is None:
            return {}
        cfg = self.cfg
        golds = [ex.raw_answer for ex in self.eval_ds.examples]
        out = {}
        for name, temp, n in (("greedy", 0.0, 1), ("t1", cfg.temperature or 1.0, cfg.eval_samples)):
            ro = hf_rollout(self.policy.lm, self.eval_ids, n=n, max_new_tokens=cfg.max_new_tokens, temperature=temp,
                            top_p=cfg.top_p, seed=derive(cfg.seed, "eval"), batch_size=cfg.batch_size)
            grades = self.eval_grader.grade(ro.texts, [g for g in golds for _ in range(n)])
            c = np.array([g.correct for g in grades]).reshape(-1, n)
            out[f"eval/acc_{name}"] = float(c.mean())
            if n > 1:
                out[f"eval/pass@{n}"] = float(c.any(1).mean())
        return out

    def problem_id(self, example: Example) -> str:
        """The example's id in its data file."""
        return example.id

    def close(self) -> None:
        """Close the graders' worker pools."""
        for g in (self.grader, self.eval_grader):
            if g is not None:
                g.close()
