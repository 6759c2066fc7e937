"""Code versions and the pretraining cache: a run's results are keyed by its config and the sources that
determine them, so a retest reuses what is still valid and redoes what a code change invalidated.

    code_version("pretrain")    # "0.1.0+<hash of world/, model/, pretrain.py>"
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path

import priorlab
from priorlab.common.runfiles import to_jsonable

# The sources whose edits can change a stage's results. Pretrained priors depend on the world, the model
# and the pretraining loop only, so editing the RL code does not invalidate the (expensive) prior cache.
VERSIONED_SOURCES = {
    "pretrain": ("world", "model", "pretrain.py"),
    "all": ("world", "model", "pretrain.py", "rl", "sft", "evals", "common"),
}


@functools.cache
def code_version(stage: str = "all") -> str:
    """Package version + a hash of the sources that determine a stage's results (read once per process)."""
    root = Path(priorlab.__file__).parent
    h = hashlib.sha256()
    for name in VERSIONED_SOURCES[stage]:
        p = root / name
        files = sorted(p.rglob("*.py")) + sorted(p.rglob("*.yaml")) if p.is_dir() else [p]
        for f in files:
            h.update(f.relative_to(root).as_posix().encode())
            h.update(f.read_bytes())
    return f"{priorlab.__version__}+{h.hexdigest()[:10]}"


def cache_root() -> Path:
    """The pretraining cache's folder: PRIORLAB_CACHE, else ~/.cache/priorlab."""
    return Path(os.environ.get("PRIORLAB_CACHE", Path.home() / ".cache" / "priorlab"))


def config_hash(cfg: dict, stage: str = "all") -> str:
    """A short hash of a config and the code version of `stage`: the cache key of a run."""
    blob = json.dumps(to_jsonable(cfg), sort_keys=True) + code_version(stage)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
