"""Mixtures: the pretraining prior as an explicit, dialable input.

A mixture says which share of the corpus is written in each solution format, how noisy each format is
(per-sample corruption, and systematic misconceptions that are a deterministic function of the
problem), strategy–problem affinity (a format that fails on a problem class, `world.classes`), the
difficulty distribution, the rates of optional behaviours (planning choices, self-checks,
verbalised confidence, shortcuts, self-correction) and the corpus size. The difficulty mapping also
chooses the skills: `NxD` keys are the addition/subtraction chain, `m1xD` the one-digit multiplication,
`mNxD` (N >= 2) their composition (`world.tasks`), so a prior learns both skills but never sees them
composed when it has `m1x1` and `3x1` keys and no `m3x1`. Named presets ship as YAML files in
`world/presets/`; a user passes their own file (YAML or JSON) with `--mixture PATH`.

    mix = load_mixture("code-prior")        # or load_mixture("my_mix.yaml")
    mix = load_mixture("code-prior@code=0.2")   # derived: code's share 0.2, the others rescaled

A derived mixture `BASE@FORMAT=SHARE` (or `BASE@RATE=VALUE` for one of the behaviour rates, e.g.
`skills@self_correct=0.2`, or `BASE@contaminate=FRACTIONxREPEATS`: held-out problems with their answers
in the corpus, `world.contamination`) is named by its recipe, so the name alone determines its content (given the
sources, which the job and pretraining caches hash): regime maps dial a prior's format share or a
behaviour's rate through it without writing mixture files.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from priorlab.world.classes import CLASSES
from priorlab.world.contamination import Contamination
from priorlab.world.formats import FORMATS, MISCONCEPTIONS
from priorlab.world.tasks import Difficulty

CONFIDENCE_MODES = ("calibrated", "overconfident", "random")
RATES = ("pos_first", "coarse", "check", "confidence", "shortcut", "self_correct")  # behaviour dials in [0, 1]


class MixtureError(ValueError):
    """A mixture file or field is invalid; the message names the field."""


@dataclass(frozen=True)
class FormatSpec:
    share: float
    corrupt: float = 0.0  # per-document probability of one arithmetic error, propagated
    misconception: str | None = None  # a systematic error rule, see formats.MISCONCEPTIONS
    misconception_rate: float = 1.0  # share of this format's documents that follow the rule
    fails_on: str | None = None  # a problem class (world.classes) on which this format's answer is wrong
    fails_on_rate: float = 1.0  # share of this format's documents of that class that fail


@dataclass(frozen=True)
class Mixture:
    name: str
    formats: dict[str, FormatSpec]
    difficulty: dict[str, float]  # "NxD" (N operands of D digits) -> weight
    pos_first: float = 0.3  # share of traces that add first, then subtract
    coarse: float = 0.2  # share of nl traces with two operations per step
    check: float = 0.1  # share of documents with a self-check line
    confidence: float = 0.0  # share of documents with a `Conf:` line
    confidence_mode: str = "calibrated"
    shortcut: float = 0.0  # share of documents that take a shortcut (half `operand`, half `skip`)
    self_correct: float = 0.0  # share of nl/code documents with one step written wrong, then `Wait,` and fixed
    documents: int = 200_000  # corpus size (regular documents; contamination adds its own)
    contaminate: Contamination | None = None  # held-out problems put into the corpus (world.contamination)
    description: str = ""
    extra: dict = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict:
        """Every field as plain data (what a run records as `mixture_spec` and the caches hash)."""
        d = asdict(self)
        d.pop("extra")
        return d


def _num(path: str, value, lo: float = 0.0, hi: float = 1.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi or math.isnan(value):
        raise MixtureError(f"mixture field {path}: must be a number in [{lo}, {hi}], got {value!r}")
    return float(value)


def _parse_difficulty_key(key: str) -> Difficulty:
    if not re.fullmatch(r"m?\d+x\d+", str(key)):
        raise MixtureError(f"mixture field difficulty.{key}: keys look like '3x1' (operands x digits) or 'm3x1' "
                           "(a one-digit multiplication, then the chain)")
    try:
        return Difficulty.from_key(str(key))
    except ValueError:
        raise MixtureError(f"mixture field difficulty.{key}: operands must be 2..6 (1..6 after m) and digits 1..3") \
            from None


def mixture_from_dict(raw: dict, name: str = "custom") -> Mixture:
    """Validate a raw mapping into a Mixture; every error names the offending field."""
    if not isinstance(raw, dict):
        raise MixtureError("mixture: the file must hold a mapping of fields")
    known = set(Mixture.__dataclass_fields__) - {"extra"}
    for key in raw:
        if key not in known:
            raise MixtureError(f"mixture field {key}: unknown (valid: {', '.join(sorted(known))})")
    if "formats" not in raw or not isinstance(raw["formats"], dict) or not raw["formats"]:
        raise MixtureError("mixture field formats: required, a mapping of format -> {share, corrupt, ...}")
    formats = {}
    for fmt, spec in raw["formats"].items():
        if fmt not in FORMATS:
            raise MixtureError(f"mixture field formats.{fmt}: unknown format (valid: {', '.join(FORMATS)})")
        if isinstance(spec, (int, float)):
            spec = {"share": spec}
        if not isinstance(spec, dict):
            raise MixtureError(f"mixture field formats.{fmt}: must be a share or a mapping")
        for key in spec:
            if key not in FormatSpec.__dataclass_fields__:
                raise MixtureError(f"mixture field formats.{fmt}.{key}: unknown")
        mis = spec.get("misconception")
        if mis is not None and mis not in MISCONCEPTIONS:
            raise MixtureError(f"mixture field formats.{fmt}.misconception: {mis!r} not in {MISCONCEPTIONS}")
        if mis is not None and fmt == "direct":
            raise MixtureError(f"mixture field formats.{fmt}.misconception: direct answers have no steps")
        fails_on = spec.get("fails_on")
        if fails_on is not None and fails_on not in CLASSES:
            raise MixtureError(f"mixture field formats.{fmt}.fails_on: {fails_on!r} not in {tuple(CLASSES)}")
        formats[fmt] = FormatSpec(
            share=_num(f"formats.{fmt}.share", spec.get("share", 0.0)),
            corrupt=_num(f"formats.{fmt}.corrupt", spec.get("corrupt", 0.0)),
            misconception=mis,
            misconception_rate=_num(f"formats.{fmt}.misconception_rate", spec.get("misconception_rate", 1.0)),
            fails_on=fails_on,
            fails_on_rate=_num(f"formats.{fmt}.fails_on_rate", spec.get("fails_on_rate", 1.0)),
        )
    total = sum(f.share for f in formats.values())
    if abs(total - 1.0) > 1e-6:
        raise MixtureError(f"mixture field formats: shares sum to {total:g}, must sum to 1")
    diff = raw.get("difficulty", {"3x1": 1.0})
    if not isinstance(diff, dict) or not diff:
        raise MixtureError("mixture field difficulty: must be a mapping like {'3x1': 0.5, '4x1': 0.5}")
    difficulty = {}
    for key, w in diff.items():
        _parse_difficulty_key(key)
        difficulty[str(key)] = _num(f"difficulty.{key}", w, 0.0, 1e9)
    if sum(difficulty.values()) <= 0:
        raise MixtureError("mixture field difficulty: weights sum to 0")
    mode = raw.get("confidence_mode", "calibrated")
    if mode not in CONFIDENCE_MODES:
        raise MixtureError(f"mixture field confidence_mode: {mode!r} not in {CONFIDENCE_MODES}")
    docs = raw.get("documents", 200_000)
    if isinstance(docs, bool) or not isinstance(docs, int) or docs < 1:
        raise MixtureError(f"mixture field documents: must be a positive integer, got {docs!r}")
    kw: dict[str, Any] = {k: _num(k, raw[k]) for k in RATES if k in raw}
    return Mixture(
        name=str(raw.get("name", name)), formats=formats, difficulty=difficulty, confidence_mode=mode,
        documents=docs, contaminate=_contamination(raw.get("contaminate")), description=str(raw.get("description", "")),
        **kw,
    )


def _contamination(raw) -> Contamination | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise MixtureError("mixture field contaminate: must be a mapping {fraction, repeats, form, pool, seed}")
    for key in raw:
        if key not in Contamination.__dataclass_fields__:
            raise MixtureError(f"mixture field contaminate.{key}: unknown (valid: {', '.join(Contamination.__dataclass_fields__)})")
    for key in ("repeats", "pool", "seed"):
        v = raw.get(key, 0 if key == "seed" else 1)
        if isinstance(v, bool) or not isinstance(v, int) or v < (0 if key == "seed" else 1):
            raise MixtureError(f"mixture field contaminate.{key}: must be an integer >= {0 if key == 'seed' else 1}, got {v!r}")
    try:
        return Contamination(**{**raw, "fraction": _num("contaminate.fraction", raw.get("fraction", 0.0))})
    except ValueError as e:
        raise MixtureError(f"mixture field {e}") from None


def preset_names() -> list[str]:
    """The names of the shipped mixture presets (world/presets/*.yaml)."""
    return sorted(p.name[: -len(".yaml")] for p in resources.files("priorlab.world.presets").iterdir()
                  if p.name.endswith(".yaml"))


def with_share(mix: Mixture, fmt: str, share: float) -> Mixture:
    """`mix` with `fmt`'s share set to `share` and every other format's share scaled by (1 - share) / (1 - old
    share), so they keep their ratios and the shares sum to 1; noise, difficulty and behaviours unchanged.
    A format the mixture lacks is added clean (no corruption, no misconception)."""
    if fmt not in FORMATS:
        raise MixtureError(f"mixture {mix.name}@{fmt}: unknown format (valid: {', '.join(FORMATS)}; or a rate: "
                           f"{', '.join(RATES)})")
    share = _num(f"{mix.name}@{fmt}", share)
    old = mix.formats[fmt].share if fmt in mix.formats else 0.0
    if old >= 1.0 and share < 1.0:
        raise MixtureError(f"mixture {mix.name}@{fmt}={share!r}: {fmt} is the only format; nothing to rescale")
    scale = (1.0 - share) / (1.0 - old) if old < 1.0 else 0.0
    formats = {f: replace(spec, share=spec.share * scale) for f, spec in mix.formats.items()}
    formats[fmt] = replace(mix.formats.get(fmt, FormatSpec(0.0)), share=share)
    return replace(mix, name=f"{mix.name}@{fmt}={share!r}", formats=formats)


def with_rate(mix: Mixture, rate: str, value: float) -> Mixture:
    """`mix` with the behaviour rate `rate` (one of RATES) set to `value`; everything else unchanged."""
    if rate not in RATES:
        raise MixtureError(f"mixture {mix.name}@{rate}: unknown (a format: {', '.join(FORMATS)}; a rate: "
                           f"{', '.join(RATES)})")
    kw: dict[str, Any] = {rate: _num(f"{mix.name}@{rate}", value)}
    return replace(mix, name=f"{mix.name}@{rate}={value!r}", **kw)


def with_contamination(mix: Mixture, spec: str) -> Mixture:
    """`mix` with `contaminate: {fraction, repeats}` from "FRACTIONxREPEATS" (e.g. "0.5x16"; answer form, the
    held-out pool of 100 problems per difficulty at evaluation seed 0: `world.contamination.Contamination`)."""
    fraction, sep, repeats = spec.partition("x")
    try:
        f, r = float(fraction), int(repeats)
    except ValueError:
        raise MixtureError(f"mixture {mix.name}@contaminate={spec}: expected FRACTIONxREPEATS, e.g. 0.5x16") from None
    if not sep or r < 1:
        raise MixtureError(f"mixture {mix.name}@contaminate={spec}: expected FRACTIONxREPEATS with REPEATS >= 1")
    c = Contamination(fraction=_num(f"{mix.name}@contaminate", f), repeats=r)
    return replace(mix, name=f"{mix.name}@contaminate={spec}", contaminate=c)


def load_mixture(name_or_path: str | Path) -> Mixture:
    """A preset name (see `preset_names()`), a path to a YAML/JSON mixture file, or either followed by
    `@FORMAT=SHARE` (`with_share`) or `@RATE=VALUE` (`with_rate`)."""
    import yaml

    s = str(name_or_path)
    base, sep, recipe = s.rpartition("@")
    if sep and "=" in recipe and not Path(s).is_file():
        fmt, _, value = recipe.partition("=")
        if fmt.strip() == "contaminate":
            return with_contamination(load_mixture(base), value.strip())
        try:
            share = float(value)
        except ValueError:
            raise MixtureError(f"mixture {s!r}: {value!r} after {fmt}= is not a number") from None
        if fmt.strip() in RATES:
            return with_rate(load_mixture(base), fmt.strip(), share)
        return with_share(load_mixture(base), fmt.strip(), share)
    if s in preset_names():
        text, name = resources.files("priorlab.world.presets").joinpath(f"{s}.yaml").read_text(), s
    else:
        path = Path(s)
        if not path.is_file():
            raise MixtureError(f"mixture {s!r}: neither a preset ({', '.join(preset_names())}) nor a file")
        try:
            text, name = path.read_text(encoding="utf-8"), path.stem
        except UnicodeDecodeError as e:
            raise MixtureError(f"mixture {s}: not UTF-8 text ({e.reason} at byte {e.start}); YAML or JSON expected") \
                from None
        if path.suffix == ".json":
            try:
                return mixture_from_dict(json.loads(text), name)
            except json.JSONDecodeError as e:
                raise MixtureError(f"mixture {s}: invalid JSON ({e.msg} at line {e.lineno})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise MixtureError(f"mixture {s}: invalid YAML ({str(e).splitlines()[0]})") from None
    return mixture_from_dict(raw, name)
