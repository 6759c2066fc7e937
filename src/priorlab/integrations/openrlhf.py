"""OpenRLHF: `openrlhf_reward(spec)` is a `reward_func(queries, prompts, labels)` for `--remote_rm_url`.

The response is the query with its prompt prefix removed (the whole query, counted in extra_logs
`prompt_not_prefix`, if it does not start with it); a label is the gold answer, or a dict / JSON object
{"answer": ..., "incorrect_label": ...}. Returns {"rewards", "scores", "extra_logs"}; `scores` (OpenRLHF's
[0, 1] value for dynamic filtering) is the base reward without penalties, brier mapped from [−2, 1] to [0, 1];
as float32 torch tensors, or lists of floats where torch is not installed.
The module-level `reward_func` serves `--remote_rm_url .../priorlab/integrations/openrlhf.py` directly.

OpenRLHF 0.11.2's `SingleTurnAgentExecutor` calls `reward_func([query], [prompt], [label])` once per sample, from
threads (`asyncio.to_thread`), and logs and drops any exception it raises. No call sees a prompt's group, so
`majority` (TTRL) is refused when the function is built, where the error stops the run.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable

from priorlab.integrations.batch import score_batch
from priorlab.math.grading import DEFAULT_TIMEOUT
from priorlab.math.reward import MathReward

_OPENRLHF: dict[tuple, Callable[..., dict]] = {}
_LOCK = threading.Lock()


def _label(label) -> tuple[str, str | None]:
    if isinstance(label, str) and label.lstrip().startswith("{"):
        try:
            label = json.loads(label)
        except json.JSONDecodeError:
            pass
    if isinstance(label, dict):
        if "answer" not in label:
            raise ValueError(f"an OpenRLHF label object needs an 'answer' key, got keys {sorted(label)}")
        wrong = label.get("incorrect_label")
        return str(label["answer"]), None if wrong is None else str(wrong)
    return str(label), None


def openrlhf_reward(spec: str = "correct", *, style: str = "math", seed: int = 0,
                    timeout: float = DEFAULT_TIMEOUT) -> Callable[..., dict]:
    """An OpenRLHF `reward_func(queries, prompts, labels, **kwargs) -> dict` for `spec` (module doc)."""
    reward = MathReward(spec, style=style, seed=seed, timeout=timeout)
    if reward.base == "majority":
        raise ValueError(f"reward {reward.name!r} (TTRL) needs a prompt's whole group in one call, and OpenRLHF "
                         "(0.11.2) calls reward_func with one query at a time; use it under TRL or `priorlab rl`")
    try:
        import torch

        def as_floats(xs):
            return torch.tensor(xs, dtype=torch.float32)
    except ImportError:
        def as_floats(xs):
            return [float(x) for x in xs]
    calls = itertools.count()

    def reward_func(queries, prompts, labels, **_kwargs) -> dict:
        texts, not_prefix = [], 0
        for q, p in zip(queries, prompts):
            if q.startswith(p):
                texts.append(q[len(p):])
            else:
                texts.append(q)
                not_prefix += 1
        parsed = [_label(x) for x in labels]
        golds = [g for g, _ in parsed]
        wrong: list[str] | None = None
        if reward.base == "incorrect":
            if any(w is None for _, w in parsed):
                raise ValueError("reward 'incorrect' needs labels of the form "
                                 '{"answer": ..., "incorrect_label": ...}')
            wrong = [w for _, w in parsed if w is not None]  # none is None: checked above
        scored = score_batch(reward, texts, golds, list(zip(prompts, golds)), next(calls), wrong)
        logs = {c: [s.out.components[c] for s in scored] for c in ("correct", "format_ok", "grade_failed")}
        logs["prompt_not_prefix"] = [float(not_prefix)] * len(scored)
        return {"rewards": as_floats([s.out.score for s in scored]),
                "scores": as_floats([reward.base_unit_score(s.out) for s in scored]),
                "extra_logs": {k: as_floats(v) for k, v in logs.items()}}

    reward_func.reward = reward  # type: ignore[attr-defined]
    return reward_func


def reward_func(queries, prompts, labels, reward: str = "correct", style: str = "math", seed: int = 0, **kwargs):
    """Module-level OpenRLHF entry point (`--remote_rm_url .../priorlab/integrations/openrlhf.py`): reward `correct` unless
    the caller passes `reward=`; build your own with `openrlhf_reward(spec)` for any other spec."""
    key = (reward, style, seed)
    with _LOCK:
        if key not in _OPENRLHF:
            _OPENRLHF[key] = openrlhf_reward(reward, style=style, seed=seed)
        fn = _OPENRLHF[key]
    return fn(queries, prompts, labels, **kwargs)
