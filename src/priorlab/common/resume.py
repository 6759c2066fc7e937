"""What `--resume` may change: a resumed run stays one run.

The resolved config is compared with the run's config.json; any difference in a field that changes results
is refused, listing each field as `old -> new`. Only these may change (`MAY_CHANGE`), and config.json records
each resume (`resumed`: the step and what changed):
- `steps`: a run with a constant learning rate after warm-up (rl, srl, sft) may be extended, finished or
  not, and ends bitwise equal to a run started with the larger --steps (its metrics.jsonl also keeps the
  evaluation made at the old last step); it may not be cut below a step it has already checkpointed.
  Pretraining's learning rate follows a cosine over the run's total steps, so its --tokens cannot change;
- `eval_every`, `ckpt_every`: evaluations and checkpoints draw no random numbers the training uses;
- `store_rollouts`: logging only;
- `device` (Hugging Face models): a run may move between devices; its numbers are then those of each device.
"""

from __future__ import annotations

import json
from pathlib import Path

from priorlab.common.runfiles import RunError, read_json, to_jsonable

MAY_CHANGE = ("steps", "eval_every", "ckpt_every", "store_rollouts", "device")
PRETRAIN_MAY_CHANGE = ("eval_every", "ckpt_every")
NOT_SETTINGS = ("code_version", "resumed", "hash")  # records, not settings: never compared


def changes(saved: dict, resolved: dict, *, ignore: tuple[str, ...] = (), only_resolved: bool = False) -> dict:
    """{field: (old, new)} of the settings that differ (nested mappings as `a.b`). `only_resolved`: compare
    only the fields `resolved` has (a check made before the run's derived fields are known)."""
    skip = {*NOT_SETTINGS, *ignore}
    old = _flat({k: v for k, v in saved.items() if k not in skip})
    new = _flat({k: v for k, v in to_jsonable(resolved).items() if k not in skip})
    keys = new if only_resolved else set(old) | set(new)
    return {k: (old.get(k), new.get(k)) for k in sorted(keys) if old.get(k) != new.get(k)}


def check(out: Path, resolved: dict, *, ignore: tuple[str, ...] = (), may_change: tuple[str, ...] = MAY_CHANGE,
          why: str = "", only_resolved: bool = False) -> dict:
    """Refuse a resume whose settings differ from config.json outside `may_change` (RunError listing every
    such field, old -> new, and `why` they cannot change); the allowed changes, {field: (old, new)}."""
    path = out / "config.json"
    if not path.is_file():
        return {}
    diff = changes(read_json(path), resolved, ignore=ignore, only_resolved=only_resolved)
    refused = {k: v for k, v in diff.items() if k.split(".")[0] not in may_change}
    if refused:
        listed = "; ".join(f"{k}: {_show(a)} -> {_show(b)}" for k, (a, b) in refused.items())
        raise RunError(f"--resume {out}: the run was started with other settings ({listed}); resuming would make "
                       f"it two runs{why}. Only {', '.join(may_change)} may change on resume: use another --out")
    return diff


def finished(out: Path, settings: dict, log, **check_kw) -> dict | None:
    """`--resume` of a finished run: its summary when `settings` ask for the run it is (nothing to do); None
    when they ask for more steps (summary.json is removed: the run goes on from its last checkpoint).
    Fewer steps, or a refused change, is a RunError."""
    diff = check(out, settings, only_resolved=True, **check_kw)
    old, new = diff.get("steps", (None, None))
    if new is not None and old is not None and new < old:
        raise RunError(f"--steps {new}: the run in {out} is finished at {old} steps, and a run cannot be cut short; "
                       "use another --out")
    if new is not None and old is not None and new > old:
        log(f"run {out} is finished at {old} steps: continuing it to {new}")
        (out / "summary.json").unlink()
        return None
    log(f"run {out} is already finished")
    return read_json(out / "summary.json")


def record(saved_path: Path, step: int, diff: dict) -> list:
    """config.json's `resumed` list with this resume added (the step it resumed from, what changed)."""
    before = read_json(saved_path).get("resumed", []) if saved_path.is_file() else []
    return [*before, {"step": step, "changed": {k: [a, b] for k, (a, b) in diff.items()}}]


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _show(v) -> str:
    s = json.dumps(v)
    return s if len(s) <= 60 else s[:57] + "..."
