"""priorlab: does RLVR teach, or only surface what pretraining put there?

The Python API (the command line, `priorlab.cli`, is a thin layer over it). Names are imported on first
use, so `import priorlab` itself loads no torch:

    import priorlab
    rep = priorlab.retest("one-shot", preset="smoke", out="runs/rt")       # report.json as a dict
    plan = priorlab.plan(preset="quick")                                   # what it would run, and how long
    run = priorlab.Run.load("runs/rt/jobs/rl-...")                          # config, summary, metrics
    priorlab.pass_at_k(n=16, c=3, k=4)                                      # unbiased estimator
    priorlab.pretrain(priorlab.PretrainConfig(mixture="code-prior", size="xs", tokens=100_000), "runs/pt")
    priorlab.train_rl(priorlab.RLConfig(init="runs/pt", steps=10), "runs/rl")

Your own claims: subclass `priorlab.Claim` (or write a module; README "Your own claims") and
`priorlab.register_claim(MyClaim())`, or pass a file to `retest(claims_from=...)`.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# name -> (module, attribute)
_API = {
    "retest": ("priorlab.lab.retest", "retest"),
    "plan": ("priorlab.lab.retest", "plan"),
    "run_map": ("priorlab.lab.maps", "run_map"),
    "Run": ("priorlab.run", "Run"),
    "pass_at_k": ("priorlab.evals.passk", "pass_at_k"),
    "passk_curve": ("priorlab.evals.passk", "passk_curve"),
    "PretrainConfig": ("priorlab.pretrain", "PretrainConfig"),
    "pretrain": ("priorlab.pretrain", "pretrain"),
    "RLConfig": ("priorlab.rl.loop", "RLConfig"),
    "train_rl": ("priorlab.rl.loop", "train"),
    "SFTConfig": ("priorlab.sft.loop", "SFTConfig"),
    "train_sft": ("priorlab.sft.loop", "train"),
    "SRLConfig": ("priorlab.sft.srl", "SRLConfig"),
    "train_srl": ("priorlab.sft.srl", "train"),
    "Claim": ("priorlab.claims.base", "Claim"),
    "ClaimInfo": ("priorlab.claims.base", "ClaimInfo"),
    "Protocol": ("priorlab.claims.protocol", "Protocol"),
    "Gate": ("priorlab.claims.protocol", "Gate"),
    "register_claim": ("priorlab.claims", "register"),
    "load_claims": ("priorlab.claims", "load_file"),
}
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        module, attr = _API[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value  # the next access skips this function
        return value
    raise AttributeError(f"module 'priorlab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
