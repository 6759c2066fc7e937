"""Option definitions and `--help` panels shared by the commands that have two paths, the controlled
world and Hugging Face models (`eval`, `rl`, `sft`), so that each reads and documents them the same way.

    layout: str = options.LAYOUT                              # in a typer command's signature
    seed: int = typer.Option(0, help="...", rich_help_panel=options.RUN)

Each option of those commands sits in one panel of `--help`: RUN (both paths), WORLD (priorlab run
directories only), HF (`hf:` models and `--data` files only) and, on `rl`, ALGO.
"""

import typer

RUN = "Run"
WORLD = "Controlled world"
HF = "Hugging Face models and data files"
ALGO = "Algorithm overrides"

LAYOUT = typer.Option("auto", help="--data layout: auto, math, gsm8k, aime", rich_help_panel=HF)
QUESTION_FIELD = typer.Option(None, help="--data field holding the problem", rich_help_panel=HF)
ANSWER_FIELD = typer.Option(None, help="--data field holding the gold answer", rich_help_panel=HF)
SKIP_BAD = typer.Option(False, help="skip malformed --data records (reported by line) instead of failing",
                        rich_help_panel=HF)
LIMIT = typer.Option(None, help="use the first N records of --data", rich_help_panel=HF)
TEMPLATE = typer.Option("plain", help="HF prompt template: plain, qwen-math, chat", rich_help_panel=HF)
DEVICE = typer.Option("cpu", help="HF device: cpu, cuda, cuda:N, mps, auto", rich_help_panel=HF)


def _report_to(value: str | None) -> str | None:
    """--report-to's callback: check the trackers (and their packages) and switch them on for this process."""
    from priorlab.common import tracking

    if value is not None:
        try:
            tracking.report_to(value)
        except ValueError as e:
            raise typer.BadParameter(str(e).split(": ", 1)[1]) from None
    return value


def report_to(panel: str | None = None):
    """The --report-to option (in `--help` panel `panel` on commands that group their options)."""
    return typer.Option(None, "--report-to", callback=_report_to, rich_help_panel=panel,
                        help="track the run(s) in none, tensorboard, wandb or mlflow (comma list): the same metric "
                        "names as metrics.jsonl, config.json as hyperparameters (README \"Tracking\")")


REPORT_TO = report_to()
