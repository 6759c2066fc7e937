"""What the three trainer wrappers share: completion text, grouping of a batch into prompts, batch scoring.

A group is the completions of one prompt within a call (keyed by prompt and gold answer, plus verl's
`extra_info["index"]`), in order of first appearance; `prompt_index` is the group's order in the call.
With `group_size` G, a prompt's completions in a call must number a multiple of G, and are split in order
into groups of G (a prompt drawn twice in one batch is two groups); any other count is a ValueError, because
the call holds part of a group. `majority` (TTRL) votes within a group, so it requires G >= 2.
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
    """A hashable key of a prompt (a string, or a chat message list as JSON): completions of one prompt form a group."""
    return prompt if isinstance(prompt, str) else json.dumps(prompt, sort_keys=True, default=str)


def check_group_size(reward: MathReward, group_size: int | None, setting: str) -> None:
    """At construction: `majority` needs `group_size` (named `setting` in the trainer's config), >= 2."""
    if group_size is not None and (isinstance(group_size, bool) or not isinstance(group_size, int)
                                   or group_size < 1):
        raise ValueError(f"group_size={group_size!r} must be a positive integer")
    if reward.base == "majority" and (group_size is None or group_size < 2):
        raise ValueError(f"reward {reward.name!r} votes within a prompt's group: pass group_size=<{setting}> "
                         f"(>= 2, got {group_size}) so that a call holding part of a group is refused")


def whole_groups(keys: Sequence[Hashable], group_size: int | None, hint: str) -> list[list[int]]:
    """`groups(keys)`, each split into groups of `group_size` (module doc); ValueError on a partial group."""
    if group_size is None:
        return groups(keys)
    out: list[list[int]] = []
    for idx in groups(keys):
        if len(idx) % group_size:
            raise ValueError(f"a prompt has {len(idx)} completion(s) in this call, not a multiple of "
                             f"group_size={group_size}: the call holds part of its group ({hint})")
        out.extend(idx[k:k + group_size] for k in range(0, len(idx), group_size))
    return out


def score_batch(reward: MathReward, texts: Sequence[str], golds: Sequence[str], keys: Sequence[Hashable],
                step: int, wrong: Sequence[str] | None, group_size: int | None = None,
                hint: str = "") -> list[Scored]:
    """Score a trainer's batch of completions group by group (whole groups only, checked): one Scored per
    completion, in the batch's order."""
    out: list[Scored | None] = [None] * len(texts)
    for gi, idx in enumerate(whole_groups(keys, group_size, hint)):
        scored = reward.score([texts[i] for i in idx], golds[idx[0]], step=step, prompt_index=gi,
                              wrong_label=wrong[idx[0]] if wrong is not None else None)
        for i, s in zip(idx, scored):
            out[i] = s
    return out  # type: ignore[return-value]
