"""TRL: `trl_reward(spec)` is a `reward_funcs` callable for GRPOTrainer.

    GRPOTrainer(model, reward_funcs=[trl_reward("random:0.5", seed=0)], train_dataset=ds, ...)

`priorlab_reward(prompts, completions, **columns)`: completions are strings or conversational message
lists (their assistant `content` is joined); the gold comes from the dataset column `answer_field`
("answer"), an incorrect label from `label_field` ("incorrect_label"). A group is the completions of one
prompt within the call. `step` is the index of the call (TRL may call several times per optimizer step),
`prompt_index` the group's order in the call. Logs `pred` and `grade_status` columns (`log_extra`) and
`<name>/correct`, `/grade_failed` metrics (`log_metric`). Its __name__ is `priorlab_<base>`.

`group_size` (required by `majority`) is GRPOConfig's `num_generations`: a call whose prompts do not each come
with a multiple of it raises ValueError (`integrations.batch`). TRL 1.16 calls the reward on each process's
share of the generation batch, `per_device_train_batch_size * steps_per_generation` completions in prompt
order; only when that is a multiple of `num_generations` does every process hold whole groups (with
evaluation, leave `num_generations_eval` unset or equal to it).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from priorlab.integrations.batch import check_group_size, completion_text, prompt_key, score_batch
from priorlab.math.grading import DEFAULT_TIMEOUT
from priorlab.math.reward import MathReward

TRL_HINT = ("TRL scores each process's per_device_train_batch_size * steps_per_generation completions: make that "
            "a multiple of num_generations")


def trl_reward(spec: str = "correct", *, answer_field: str = "answer", label_field: str = "incorrect_label",
               style: str = "math", seed: int = 0, timeout: float = DEFAULT_TIMEOUT,
               group_size: int | None = None) -> Callable[..., list[float]]:
    """A TRL `reward_funcs` callable for `spec` (module doc); its __name__ is `priorlab_<base>`."""
    reward = MathReward(spec, style=style, seed=seed, timeout=timeout)
    check_group_size(reward, group_size, "GRPOConfig.num_generations")
    calls = itertools.count()

    def priorlab_reward(prompts, completions, **kwargs) -> list[float]:
        if answer_field not in kwargs:
            cols = sorted(k for k in kwargs if k not in ("trainer_state", "log_extra", "log_metric", "completion_ids"))
            raise ValueError(f"priorlab reward {reward.name!r} needs the dataset column {answer_field!r} "
                             f"(gold answers); columns passed: {', '.join(cols) or 'none'}")
        wrong = None
        if reward.base == "incorrect":
            if label_field not in kwargs:
                raise ValueError(f"reward 'incorrect' needs the dataset column {label_field!r} (wrong labels)")
            wrong = [str(x) for x in kwargs[label_field]]
        texts = [completion_text(c) for c in completions]
        golds = [str(g) for g in kwargs[answer_field]]
        keys = [(prompt_key(p), g) for p, g in zip(prompts, golds)]
        scored = score_batch(reward, texts, golds, keys, next(calls), wrong, group_size, TRL_HINT)
        if callable(kwargs.get("log_extra")):
            kwargs["log_extra"]("pred", [s.grade.pred for s in scored])
            kwargs["log_extra"]("grade_status", [s.grade.status for s in scored])
        if callable(kwargs.get("log_metric")):
            for comp in ("correct", "format_ok", "grade_failed"):
                kwargs["log_metric"](f"{priorlab_reward.__name__}/{comp}",
                                     float(np.mean([s.out.components[comp] for s in scored])))
        return [s.out.score for s in scored]

    priorlab_reward.__name__ = f"priorlab_{reward.base}"
    priorlab_reward.reward = reward  # type: ignore[attr-defined]
    return priorlab_reward
