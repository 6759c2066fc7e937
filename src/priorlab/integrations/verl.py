"""verl: `compute_score` is a custom reward function.

    reward.custom_reward_function.path=pkg://priorlab.integrations.verl
    reward.custom_reward_function.name=compute_score
    +reward.custom_reward_function.reward_kwargs.reward=format          # any priorlab spec but majority

verl 0.9.1's reward loop -- every registered reward manager: `naive` (the default), `dapo`, `gdpo`,
`rate_limited`, `remote` -- calls `compute_score(data_source=, solution_str=, ground_truth=, extra_info=,
**reward_kwargs)` once per sample, from the threads of an asyncio executor (Ray actors under `remote`), and
adds `reward_router_address` and `reward_model_tokenizer` when a reward-model router is configured. Keywords
this function does not use are accepted and ignored (a name verl is not known to pass is logged once, so a
typo in reward_kwargs shows). It returns {score, acc, pred, grade_status, format_ok} (acc is the headline
validation metric, pred enables maj@N). The random draw uses a per-process call counter as step (under
threads, which sample gets which draw depends on call order; the draws stay independent). The wrong label
comes from extra_info.

`majority` needs a prompt's whole group in one call, which a per-sample call never has: it raises. The batch
form (`data_sources=`, `solution_strs=`, `ground_truths=`, `extra_infos=`) serves verl's `BatchRewardManager`
(`verl.workers.reward_manager.batch`, still shipped in 0.9.1 but no longer used by its trainer); it groups by
(data_source, ground_truth, extra_info["index"]) and checks `group_size` (`actor_rollout_ref.rollout.n`;
required by majority) as `integrations.batch` describes.
"""

from __future__ import annotations

import itertools
import logging
import threading

from priorlab.integrations.batch import check_group_size, score_batch
from priorlab.math.grading import DEFAULT_TIMEOUT
from priorlab.math.reward import MathReward, Scored

VERL_KEYWORDS = ("reward_router_address", "reward_model_tokenizer")  # passed by verl 0.9.1, not used here
VERL_HINT = "verl's batch reward manager sees the whole step: set group_size to actor_rollout_ref.rollout.n"
_VERL: dict[tuple, tuple[MathReward, itertools.count]] = {}
_LOCK = threading.Lock()
_IGNORED: set[str] = set()
log = logging.getLogger(__name__)


def _cached(spec: str, style: str, seed: int, timeout: float) -> tuple[MathReward, itertools.count]:
    key = (spec, style, seed, float(timeout))
    with _LOCK:
        if key not in _VERL:
            _VERL[key] = (MathReward(spec, style=style, seed=seed, timeout=timeout), itertools.count())
        return _VERL[key]


def _verl_dict(s: Scored) -> dict:
    return {"score": s.out.score, "acc": bool(s.out.correct), "pred": s.grade.pred or "",
            "grade_status": s.grade.status, "format_ok": s.out.components["format_ok"]}


def compute_score(data_source=None, solution_str=None, ground_truth=None, extra_info=None, *,
                  data_sources=None, solution_strs=None, ground_truths=None, extra_infos=None,
                  reward: str = "correct", style: str = "math", seed: int = 0, timeout: float = DEFAULT_TIMEOUT,
                  label_key: str = "incorrect_label", group_size: int | None = None, **unused):
    """verl's custom reward function: one dict per sample, or a list of them in the batch form (module doc)."""
    for name in sorted(set(unused) - set(VERL_KEYWORDS) - _IGNORED):
        _IGNORED.add(name)
        log.warning("priorlab compute_score ignores the keyword %r (a typo in reward_kwargs?)", name)
    r, calls = _cached(reward, style, seed, timeout)
    batch = solution_strs is not None
    if not batch:
        if r.base == "majority":
            raise ValueError(f"reward {r.name!r} (TTRL) needs a prompt's whole group in one call, and verl's reward "
                             "loop (0.9.1: every reward manager) calls compute_score once per sample; use it under "
                             "TRL or `priorlab rl`, or a verl whose trainer runs the batch reward manager")
        data_sources, solution_strs, ground_truths, extra_infos = ([data_source], [solution_str], [ground_truth],
                                                                   [extra_info])
    else:
        check_group_size(r, group_size, "actor_rollout_ref.rollout.n")
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
    scored = score_batch(r, [str(t) for t in solution_strs], golds, keys, next(calls), wrong,
                         group_size if batch else None, VERL_HINT)
    dicts = [_verl_dict(s) for s in scored]
    return dicts if batch else dicts[0]
