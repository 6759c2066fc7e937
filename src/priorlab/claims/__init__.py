"""The twelve claims, one module each; the ids are part of the interface (`priorlab retest --claims`, the
`id` of each claim in report.json), so they do not change."""

from __future__ import annotations

import importlib

CLAIM_MODULES = {
    "spurious-rewards": "spurious_rewards", "one-shot": "one_shot", "catalyst": "catalyst",
    "format-collapse": "format_collapse", "passk-boundary": "passk_boundary",
    "distillation-expands": "distillation_expands", "update-sparsity": "update_sparsity",
    "hard-samples": "hard_samples", "calibration": "calibration",
    "negative-reinforcement": "negative_reinforcement", "imitation-then-rl": "imitation_then_rl",
    "two-phase": "two_phase",
}
CLAIM_IDS = tuple(CLAIM_MODULES)


def get_claim(claim_id: str):
    if claim_id not in CLAIM_MODULES:
        raise ValueError(f"unknown claim {claim_id!r}; valid: {', '.join(CLAIM_IDS)}")
    return importlib.import_module(f"priorlab.claims.{CLAIM_MODULES[claim_id]}")


def parse_claims(spec: str | None) -> list[str]:
    """'a,b' -> ['a', 'b'] (validated); None or 'all' -> every claim."""
    if not spec or spec == "all":
        return list(CLAIM_IDS)
    ids = [s.strip() for s in spec.split(",") if s.strip()]
    for i in ids:
        get_claim(i)
    return ids
