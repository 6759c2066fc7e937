"""How every command fails: expected errors become one `error:` line on stderr and exit status 2, Ctrl-C
(or SIGTERM in `retest`) a one-line note and exit status 130 -- never a traceback.

The library's own error types are covered by the built-in ones caught here: `RunError` and
`MixtureError` are ValueErrors, `RLError` is a RuntimeError.
"""

import functools

import typer

from priorlab.cli.app import err

EXPECTED = (ValueError, FileNotFoundError, KeyError, RuntimeError)


def cli_errors(fn):
    """Turn expected failures into one clear line and exit status 2 (never a traceback)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except EXPECTED as e:
            msg = e.args[0] if e.args else str(e)
            err.print(f"[bold red]error:[/] {msg}", highlight=False, markup=True, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err.print("[bold red]interrupted:[/] finished checkpoints are kept; rerun with --resume")
            raise typer.Exit(130) from None

    return wrapper
