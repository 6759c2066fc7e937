"""The claims: seventeen built in, one module each, plus those a researcher adds without editing priorlab.

The built-in ids are part of the interface (`priorlab retest --claims`, the `id` of each claim in
report.json), so they do not change. A claim is a module (or any object) with

    INFO       claims.base.ClaimInfo (its `id`, the claim in one sentence, source, the paper's number)
    PROTOCOL   claims.protocol.Protocol (conditions, metric, delta, gates), fixed before any run
    jobs(lab, seeds) -> list of lab.sweep.Job          the runs it needs (shared runs are one job)
    analyze(lab, res, seeds, protocol) -> dict         its report entry (claims.base.entry)

Added claims come from a Python file (`priorlab retest --claims-from my_claims.py`: the file defines one
claim at module level, or a list `CLAIMS` of them) or from an installed package's entry points in the
group `priorlab.claims` (name = the claim id, value = the module). README "Your own claims" has an
example.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

CLAIM_MODULES = {
    "spurious-rewards": "spurious_rewards", "one-shot": "one_shot", "catalyst": "catalyst",
    "format-collapse": "format_collapse", "passk-boundary": "passk_boundary",
    "distillation-expands": "distillation_expands", "update-sparsity": "update_sparsity",
    "hard-samples": "hard_samples", "calibration": "calibration",
    "negative-reinforcement": "negative_reinforcement", "imitation-then-rl": "imitation_then_rl",
    "two-phase": "two_phase", "composition": "composition", "self-correction": "self_correction",
    "cot-passk": "cot_passk", "contamination": "contamination", "prolonged-rl": "prolonged_rl",
}
CLAIM_IDS = tuple(CLAIM_MODULES)
ENTRY_POINT_GROUP = "priorlab.claims"
REQUIRED = ("INFO", "PROTOCOL", "jobs", "analyze")
_ADDED: dict[str, object] = {}  # claims registered in this process (files, `register`)


def check_claim(obj, where: str) -> str:
    """The claim's id, after checking that `obj` has what a claim needs; ValueError naming `where` otherwise."""
    missing = [name for name in REQUIRED if not hasattr(obj, name)]
    if missing:
        raise ValueError(f"{where}: a claim needs {', '.join(REQUIRED)}; missing {', '.join(missing)}")
    cid = getattr(obj.INFO, "id", None)
    if not isinstance(cid, str) or not cid or "," in cid:
        raise ValueError(f"{where}: INFO.id must be a non-empty string without commas, got {cid!r}")
    return cid


def register(obj, where: str = "register") -> str:
    """Add a claim for this process (a built-in id, or another claim's, is an error); returns its id."""
    cid = check_claim(obj, where)
    if cid in CLAIM_MODULES or (cid in _ADDED and _ADDED[cid] is not obj):
        raise ValueError(f"{where}: claim id {cid!r} is already taken")
    _ADDED[cid] = obj
    return cid


def load_file(path: str | Path) -> list[str]:
    """Import a Python file of claims (one at module level, or a list CLAIMS) and register them; their ids."""
    path = Path(path)
    where = f"--claims-from {path}"
    if not path.is_file():
        raise ValueError(f"{where}: no such file")
    name = f"priorlab_user_claims_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"{where}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up by name
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # noqa: BLE001 - the user's code: one line naming the file
        del sys.modules[name]
        raise ValueError(f"{where}: importing it failed: {type(e).__name__}: {e}") from e
    claims = getattr(module, "CLAIMS", None)
    objs = list(claims) if claims is not None else [module]
    if not objs:
        raise ValueError(f"{where}: CLAIMS is empty")
    return [register(o, where) for o in objs]


def installed() -> dict[str, EntryPoint]:
    """Claims of installed packages: entry points of the group `priorlab.claims` (name -> entry point)."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name not in CLAIM_MODULES}


def all_ids() -> list[str]:
    """Every claim this process knows: built-in, installed, then added."""
    return list(CLAIM_IDS) + [i for i in installed() if i not in _ADDED] + list(_ADDED)


def get_claim(claim_id: str):
    """The claim with id `claim_id`: a built-in module, one registered in this process, or an installed entry
    point; ValueError listing every known id otherwise."""
    if claim_id in CLAIM_MODULES:
        return importlib.import_module(f"priorlab.claims.{CLAIM_MODULES[claim_id]}")
    if claim_id in _ADDED:
        return _ADDED[claim_id]
    eps = installed()
    if claim_id in eps:
        try:
            obj = eps[claim_id].load()
        except Exception as e:  # noqa: BLE001 - an installed package's code
            raise ValueError(f"claim {claim_id!r} (entry point {eps[claim_id].value}): loading failed: "
                             f"{type(e).__name__}: {e}") from e
        if check_claim(obj, f"claim {claim_id!r} (entry point {eps[claim_id].value})") != claim_id:
            raise ValueError(f"claim {claim_id!r} (entry point {eps[claim_id].value}): its INFO.id is {obj.INFO.id!r}")
        return obj
    raise ValueError(f"unknown claim {claim_id!r}; valid: {', '.join(all_ids())}")


def parse_claims(spec: str | None) -> list[str]:
    """'a,b' -> ['a', 'b'] (validated); None or 'all' -> every claim this process knows."""
    if not spec or spec == "all":
        return all_ids()
    ids = [s.strip() for s in spec.split(",") if s.strip()]
    for i in ids:
        get_claim(i)
    return ids
