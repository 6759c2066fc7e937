"""What the three trainer wrappers share: completion text, grouping of a batch into prompts, batch scoring.

A group is the completions of one prompt within a call (keyed by prompt and gold answer, plus verl's
`extra_info["index"]`), in order of first appearance; `prompt_index` is the group's order in the call.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Sequence

from priorlab.math.reward import MathReward, Scored


def completion_text(completion) -> str:
    """TRL completion -> text: a string as is; a conversational message list -> its assistant contents
    joined by newlines (a content may be a string or a list of {"type": "text", "text": ...} parts)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        completion = [completion]
    parts = []
    for msg in completion:
        if msg.get("role", "assistant") != "assistant":
            continue
        content = msg.get("content") or ""
        if isinstance(content, list):
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        parts.append(content)
    return "\n".join(parts)


def groups(keys: Sequence[Hashable]) -> list[list[int]]:
    """Indices grouped by key, groups in order of first appearance."""
    where: dict[Hashable, list[int]] = {}
    for i, k in enumerate(keys):
        where.setdefault(k, []).append(i)
    return list(where.values())


def prompt_key(prompt) -> str:
    return prompt if isinstance(prompt, str) else json.dumps(prompt, sort_keys=True, default=str)


def score_batch(reward: MathReward, texts: Sequence[str], golds: Sequence[str], keys: Sequence[Hashable],
                 step: int, wrong: Sequence[str] | None) -> list[Scored]:
    out: list[Scored | None] = [None] * len(texts)
    for gi, idx in enumerate(groups(keys)):
        scored = reward.score([texts[i] for i in idx], golds[idx[0]], step=step, prompt_index=gi,
                              wrong_label=wrong[idx[0]] if wrong is not None else None)
        for i, s in zip(idx, scored):
            out[i] = s
    return out  # type: ignore[return-value]
