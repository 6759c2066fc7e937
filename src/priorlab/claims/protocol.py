"""Pre-registered protocols: what a claim compares, its effect metric, δ, and the gates its mechanism needs.

    PROTOCOL = Protocol(claim="spurious-rewards", conditions="...", metric="...", delta=0.5,
                        gates=(Gate("clip_frac_clipped_arm", ">=", 0.01, "clipping bias is the mechanism ..."),))
    m = Measurement(effect=bootstrap(...), gates=PROTOCOL.check({"clip_frac_clipped_arm": 0.004}), metrics={})
    verdict, reason = judge(PROTOCOL, m)

A protocol is data, fixed in the claim module before any run; `report.json` records it with its sha256,
and `priorlab retest --protocol FILE` may override δ and gate thresholds (YAML/JSON
`{claim-id: {delta: x, gates: {name: threshold}}}`), which the report marks as overridden.

The verdict rule is one rule for every claim (the sign of each metric is chosen so the claim says
"effect ≥ δ", δ ≥ 0):
- `untestable` if any gate failed (its value and threshold are named): the mechanism had no chance to act;
- otherwise `reproduced` if the 95% interval's lower end is above 0 and the estimate is at least δ;
  `not reproduced` if the interval's upper end is at most δ (the data exclude an effect as large as δ);
  `inconclusive` otherwise (the interval is too wide to tell).
"""

from __future__ import annotations

import hashlib
import json
import math
import operator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import yaml

OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}


@dataclass(frozen=True)
class Gate:
    """A precondition of the claim's mechanism: passed when `value op threshold` (a missing or NaN value fails)."""

    name: str
    op: str
    threshold: float
    why: str  # the mechanism it checks, and where the threshold comes from

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"gate {self.name}: op {self.op!r} must be one of {', '.join(OPS)}")

    def check(self, value) -> dict:
        """The gate's record for a measured value: name, value (None when missing or not finite), op, threshold,
        passed, why."""
        v = None if value is None or not math.isfinite(float(value)) else float(value)
        return {"name": self.name, "value": v, "op": self.op, "threshold": self.threshold,
                "passed": v is not None and bool(OPS[self.op](v, self.threshold)), "why": self.why}


@dataclass(frozen=True)
class Protocol:
    claim: str
    conditions: str  # the runs compared
    metric: str  # what `effect` measures (signed so that the claim says effect >= delta)
    delta: float  # the smallest effect that counts as the claim holding
    gates: tuple[Gate, ...] = ()
    decoding: str = "T=1"  # the accuracy the verdict reads (the other is reported next to it)
    overridden: tuple[str, ...] = field(default=(), compare=False)  # what --protocol changed

    def __post_init__(self) -> None:
        if not self.delta >= 0:
            raise ValueError(f"{self.claim}: delta must be >= 0, got {self.delta}")
        names = [g.name for g in self.gates]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.claim}: gate names repeat: {names}")

    def rule(self) -> str:
        """The verdict rule with this protocol's numbers."""
        gates = "; ".join(f"{g.name} {g.op} {g.threshold:g}" for g in self.gates) or "none"
        return (f"untestable unless every gate passes (gates: {gates}); then reproduced if CI low > 0 and "
                f"effect >= {self.delta:g}; not reproduced if CI high <= {self.delta:g}; else inconclusive")

    def to_json(self) -> dict:
        """The protocol as data (conditions, metric, delta, gates, decoding), as report.json records it."""
        d = asdict(self)
        d.pop("overridden")
        d["gates"] = [asdict(g) for g in self.gates]
        return d

    def sha256(self) -> str:
        """The sha256 of the protocol's data: a retest run with a changed protocol shows another."""
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()

    def check(self, values: dict) -> list[dict]:
        """Every gate checked against its measured value (`values[name]`; a missing name fails the gate)."""
        unknown = set(values) - {g.name for g in self.gates}
        if unknown:
            raise ValueError(f"{self.claim}: measured values for unknown gates {sorted(unknown)}")
        return [g.check(values.get(g.name)) for g in self.gates]

    def override(self, spec: dict) -> Protocol:
        """This protocol with δ and gate thresholds from `spec` ({"delta": x, "gates": {name: threshold}})."""
        bad = set(spec) - {"delta", "gates"}
        if bad:
            raise ValueError(f"--protocol {self.claim}: unknown keys {sorted(bad)} (valid: delta, gates)")
        changed, gates = [], {g.name: g for g in self.gates}
        for name, thr in (spec.get("gates") or {}).items():
            if name not in gates:
                raise ValueError(f"--protocol {self.claim}: unknown gate {name!r}; valid: {', '.join(gates) or 'none'}")
            gates[name] = replace(gates[name], threshold=_number(thr, f"{self.claim}.gates.{name}"))
            changed.append(f"gates.{name}")
        delta = self.delta
        if "delta" in spec:
            delta = _number(spec["delta"], f"{self.claim}.delta")
            changed.append("delta")
        return replace(self, delta=delta, gates=tuple(gates.values()), overridden=tuple(changed))


def _number(x, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        raise ValueError(f"--protocol {name}: {x!r} is not a finite number")
    return float(x)


def load_overrides(path: str | Path, claim_ids) -> dict[str, dict]:
    """The --protocol file: {claim-id: {delta, gates}}; unknown claim ids are an error."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise ValueError(f"--protocol {p}: cannot read it ({type(e).__name__})") from None
    if not isinstance(data, dict):
        raise ValueError(f"--protocol {p}: expected a mapping of claim id -> {{delta, gates}}")
    unknown = set(data) - set(claim_ids)
    if unknown:
        raise ValueError(f"--protocol {p}: claims {sorted(unknown)} are not in this retest")
    for k, v in data.items():
        if not isinstance(v, dict):
            raise ValueError(f"--protocol {p}: {k}: expected a mapping with delta and/or gates")
    return data


@dataclass
class Measurement:
    """What a claim's pure `measure` returns: the effect (a `common.stats.bootstrap` dict), every gate checked
    (`Protocol.check`) and the numbers behind them."""

    effect: dict | None
    gates: list[dict]
    metrics: dict = field(default_factory=dict)


def judge(protocol: Protocol, m: Measurement) -> tuple[str, str]:
    """(verdict, reason) under the one rule (module docstring); the reason names a failed gate."""
    failed = [g for g in m.gates if not g["passed"]]
    if failed:
        return "untestable", "; ".join(
            f"gate {g['name']}: measured {'not measured' if g['value'] is None else format(g['value'], '.4g')}, "
            f"needs {g['op']} {g['threshold']:g}" for g in failed)
    e = m.effect
    if e is None or not all(math.isfinite(e[k]) for k in ("estimate", "ci_low", "ci_high")):
        return "inconclusive", "the effect is undefined (e.g. a ratio whose denominator is 0)"
    if e["ci_low"] > 0 and e["estimate"] >= protocol.delta:
        return "reproduced", ""
    if e["ci_high"] <= protocol.delta:
        return "not reproduced", ""
    return "inconclusive", ""
