"""RL environments: the prompts of each step, how a completion is verified, the evaluation set.

    env = WorldEnv(cfg)                                  # the controlled world's arithmetic task
    env.prepare(policy, out, log)                        # fixes the training pool / `incorrect` labels once
    problems = env.prompts(step)                         # P problems, a pure function of (seed, step)
    ids = env.prompt_ids(problems)                       # token ids through the policy's own encoder
    verdicts = env.verify(problem, texts)                # list[Verdict], one per completion
    outs = score_group(reward, env, problem, texts, step=s, prompt_index=p)
    env.evaluate(step)                                   # the eval/* metrics on the held-out set

An environment owns verification, so a reward (`rl.rewards`) scores verdicts and never parses text. The
math environment for real data files is `math.env.MathEnv`; both satisfy `Env`, and the loop
(`rl.loop.train`) is written once over an `Env` and a `Policy` (`rl.policies`).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from priorlab.common import runfiles
from priorlab.common.seeds import derive
from priorlab.common.verdict import Verdict
from priorlab.evals import world_eval as ev
from priorlab.model.completions import Rollouts
from priorlab.rl.rewards import Reward, RewardOutput, majority_answer, make_reward, parse_spec
from priorlab.world.formats import FORMATS, parse
from priorlab.world.tasks import Problem, Task, get_task, parse_difficulties

ONE_SHOT_RULES = ("pass-rate", "first")


class Env(Protocol):
    """What the RL loop asks of an environment (the problem type is the env's own)."""

    @property
    def rollout_tokens(self) -> int:
        """The sampling budget of one completion."""

    def prepare(self, policy, out: Path, log) -> None:
        """Fix what a run trains on before step 0 (pools, labels), given the policy and the run directory."""

    def prompts(self, step: int) -> list:
        """The problems of RL step `step` (a pure function of the seed and the step)."""

    def prompt_ids(self, problems: list) -> list[list[int]]:
        """The prompts of `problems` as token ids, in the policy's encoding."""

    def score(self, problems: list, ro: Rollouts, step: int) -> tuple[torch.Tensor, list, torch.Tensor | None]:
        """Rewards [P, G], per-sample outputs, and the tokens the loss is over ([B, T] bool; None = all)."""

    def metrics(self, problems: list, ro: Rollouts, outs: list, rewards: torch.Tensor,
                score_mask: torch.Tensor | None) -> dict:
        """The step's logged metrics: rewards, correctness, lengths, entropy and the env's own."""

    def evaluate(self, step: int) -> dict:
        """Held-out evaluation metrics (eval/*) at step `step`; {} when the env has none."""

    def progress(self, row: dict) -> str:
        """One step's progress line (after "step s/n") from its metrics row."""

    def problem_id(self, problem) -> str:
        """A problem's stable text id (rollout files and logs)."""

    def close(self) -> None:
        """Release what the env holds (worker pools); called once when the run ends."""


def incorrect_labels(problems: Sequence[Problem], sample_answers: Sequence[Sequence[int | None]]) -> dict[str, int]:
    """Spurious Rewards' incorrect labels (arXiv 2506.10947 §2.2): for each problem whose base-model majority
    answer (over `sample_answers[i]`, the parsed answers of its samples) is wrong, {problem.expr: that answer}.

    Problems with a right majority or no parsed answer are left out: the keys are the eligible problems,
    the only ones an `incorrect` run may train on (see `eligible_problems`).
    """
    if len(problems) != len(sample_answers):
        raise ValueError(f"problems and sample_answers differ in length: {len(problems)} vs {len(sample_answers)}")
    labels: dict[str, int] = {}
    for problem, answers in zip(problems, sample_answers):
        m = majority_answer(answers)
        if m is not None and m != problem.answer:
            labels[problem.expr] = m
    return labels


def eligible_problems(problems: Sequence[Problem], labels: Mapping[str, int]) -> list[Problem]:
    """The problems an `incorrect` run trains on: those with a (wrong) label."""
    return [p for p in problems if p.expr in labels]


def draw_problems(n: int, difficulty: str, rng: random.Random) -> list[Problem]:
    """`n` train-split problems of the comma list `difficulty`, each difficulty drawn uniformly, from `rng`."""
    task, diffs = get_task(), parse_difficulties(difficulty)
    return [task.generate(rng, rng.choice(diffs), split="train") for _ in range(n)]


def one_shot_choice(problems: list[Problem], samples: list[list[dict]], rule: str) -> int:
    """The one-shot example: `pass-rate` picks the base pass rate closest to 0.5 (ties: first), a
    stand-in for the historical-variance score of arXiv 2504.20571 that needs no earlier RL run."""
    if rule == "first":
        return 0
    rates = [np.mean([c["correct"] for c in comps]) for comps in samples]
    return int(np.argmin([abs(r - 0.5) for r in rates]))


def mean_entropy(entropies: torch.Tensor | None, mask: torch.Tensor | None) -> float:
    """Mean token entropy over the tokens `mask` marks ([B, T] each); NaN when it marks none. ValueError when
    the rollouts carry no such mask (world labels) or, with tokens to average, no entropies."""
    if mask is None:
        raise ValueError("the rollouts carry no token labels: sample them in the controlled world")
    n = int(mask.sum())
    if not n:
        return float("nan")
    if entropies is None:
        raise ValueError("the rollouts carry no entropies: sample with entropies")
    return float((entropies * mask).sum() / n)


def reward_metrics(ro, outs: list, rewards: torch.Tensor) -> dict:
    """What every RL trainer logs of a rollout batch: rewards, their components, the true correctness,
    lengths and the mean entropy of the completion tokens (ro: world Rollouts or an HF rollout)."""
    flat = [o for group in outs for o in group]
    m = {"reward/mean": float(rewards.mean()), "reward/std": float(rewards.std()) if rewards.numel() > 1 else 0.0,
         "correct/mean": float(np.mean([o.correct for o in flat])),  # shadow metric: true correctness
         "length/mean": float(ro.lengths.float().mean()), "length/truncated": float((~ro.finished).float().mean())}
    for name in flat[0].components:
        vals = [o.components[name] for o in flat if isinstance(o.components.get(name), (int, float, bool))]
        if vals:
            m[f"reward/{name}"] = float(np.mean(vals))
    m["entropy/all"] = mean_entropy(ro.entropies, ro.completion_mask)
    return m


class VerifiedEnv:
    """The environments whose completions are verified into `Verdict`s and scored by the reward spec
    `cfg.reward` (the world's task, math data files). A subclass supplies prompts, `verify`, `label_hits`
    (the `incorrect` reward), `rollout_metrics` (its own per-step metrics) and `evaluate`."""

    cfg: Any = None  # the run's RLConfig (SRLConfig for SRL); None when the env only verifies
    reward: Any = None  # the Reward of cfg.reward; None when the env only verifies

    @property
    def rollout_tokens(self) -> int:
        """The sampling budget of one completion: the config's max_new_tokens."""
        return self.cfg.max_new_tokens

    def score(self, problems: list, ro: Rollouts, step: int) -> tuple[torch.Tensor, list, None]:
        """Rewards [P, G] and the per-sample outputs (components, shadow correctness); the loss is over every
        completion token."""
        G, outs = self.cfg.group_size, []
        for i, p in enumerate(problems):
            outs.append(score_group(self.reward, self, p, ro.texts[i * G : (i + 1) * G], step=step, prompt_index=i))
        return torch.tensor([[o.score for o in group] for group in outs], dtype=torch.float32), outs, None

    def metrics(self, problems: list, ro: Rollouts, outs: list, rewards: torch.Tensor, score_mask) -> dict:
        """reward_metrics of the batch plus the env's own `rollout_metrics`."""
        return {**reward_metrics(ro, outs, rewards), **self.rollout_metrics(ro)}

    def rollout_metrics(self, ro: Rollouts) -> dict:
        """The env's own per-step metrics of a rollout batch (none here; subclasses add theirs)."""
        return {}

    def verify(self, problem, texts: Sequence[str]) -> list[Verdict]:
        """The Verdict of each completion of one problem (each subclass verifies its own way)."""
        raise NotImplementedError

    def label_hits(self, problem, verdicts: Sequence[Verdict]) -> tuple[list[bool], list[dict] | None]:
        """The `incorrect` reward's hits (each sample's answer equals the problem's wrong label) and diagnostics."""
        raise NotImplementedError

    def progress(self, row: dict) -> str:
        """One step's progress line: reward, correctness, clip fraction, time, and the evaluation when it ran."""
        return (f"reward {row['reward/mean']:.3f} correct {row['correct/mean']:.3f} clip {row.get('loss/clip_frac', 0):.4f} "
                f"{row['time/step_s']:.2f}s"
                + (f" | eval greedy {row['eval/acc_greedy']:.3f} t1 {row['eval/acc_t1']:.3f}" if "eval/acc_t1" in row else ""))


class WorldEnv(VerifiedEnv):
    """The controlled world's task as an environment. Prompts: fresh train-split problems of
    `cfg.difficulty` every step, or a fixed pool (`cfg.train_problems` K; K = 1 is one-shot RLVR, the
    example picked by `cfg.one_shot_rule`); an `incorrect` run trains only on problems whose base-model
    majority answer is wrong (`incorrect_labels`). Pool and labels are fixed before step 0 and saved in
    `data.json`. Verification: `Task.verify`. Evaluation: greedy and T=1 accuracy on `cfg.eval_problems`
    held-out problems per difficulty (`evals.world_eval.policy_eval`).

    Without `cfg` it only verifies (`labels`: the `incorrect` reward's wrong answers by problem expression)."""

    def __init__(self, cfg=None, *, task: Task | None = None, labels: Mapping[str, int] | None = None):
        self.cfg, self.labels = cfg, labels
        self.reward = make_reward(cfg.reward, seed=cfg.seed) if cfg is not None else None
        self.task = task if task is not None else get_task()
        self.pool: list[Problem] | None = None
        self.policy: Any = None  # the RL loop's policy, given to prepare

    # ------------------------------------------------------------------ before step 0
    def prepare(self, policy, out: Path, log) -> None:
        """Fix the training pool (and the `incorrect` reward's labels) before step 0; saved in data.json."""
        cfg, self.policy = self.cfg, policy
        self.eval_set = ev.problem_set(cfg.difficulty, cfg.eval_problems, cfg.seed)
        needs_labels = parse_spec(cfg.reward).needs_labels
        saved = out / "data.json"
        if saved.exists():
            d = runfiles.read_json(saved)
            self.pool = [Problem.from_expr(e) for e in d["pool"]] if d["pool"] is not None else None
            self.labels = d.get("labels")
            return
        rng = random.Random(f"rl-pool:{cfg.seed}")
        pool, labels = None, None
        if cfg.train_problems == 1:
            cands = draw_problems(64, cfg.difficulty, rng)
            pick = one_shot_choice(cands, self._base_answers(cands), cfg.one_shot_rule)
            pool = [cands[pick]]
            log(f"one-shot example ({cfg.one_shot_rule}): {pool[0].expr}")
        elif cfg.train_problems > 1 or needs_labels:
            pool = draw_problems(cfg.train_problems or 256, cfg.difficulty, rng)
        if needs_labels:
            assert pool is not None  # drawn above whenever labels are needed
            samples = self._base_answers(pool)
            labels = incorrect_labels(pool, [[c["answer"] for c in comps] for comps in samples])
            pool = [p for p in pool if p.expr in labels]
            if not pool:
                raise ValueError("--reward incorrect: the base model's majority answer is right on every problem")
            log(f"incorrect reward: {len(pool)} problems whose base majority answer is wrong")
        runfiles.atomic_write_json(saved, {"pool": None if pool is None else [p.expr for p in pool], "labels": labels})
        self.pool, self.labels = pool, labels

    def _base_answers(self, problems: list[Problem]) -> list[list[dict]]:
        """label_samples scored samples per problem from the base model (`incorrect` labels, one-shot choice)."""
        cfg = self.cfg
        ecfg = ev.EvalConfig(samples=cfg.label_samples, temperature=1.0, max_new_tokens=cfg.max_new_tokens,
                             difficulty=cfg.difficulty)
        return ev.score(problems, ev.generate(self.policy.model, problems, cfg.label_samples, ecfg,
                                              seed=derive(cfg.seed, "base-samples")))

    # ------------------------------------------------------------------ each step
    def prompts(self, step: int) -> list[Problem]:
        """Fresh train-split problems (seeded by the step), or a sample of the fixed pool (one-shot: the example
        repeated)."""
        cfg = self.cfg
        rng = random.Random(f"rl-prompts:{cfg.seed}:{step}")
        if self.pool is None:
            return draw_problems(cfg.prompts_per_step, cfg.difficulty, rng)
        if len(self.pool) >= cfg.prompts_per_step:
            return rng.sample(self.pool, cfg.prompts_per_step)
        return [rng.choice(self.pool) for _ in range(cfg.prompts_per_step)]  # one-shot: the example repeated

    def prompt_ids(self, problems: list[Problem]) -> list[list[int]]:
        """The world prompts (`Q: ...=?`) of `problems` encoded by the policy."""
        return self.policy.encode([self.task.prompt(p) for p in problems])

    def verify(self, problem: Problem, texts: Sequence[str]) -> list[Verdict]:
        """The task's Verdict for each completion of one problem."""
        return [self.task.verify(problem, t) for t in texts]

    def label_hits(self, problem: Problem, verdicts: Sequence[Verdict]) -> tuple[list[bool], None]:
        """The `incorrect` reward's hits: whether each completion's answer equals the problem's wrong label."""
        if self.labels is None:
            raise ValueError("reward 'incorrect' needs labels: pass labels=incorrect_labels(problems, base_answers)")
        if problem.expr not in self.labels:
            raise ValueError(
                f"problem {problem.expr!r} has no incorrect label: its base-model majority is right or absent; "
                "train only on eligible_problems(problems, labels)")
        label = self.labels[problem.expr]
        return [v.answer == label for v in verdicts], None

    def rollout_metrics(self, ro: Rollouts) -> dict:
        """The world's own: entropy and share of planning and execution tokens (`tokens/<type>`: share of the
        completion tokens), format shares, well-formed rate."""
        m, n = {}, int(ro.completion_mask.sum())
        for key, mask in (("planning", ro.planning_mask), ("execution", ro.execution_mask)):
            m[f"entropy/{key}"] = mean_entropy(ro.entropies, mask)  # raises when the rollouts have no labels
            m[f"tokens/{key}"] = int(mask.sum()) / n if n and mask is not None else float("nan")
        parsed = [parse(t) for t in ro.texts]
        counts = Counter(p.format or "none" for p in parsed)
        for f in (*FORMATS, "none"):
            m[f"format/{f}"] = counts.get(f, 0) / len(parsed)
        m["format/well_formed"] = float(np.mean([p.well_formed for p in parsed]))
        return m

    def evaluate(self, step: int) -> dict:
        """Greedy accuracy and accuracy at T=1 (n samples) on the fixed held-out set, with format shares."""
        cfg = self.cfg
        return ev.policy_eval(self.policy.model, self.eval_set, samples=cfg.eval_samples,
                              max_new_tokens=cfg.max_new_tokens, seed=cfg.seed)

    def problem_id(self, problem: Problem) -> str:
        """The problem's expression, e.g. `3+5-2`."""
        return problem.expr

    def close(self) -> None:
        """Nothing to release: the world verifies in process."""
        pass


def score_group(reward: Reward, env: VerifiedEnv, problem, texts: Sequence[str], *, step: int,
                prompt_index: int) -> list[RewardOutput]:
    """Verify one prompt's completions in `env` and score them with `reward` (labels asked only when needed)."""
    verdicts = env.verify(problem, texts)
    hits, diags = env.label_hits(problem, verdicts) if reward.spec.needs_labels else (None, None)
    return reward.score(texts, verdicts, step=step, prompt_index=prompt_index, label_hits=hits,
                        label_diagnostics=diags)
