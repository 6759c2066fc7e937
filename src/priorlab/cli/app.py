"""The `priorlab` typer app and the two consoles its commands print to: `console` (stdout) for results,
`err` (stderr) for errors, warnings and progress logs of HF evaluations.

Commands live one per module beside this one and register themselves with `@app.command()`;
`priorlab.cli` imports them, so this module imports none of them.
"""

import os

import typer
from rich.console import Console

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="priorlab: does RLVR teach, or surface what pretraining put there?")
console = Console()
err = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        from priorlab import __version__

        console.print(f"priorlab {__version__}", highlight=False)
        raise typer.Exit()


_QUIET: list[bool] = []  # [True] after `priorlab --quiet`


def log(*args, **kwargs) -> None:
    """What commands pass to the library as its `log`: the console's print, nothing after `priorlab --quiet`."""
    if not _QUIET:
        console.print(*args, **kwargs)


def setup_logging(level: int) -> None:
    """The library's loggers ("priorlab.*", see common.logs) and third parties' warnings, rendered by rich on
    stderr at `level`."""
    import logging

    from rich.logging import RichHandler

    handler = RichHandler(console=err, show_time=False, show_path=False, markup=False, rich_tracebacks=False)
    logging.basicConfig(level=logging.WARNING, handlers=[handler], format="%(name)s: %(message)s", force=True)
    logging.getLogger("priorlab").setLevel(level)


@app.callback()
def _options(debug: bool = typer.Option(False, "--debug", help="show the Python traceback of an error "
                                        "(also PRIORLAB_DEBUG=1)"),
             version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                          help="print the version and exit"),
             quiet: bool = typer.Option(False, "--quiet", "-q", help="only results and errors: no progress lines "
                                        "from the library (a command's own --quiet drops its progress bar)"),
             verbose: bool = typer.Option(False, "--verbose", "-v", help="also the library's debug log (stderr)"),
             ) -> None:
    import logging

    if quiet and verbose:
        raise typer.BadParameter("--quiet and --verbose exclude each other")
    _QUIET[:] = [True] if quiet else []
    setup_logging(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)
    if debug:
        os.environ["PRIORLAB_DEBUG"] = "1"  # read by cli.errors, and inherited by worker processes
