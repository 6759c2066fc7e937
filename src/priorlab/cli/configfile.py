"""`--config FILE`: a command's settings from a YAML or JSON file, flags given on the command line winning.

A run's own `config.json` is such a file: `priorlab rl --config runs/rl/config.json --out runs/rl-again`
repeats the run bitwise (tests/test_cli_config.py). The file's keys are the fields of the stage's config
(`RLConfig`, `PretrainConfig`, `SFTConfig`, `SRLConfig`; for `retest`, its option names). A key that is
an option of the command becomes that option's default, so a flag given on the command line overrides
it; a field that has no option (e.g. `adam`, `grad_clip`) is set on the config after the flags are read
(`apply`). What config.json records beside the settings (`stage`, `algo_resolved`, `code_version`, ...)
is skipped; any other unknown key is an error naming the file and the key.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import typer
import yaml

from priorlab.common import runfiles

# written into config.json beside the settings: records, never settings
RECORDS = {"stage", "algo_resolved", "code_version", "hash", "mixture_spec", "resumed", "steps_resolved"}
ALGO_OPTIONS = ("baseline", "sign", "w_lambda", "clip", "eps_low", "eps_high", "agg", "kl_beta", "entropy_coef",
                "dynamic_sampling", "hicra_alpha")
DATA_OPTIONS = ("layout", "question_field", "answer_field", "skip_bad", "limit")


def _config_class(command: str):
    """The stage config of a command (lab.sweep.CONFIGS), None for retest (its file's keys are option names)."""
    from priorlab.lab.sweep import CONFIGS  # imports torch (~1.5 s): only when --config is given

    return CONFIGS.get(command) if command != "eval" else None


def read(path: Path) -> dict:
    """The mapping in a YAML or JSON file; ValueError naming --config otherwise."""
    text = runfiles.read_text(path, f"--config {path}")
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as e:
        raise ValueError(f"--config {path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: "
                         f"{str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ValueError(f"--config {path}: expected a mapping of settings, got {type(data).__name__}")
    return data


def split(data: dict, command: str, params: set[str], path: Path) -> tuple[dict, dict]:
    """(option defaults, config fields without an option) of a settings mapping for `command`."""
    cls = _config_class(command)
    fields = {f.name for f in dataclasses.fields(cls)} if cls else set()
    records = RECORDS | ({"steps"} if command == "pretrain" else set())  # pretrain's steps derive from tokens
    defaults, extra = {}, {}
    for key, value in data.items():
        if key == "overrides" and command == "rl":  # the algorithm options given: [[name, value], ...]
            for name, v in value or ():
                defaults[name] = v
        elif key in ("data", "eval_data") and isinstance(value, dict):  # a DataSpec: path + layout options
            defaults[key] = value.get("path")
            for name in DATA_OPTIONS:
                if key == "data" and value.get(name) is not None:
                    defaults[name] = value[name]
        elif key in params:
            if value not in ("", None):  # "" and None are a field's "not given" (e.g. sft's traces)
                defaults[key] = value
        elif key in fields:
            extra[key] = value
        elif key not in records:
            valid = sorted(params | fields - {"overrides"})
            raise ValueError(f"--config {path}: unknown setting {key!r} for `{command}` (valid: {', '.join(valid)})")
    return defaults, extra


_EXTRA: dict = {}  # this command's --config fields without an option (one command per process)


def load(ctx, _param, value: Path | None) -> Path | None:
    """The eager callback of --config: the file's settings become the command's defaults."""
    _EXTRA.clear()
    if value is None:
        return None
    path = Path(value)
    if not path.is_file():
        raise typer.BadParameter(f"{path}: no such file")
    try:
        params = {p.name for p in ctx.command.params if p.name != "config"}
        defaults, extra = split(read(path), ctx.command.name, params, path)
    except ValueError as e:
        raise typer.BadParameter(str(e).removeprefix(f"--config {path}: ")) from None
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    _EXTRA.update(extra)
    return path


def apply(cfg):
    """`cfg` with the --config file's fields that have no option (nested dataclasses rebuilt)."""
    extra = _EXTRA
    if not extra:
        return cfg
    typed = {}
    for f in dataclasses.fields(cfg):
        if f.name in extra:
            current, value = getattr(cfg, f.name), extra[f.name]
            if dataclasses.is_dataclass(current) and isinstance(value, dict):
                value = dataclasses.replace(current, **{k: tuple(v) if isinstance(v, list) else v
                                                        for k, v in value.items()})
            elif isinstance(current, tuple) and isinstance(value, list):
                value = tuple(value)
            typed[f.name] = value
    return dataclasses.replace(cfg, **typed)


def option(panel: str | None = None):
    """The --config option (in `--help` panel `panel` on commands that group their options)."""
    return typer.Option(None, "--config", is_eager=True, callback=load, rich_help_panel=panel,
                        help="YAML or JSON file of settings (a run's config.json repeats that run); flags given "
                        "override it")


CONFIG = option()
