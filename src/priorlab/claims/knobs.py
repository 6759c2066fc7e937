"""Knobs: the dials a regime map turns, applied by `claims.base.Lab` to every job it builds.

    lab = Lab(PRESETS["smoke"], knobs={"lr": 1e-5, "prior_share": 0.2})
    spurious_rewards.jobs(lab, seeds)      # the claim's unchanged protocol at that point of the map

Where each knob acts:
- the budget (`rl_steps`, `group_size`, `size`, `tokens`): the preset's field is replaced, so a claim that
  reads `lab.b` (e.g. a half-length checkpoint at `rl_steps // 2`) sees the same value as its jobs;
- RL runs (`lr`, `temperature`, `updates_per_batch`, `kl_beta`, `entropy_coef`): `Lab.rl` sets the
  RLConfig field or algorithm override unless the claim set it for that condition itself (a claim's own
  contrast, e.g. an ablation without clipping, wins over the map);
- priors (`prior_share`): `Lab.prior` trains on the derived mixture `NAME@code=SHARE`
  (`world.mixtures.with_share`: the accurate format's share set, the others rescaled) for every prior that
  holds code at all; priors without it (the controls, e.g. nl-prior) stay as they are;
- the task (`difficulty`): the problems RL trains on and held-out evaluations use where a claim takes the
  default (3x1), and the budget's `hard_difficulty` (the hardest-only arm of hard-samples);
- a claim's own dial (`contamination`): read by the claim that has it (the contaminated prior of
  contamination), so it moves only that claim's jobs.

A knob that a claim fixes, or does not use, changes none of its jobs; `lab.maps` reports that as an error
rather than mapping a dial that is not connected.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType

from priorlab.model.gpt import SIZES
from priorlab.world.mixtures import load_mixture
from priorlab.world.tasks import Difficulty

ACCURATE_FORMAT = "code"  # the format every prior writes without errors (see world/presets)


def _number(name: str, raw, *, integer: bool = False, lo: float | None = None, lo_open: bool = False,
            hi: float | None = None):
    """`raw` (a number or its text) as a float or int within bounds, else ValueError naming --axis."""
    try:
        x = float(str(raw).replace("_", "")) if not isinstance(raw, (int, float)) or isinstance(raw, bool) else raw
    except ValueError:
        x = math.nan
    if isinstance(raw, bool) or not math.isfinite(x) or (integer and x != int(x)):
        raise ValueError(f"--axis {name}: {raw!r} is not {'an integer' if integer else 'a number'}")
    if lo is not None and (x <= lo if lo_open else x < lo) or hi is not None and x > hi:
        bounds = f"{'>' if lo_open else '>='} {lo:g}" if hi is None else f"in [{lo:g}, {hi:g}]"
        raise ValueError(f"--axis {name}: {raw!r} must be {bounds}")
    return int(x) if integer else float(x)


def _updates(raw) -> int | str:
    """N (N mini-batches, one epoch) or MxE (M mini-batches, E epochs): the gradient steps per rollout batch."""
    text = str(raw).strip()
    if "x" in text:
        m, _, e = text.partition("x")
        return f"{_number('updates_per_batch', m, integer=True, lo=1)}x{_number('updates_per_batch', e, integer=True, lo=1)}"
    return _number("updates_per_batch", raw, integer=True, lo=1)


def updates(value) -> tuple[int, int]:
    """(minibatches, epochs) of an updates_per_batch value."""
    if isinstance(value, str):
        m, _, e = value.partition("x")
        return int(m), int(e)
    return int(value), 1


def _size(raw) -> str:
    if str(raw) not in SIZES:
        raise ValueError(f"--axis size: {raw!r} is not a model size (valid: {', '.join(SIZES)})")
    return str(raw)


def _difficulty(raw) -> str:
    text = str(raw).strip()
    try:
        return Difficulty.from_key(text).key
    except ValueError:
        raise ValueError(f"--axis difficulty: {raw!r} is not NxD with N operands in 2..6 and D digits in 1..3 "
                         "(e.g. 5x1), or mNxD (a one-digit multiplication, then the chain, e.g. m3x1)") from None


@dataclass(frozen=True)
class Knob:
    name: str
    acts_on: str  # "budget" | "rl" | "prior" | "task" | "claim" (read by the claims that use it)
    parse: Callable[[object], object]  # raw (text or number) -> the value jobs use; ValueError names --axis
    doc: str
    target: str = ""  # the Budget field, RLConfig field or algorithm override it sets


KNOBS: dict[str, Knob] = {k.name: k for k in (
    Knob("updates_per_batch", "rl", _updates, "gradient steps per rollout batch: N (mini-batches) or MxE "
         "(mini-batches x epochs)", "minibatches,epochs"),
    Knob("lr", "rl", lambda r: _number("lr", r, lo=0, lo_open=True), "RL learning rate", "lr"),
    Knob("temperature", "rl", lambda r: _number("temperature", r, lo=0, lo_open=True), "RL sampling temperature",
         "temperature"),
    Knob("kl_beta", "rl", lambda r: _number("kl_beta", r, lo=0), "beta on the k3 KL to the initial policy",
         "kl_beta"),
    Knob("entropy_coef", "rl", lambda r: _number("entropy_coef", r, lo=0), "entropy bonus coefficient",
         "entropy_coef"),
    Knob("rl_steps", "budget", lambda r: _number("rl_steps", r, integer=True, lo=1), "RL steps per run",
         "rl_steps"),
    Knob("group_size", "budget", lambda r: _number("group_size", r, integer=True, lo=2),
         "samples per prompt (RL and SRL)", "group"),
    Knob("size", "budget", _size, "model size of the priors", "size"),
    Knob("tokens", "budget", lambda r: _number("tokens", r, integer=True, lo=1), "pretraining tokens of the "
         "priors", "tokens"),
    Knob("prior_share", "prior", lambda r: _number("prior_share", r, lo=0, hi=1), "share of the accurate "
         "format (code) in every prior that has it; the other formats rescaled", ACCURATE_FORMAT),
    Knob("contamination", "claim", lambda r: _number("contamination", r, lo=0, hi=1), "share of the held-out "
         "pool put into the contaminated prior's corpus with its answers (the contamination claim)"),
    Knob("difficulty", "task", _difficulty, "problems RL trains on and is evaluated on (where a claim takes "
         "the default), and the hardest-only arm of hard-samples", "hard_difficulty"),
)}
ALGO_OVERRIDES = ("kl_beta", "entropy_coef")


def freeze(knobs: Mapping | None) -> Mapping:
    """Validated, parsed and read-only: {name: value}; unknown names and bad values raise ValueError."""
    out = {}
    for name, raw in (knobs or {}).items():
        if name not in KNOBS:
            raise ValueError(f"--axis {name}: unknown; valid: {', '.join(KNOBS)}")
        out[name] = KNOBS[name].parse(raw)
    return MappingProxyType(out)


def budget(b, knobs: Mapping):
    """The Budget with the budget knobs (and difficulty's hard_difficulty) replaced."""
    fields = {KNOBS[k].target: v for k, v in knobs.items() if KNOBS[k].acts_on in ("budget", "task")}
    return dataclasses.replace(b, **fields) if fields else b


@cache
def _share(mixture: str) -> float:
    m = load_mixture(mixture)
    return m.formats[ACCURATE_FORMAT].share if ACCURATE_FORMAT in m.formats else 0.0


def mixture(name: str, knobs: Mapping) -> str:
    """The mixture a prior trains on: `NAME@code=SHARE` under prior_share where NAME holds code and its own
    share differs; NAME otherwise (so the map's cell at the preset's own share is the plain retest's job)."""
    if "prior_share" not in knobs:
        return name
    share, own = knobs["prior_share"], _share(name)
    return f"{name}@{ACCURATE_FORMAT}={share!r}" if own > 0 and share != own else name


def rl_kwargs(knobs: Mapping, kw: dict) -> tuple[dict, str]:
    """RLConfig keyword arguments: the claim's `kw` with the RL knobs added where the claim did not set them
    itself; and a label suffix naming the knobs applied."""
    kw, applied = dict(kw), {}
    overrides = dict(kw.get("overrides", ()))
    for name, value in knobs.items():
        if KNOBS[name].acts_on != "rl":
            continue
        if name == "updates_per_batch":
            if "minibatches" not in kw and "epochs" not in kw:
                kw["minibatches"], kw["epochs"] = updates(value)
                applied[name] = value
        elif name in ALGO_OVERRIDES:
            if name not in overrides:
                kw["overrides"] = (*kw.get("overrides", ()), (name, value))
                applied[name] = value
        elif name not in kw:
            kw[name] = value
            applied[name] = value
    return kw, "".join(f"[{k}={v}]" for k, v in applied.items())
