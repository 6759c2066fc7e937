"""How every command fails: one error boundary. A failure that comes from an input or from the environment
(a library error, any OSError, a corrupt file, out of memory, a failed worker) becomes one `error:` line on
stderr naming the flag or path and the cause, and exit status 2; any other exception (a bug) one
`error: internal error ...` line and exit status 1. Ctrl-C (or SIGTERM in `retest`) gives a one-line note and
exit status 130. A traceback only with `priorlab --debug CMD ...` or PRIORLAB_DEBUG=1.

    error: --out /a/b: a parent is a file, not a directory
    error: --mixture bin.yaml: not UTF-8 text (invalid start byte at byte 0)

The library's own error types are covered by the built-in ones: `RunError`, `MixtureError`, `DataError` are
ValueErrors, `NonFiniteError` (a trainer's stop at a NaN) a RuntimeError.
"""

from __future__ import annotations

import functools
import inspect
import os
from pathlib import Path

import click
import typer
from rich.markup import escape

from priorlab.cli.app import err
from priorlab.common.failures import describe


def debug() -> bool:
    """Whether PRIORLAB_DEBUG asks for tracebacks instead of one-line errors."""
    return os.environ.get("PRIORLAB_DEBUG", "") not in ("", "0")


def cli_errors(fn):
    """Run a command inside the error boundary (see the module docstring)."""
    flags = option_flags(fn)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except KeyboardInterrupt:
            err.print("[bold red]interrupted:[/] finished checkpoints are kept; rerun with --resume")
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort, typer.exceptions.TyperException,  # typer >= 0.2x vendors its own click
                click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as e:
            if debug():
                raise
            paths = {flags.get(k, "--" + k.replace("_", "-")): v for k, v in kwargs.items()
                     if isinstance(v, (str, Path)) and str(v)}
            msg, code = describe(e, paths)
            err.print(f"[bold red]error:[/] {escape(msg)}", highlight=False, soft_wrap=True)
            raise typer.Exit(code) from None
        finally:
            if os.environ.get("PRIORLAB_REPORT_TO"):  # --report-to: the command's tracked runs end with it
                from priorlab.common import tracking

                tracking.close_all()

    return wrapper


def option_flags(fn) -> dict[str, str]:
    """{parameter name: its first long flag} of a typer command (`init` -> `--init`)."""
    out = {}
    for name, p in inspect.signature(fn).parameters.items():
        decls = getattr(p.default, "param_decls", None) or ()
        longs = [d for d in decls if d.startswith("--")]
        out[name] = longs[0] if longs else "--" + name.replace("_", "-")
    return out


