"""verl: `compute_score` is a custom reward function (`custom_reward_function.path=.../integrations/verl.py`).

`compute_score(data_source, solution_str, ground_truth, extra_info=None, reward=..., ...)` returns
{score, acc, pred, grade_status, format_ok} (acc is the headline validation metric, pred enables maj@N).
Per-sample calls see one completion: `majority` raises (use a batch reward manager, which calls with
`solution_strs=[...]` etc. and is grouped by (data_source, ground_truth, extra_info["index"])); the random
draw uses a per-process call counter as step. The wrong label comes from extra_info.
"""

from __future__ import annotations

import itertools

from priorlab.integrations.batch import score_batch
from priorlab.math.grading import DEFAULT_TIMEOUT
from priorlab.math.reward import MathReward, Scored

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
    scored = score_batch(r, [str(t) for t in solution_strs], golds, keys, next(calls), wrong)
    dicts = [_verl_dict(s) for s in scored]
    return dicts if batch else dicts[0]
