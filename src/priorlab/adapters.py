"""priorlab's rewards on real math text, and the same scorer wrapped for TRL, verl and OpenRLHF.

    from priorlab.adapters import trl_reward
    GRPOTrainer(model, reward_funcs=[trl_reward("random:0.5", seed=0)], train_dataset=ds, ...)  # ds has `answer`

    # verl: custom_reward_function.path=<site-packages>/priorlab/adapters.py custom_reward_function.name=compute_score
    #       +custom_reward_function.reward_kwargs.reward=format    (majority needs reward_model.reward_manager=batch)
    # OpenRLHF: --remote_rm_url my_reward.py, where my_reward.py says
    #       from priorlab.adapters import openrlhf_reward; reward_func = openrlhf_reward("correct")

One scorer, `MathReward.score_group(texts, gold, ...)`, takes the completions of one prompt and returns a
`priorlab.rl.rewards.RewardOutput` per completion, with the reward specs of `priorlab.rl.rewards.make_reward`
(`correct`, `random:0.3`, `brier+length:0.001`, ...) read on real math text (`priorlab.math.grading`):

| base      | score of completion i (a = its extracted answer: last \\boxed{}; gsm8k style also `#### N`)   |
|-----------|--------------------------------------------------------------------------------------------|
| correct   | 1[a is Math-Verify-equivalent to the gold answer]                                          |
| random    | 1[u_i < p], u_i from Generator([seed, step, prompt_index, i]) -- never reads the text        |
| incorrect | 1[a is equivalent to the supplied wrong label] (Spurious Rewards grade against the label)  |
| format    | 1[a non-empty, closed \\boxed{} (gsm8k: or `#### N`)] (Spurious Rewards' format reward)     |
| majority  | 1[key(a) == the group's most common key(a)] (TTRL); key = `grading.answer_key`             |
| brier     | c − (q − c)², c = correct, q = last `<confidence>q</confidence>` in [0, 1] (RLCR); −2 when  |
|           | there is no answer or no such confidence (`rewards.BRIER_MISSING`, as in the world)        |

Penalties are the world's (`length`: −coef per character, not token; `malformed`: −coef without an
answer). Every output keeps the shadow metrics `correct` and `format_ok`, and `grade_failed` = 1 when
Math-Verify timed out or raised on the gold comparison (counted, never a silent 0: the adapters log it).
A majority tie goes to the tied answer seen first; a group without answers scores 0 (as in the world).

The three wrappers differ only in how they find groups, golds and steps:
- TRL `trl_reward(spec)(prompts, completions, **columns)`: completions are strings or conversational
  message lists (their assistant `content` is joined); the gold comes from the dataset column
  `answer_field` ("answer"), an incorrect label from `label_field` ("incorrect_label"). A group is the
  completions of one prompt within the call. `step` is the index of the call (TRL may call several
  times per optimizer step), `prompt_index` the group's order in the call. Logs `pred` and
  `grade_status` columns (`log_extra`) and `<name>/correct`, `/grade_failed` metrics (`log_metric`).
- verl `compute_score(data_source, solution_str, ground_truth, extra_info=None, reward=..., ...)` returns
  {score, acc, pred, grade_status, format_ok} (acc is the headline validation metric, pred enables maj@N).
  Per-sample calls see one completion: `majority` raises (use the batch reward manager, which calls with
  `solution_strs=[...]` etc. and is grouped by (data_source, ground_truth, extra_info["index"])); the
  random draw uses a per-process call counter as step. The wrong label comes from extra_info.
- OpenRLHF `openrlhf_reward(spec)(queries, prompts, labels)`: the response is the query with its prompt
  prefix removed (the whole query, counted in extra_logs `prompt_not_prefix`, if it does not start with
  it); a label is the gold answer, or a dict / JSON object {"answer": ..., "incorrect_label": ...}.
  Returns {"rewards", "scores", "extra_logs"}; `scores` (OpenRLHF's [0, 1] value for dynamic filtering)
  is the base reward without penalties, brier mapped from [−2, 1] to [0, 1].

Tests: `.venv/bin/pytest tests/test_adapters.py` (a two-step TRL GRPOTrainer run when trl is installed).
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from priorlab.math.grading import DEFAULT_TIMEOUT, Grade, Grader, answer_key, gold_answer, shared_grader
from priorlab.rl.rewards import BRIER_MISSING, PENALTIES, REWARDS, Group, RewardOutput, majority_answer, make_reward
from priorlab.world.tasks import Verdict

_CONF = re.compile(r"<confidence>(.*?)</confidence>", re.DOTALL)


def parse_confidence(text: str) -> float | None:
    """The last `<confidence>q</confidence>` as a number in [0, 1] (RLCR's tag), else None."""
    found = _CONF.findall(text)
    if not found:
        return None
    try:
        q = float(found[-1].strip())
    except ValueError:
        return None
    return q if math.isfinite(q) and 0.0 <= q <= 1.0 else None


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


@dataclass(frozen=True)
class Scored:
    """One completion: the reward output plus what the grader saw (for logging)."""

    out: RewardOutput
    grade: Grade


class MathReward:
    """A priorlab reward spec applied to real math completions (module doc)."""

    def __init__(self, spec: str = "correct", *, style: str = "math", seed: int = 0,
                 timeout: float = DEFAULT_TIMEOUT, grader: Grader | None = None):
        base = spec.replace(" ", "").split("+")[0].partition(":")[0]
        parsed = make_reward(spec, labels={} if base == "incorrect" else None, seed=seed)  # validates the spec
        self.name, self.base, self.arg, self.penalties, self.seed = (parsed.name, parsed.base, parsed.arg,
                                                                     parsed.penalties, seed)
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
        if self.base == "incorrect" and wrong_label is None:
            raise ValueError("reward 'incorrect' needs a wrong label for each prompt (e.g. an incorrect_label column)")
        grades = self.grader.grade(texts, [gold] * len(texts))
        verdicts = [Verdict(g.correct, answer_key(g.pred) if g.pred is not None else None, g.pred is not None,
                            "boxed" if g.pred is not None else None, parse_confidence(t))
                    for g, t in zip(grades, texts)]
        if self.base == "majority":
            values = self._majority(verdicts)
        elif self.base == "incorrect":
            values = self._incorrect(grades, wrong_label)
        else:  # correct, random, format, brier read only correct / well_formed / confidence: the world's code
            values = REWARDS[self.base].fn(Group(None, verdicts, self.seed, step, prompt_index, None), self.arg)
        out = []
        for text, v, g, (value, diag) in zip(texts, verdicts, grades, values):
            comps = {"correct": float(v.correct), "format_ok": float(v.well_formed),
                     "grade_failed": float(g.status in ("timeout", "error")), **diag, self.base: value}
            score = value
            for pname, coef in self.penalties:
                comps[f"{pname}_penalty"] = pen = PENALTIES[pname](text, v, coef)
                score += pen
            out.append(Scored(RewardOutput(score, comps, v.correct), g))
        return out

    @staticmethod
    def _majority(verdicts: list[Verdict]) -> list[tuple[float, dict]]:
        keys = [v.answer for v in verdicts]
        label = majority_answer(keys)
        holder = keys.index(label) if label is not None else None
        diag = {"label_correct": float(holder is not None and verdicts[holder].correct),
                "majority_ratio": keys.count(label) / len(keys) if label is not None else 0.0}
        return [(float(label is not None and k == label), dict(diag)) for k in keys]

    def _incorrect(self, grades: list[Grade], wrong_label: str) -> list[tuple[float, dict]]:
        label = gold_answer(str(wrong_label), self.style)
        todo = [i for i, g in enumerate(grades) if g.pred is not None]
        res = dict(zip(todo, self.grader.equal([(label, grades[i].pred) for i in todo])))
        return [(float(i in res and res[i][1]), {"label_grade_failed": float(i in res and res[i][0] != "ok")})
                for i in range(len(grades))]

    def base_unit_score(self, out: RewardOutput) -> float:
        """The base reward without penalties, mapped to [0, 1] (OpenRLHF's `scores`)."""
        v = out.components[self.base]
        return (v - BRIER_MISSING) / (1.0 - BRIER_MISSING) if self.base == "brier" else v


def _groups(keys: Sequence[Hashable]) -> list[list[int]]:
    """Indices grouped by key, groups in order of first appearance."""
    where: dict[Hashable, list[int]] = {}
    for i, k in enumerate(keys):
        where.setdefault(k, []).append(i)
    return list(where.values())


def _prompt_key(prompt) -> str:
    return prompt if isinstance(prompt, str) else json.dumps(prompt, sort_keys=True, default=str)


def _score_batch(reward: MathReward, texts: Sequence[str], golds: Sequence[str], keys: Sequence[Hashable],
                 step: int, wrong: Sequence[str] | None) -> list[Scored]:
    out: list[Scored | None] = [None] * len(texts)
    for gi, idx in enumerate(_groups(keys)):
        scored = reward.score([texts[i] for i in idx], golds[idx[0]], step=step, prompt_index=gi,
                              wrong_label=wrong[idx[0]] if wrong is not None else None)
        for i, s in zip(idx, scored):
            out[i] = s
    return out  # type: ignore[return-value]


# ----------------------------------------------------------------------------------------------- TRL


def trl_reward(spec: str = "correct", *, answer_field: str = "answer", label_field: str = "incorrect_label",
               style: str = "math", seed: int = 0, timeout: float = DEFAULT_TIMEOUT) -> Callable[..., list[float]]:
    """A TRL `reward_funcs` callable for `spec` (module doc); its __name__ is `priorlab_<base>`."""
    reward = MathReward(spec, style=style, seed=seed, timeout=timeout)
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
        keys = [(_prompt_key(p), g) for p, g in zip(prompts, golds)]
        scored = _score_batch(reward, texts, golds, keys, next(calls), wrong)
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


# ---------------------------------------------------------------------------------------------- verl

_VERL: dict[tuple, tuple[MathReward, itertools.count]] = {}


def _cached(spec: str, style: str, seed: int, timeout: float) -> tuple[MathReward, itertools.count]:
    key = (spec, style, seed, float(timeout))
    if key not in _VERL:
        _VERL[key] = (MathReward(spec, style=style, seed=seed, timeout=timeout), itertools.count())
    return _VERL[key]


def _verl_dict(s: Scored) -> dict:
    return {"score": s.out.score, "acc": bool(s.out.correct), "pred": s.grade.pred or "",
            "grade_status": s.grade.status, "format_ok": s.out.components["format_ok"]}


def compute_score(data_source=None, solution_str=None, ground_truth=None, extra_info=None, *,
                  data_sources=None, solution_strs=None, ground_truths=None, extra_infos=None,
                  reward: str = "correct", style: str = "math", seed: int = 0, timeout: float = DEFAULT_TIMEOUT,
                  label_key: str = "incorrect_label"):
    """verl's custom reward function: one dict per sample, or a list of them in the batch form (module doc).
    An unknown keyword (a typo in reward_kwargs) is a TypeError, not a silent `correct` reward."""
    r, calls = _cached(reward, style, seed, timeout)
    batch = solution_strs is not None
    if not batch:
        if r.base == "majority":
            raise ValueError("reward 'majority' needs the whole group: use verl's batch reward manager "
                             "(reward_model.reward_manager=batch)")
        data_sources, solution_strs, ground_truths, extra_infos = ([data_source], [solution_str], [ground_truth],
                                                                   [extra_info])
    n = len(solution_strs)
    infos = [x or {} for x in (extra_infos if extra_infos is not None else [None] * n)]
    sources = data_sources if data_sources is not None else [None] * n
    wrong = None
    if r.base == "incorrect":
        if any(label_key not in x for x in infos):
            raise ValueError(f"reward 'incorrect' needs extra_info[{label_key!r}] (the wrong label) for every sample")
        wrong = [str(x[label_key]) for x in infos]
    golds = [str(g) for g in ground_truths]
    keys = [(str(s), g, str(x.get("index"))) for s, g, x in zip(sources, golds, infos)]
    scored = _score_batch(r, [str(t) for t in solution_strs], golds, keys, next(calls), wrong)
    dicts = [_verl_dict(s) for s in scored]
    return dicts if batch else dicts[0]


# ------------------------------------------------------------------------------------------ OpenRLHF

_OPENRLHF: dict[tuple, Callable[..., dict]] = {}


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
    import torch

    reward = MathReward(spec, style=style, seed=seed, timeout=timeout)
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
        wrong = None
        if reward.base == "incorrect":
            if any(w is None for _, w in parsed):
                raise ValueError("reward 'incorrect' needs labels of the form "
                                 '{"answer": ..., "incorrect_label": ...}')
            wrong = [w for _, w in parsed]
        scored = _score_batch(reward, texts, golds, list(zip(prompts, golds)), next(calls), wrong)
        logs = {c: [s.out.components[c] for s in scored] for c in ("correct", "format_ok", "grade_failed")}
        logs["prompt_not_prefix"] = [float(not_prefix)] * len(scored)
        return {"rewards": torch.tensor([s.out.score for s in scored], dtype=torch.float32),
                "scores": torch.tensor([reward.base_unit_score(s.out) for s in scored], dtype=torch.float32),
                "extra_logs": {k: torch.tensor(v, dtype=torch.float32) for k, v in logs.items()}}

    reward_func.reward = reward  # type: ignore[attr-defined]
    return reward_func


def reward_func(queries, prompts, labels, reward: str = "correct", style: str = "math", seed: int = 0, **kwargs):
    """Module-level OpenRLHF entry point (`--remote_rm_url .../priorlab/adapters.py`): reward `correct` unless
    the caller passes `reward=`; build your own with `openrlhf_reward(spec)` for any other spec."""
    key = (reward, style, seed)
    if key not in _OPENRLHF:
        _OPENRLHF[key] = openrlhf_reward(reward, style=style, seed=seed)
    return _OPENRLHF[key](queries, prompts, labels, **kwargs)
