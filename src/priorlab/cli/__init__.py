"""The `priorlab` command: parses flags, builds a config, calls the library.

    priorlab world --mixture code-prior -n 8
    priorlab pretrain --mixture code-prior --size s --seed 0 --out runs/pt
    priorlab eval --model runs/pt --problems 100 --samples 16 --out runs/pt-eval
    python -m priorlab.cli --help                   # the same without the installed script

`app` (in `app.py`, with the consoles) is the typer app; each command is one module here that registers
itself on it with `@app.command()` and prints through `render.py`; `errors.py` turns bad input
(unknown preset, invalid config value, missing checkpoint) into one `error:` line and exit status 2;
nothing half-written is left behind. `options.py` holds the options and `--help` panels that `eval`,
`rl` and `sft` share. A library module that imports torch (~1.5 s) is imported inside the command that
uses it, so `priorlab --help` does not load torch.
"""

from priorlab.cli.app import app

# isort: off
# Importing a command module registers its command; this order is the order of `priorlab --help`.
from priorlab.cli import world, pretrain, eval, rl, sft, srl, retest, report, diff, plot, grade  # noqa: F401
# isort: on

__all__ = ["app", "main"]


def main() -> None:
    """Run the command line (the `priorlab` script's entry is `app` itself)."""
    app()
