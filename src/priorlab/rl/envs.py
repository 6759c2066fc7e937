"""RL environments: where prompts come from and how a completion is verified.

    env = WorldEnv(labels=labels)                       # the controlled world's arithmetic task
    verdicts = env.verify(problem, texts)               # list[Verdict], one per completion
    hits = env.label_hits(problem, verdicts)            # `incorrect` reward: agrees with the wrong label?
    outs = score_group(reward, env, problem, texts, step=s, prompt_index=p)

An environment owns verification, so a reward (`rl.rewards`) scores verdicts and never parses text. The
math environment for real data files is `math.env.MathEnv`; both satisfy `Env`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from priorlab.common.verdict import Verdict
from priorlab.rl.rewards import Reward, RewardOutput, majority_answer
from priorlab.world.tasks import Problem, Task, get_task


class Env(Protocol):
    """What the RL loop asks of an environment (the problem type is the env's own)."""

    def verify(self, problem, texts: Sequence[str]) -> list[Verdict]: ...

    def label_hits(self, problem, verdicts: Sequence[Verdict]) -> tuple[list[bool], list[dict] | None]: ...


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


class WorldEnv:
    """The controlled world's task as an environment: `Task.verify` per completion; `labels` (from
    `incorrect_labels`) are the `incorrect` reward's wrong answers, by problem expression."""

    def __init__(self, task: Task | None = None, labels: Mapping[str, int] | None = None):
        self.task = task if task is not None else get_task()
        self.labels = labels

    def verify(self, problem: Problem, texts: Sequence[str]) -> list[Verdict]:
        return [self.task.verify(problem, t) for t in texts]

    def label_hits(self, problem: Problem, verdicts: Sequence[Verdict]) -> tuple[list[bool], None]:
        if self.labels is None:
            raise ValueError("reward 'incorrect' needs labels: pass labels=incorrect_labels(problems, base_answers)")
        if problem.expr not in self.labels:
            raise ValueError(
                f"problem {problem.expr!r} has no incorrect label: its base-model majority is right or absent; "
                "train only on eligible_problems(problems, labels)")
        label = self.labels[problem.expr]
        return [v.answer == label for v in verdicts], None


def score_group(reward: Reward, env: Env, problem, texts: Sequence[str], *, step: int,
                prompt_index: int) -> list[RewardOutput]:
    """Verify one prompt's completions in `env` and score them with `reward` (labels asked only when needed)."""
    verdicts = env.verify(problem, texts)
    hits, diags = env.label_hits(problem, verdicts) if reward.spec.needs_labels else (None, None)
    return reward.score(texts, verdicts, step=step, prompt_index=prompt_index, label_hits=hits,
                        label_diagnostics=diags)
