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


@app.callback()
def _options(debug: bool = typer.Option(False, "--debug", help="show the Python traceback of an error "
                                        "(also PRIORLAB_DEBUG=1)"),
             version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                          help="print the version and exit")) -> None:
    if debug:
        os.environ["PRIORLAB_DEBUG"] = "1"  # read by cli.errors, and inherited by worker processes
