"""CLI commands that live beside their stage (one module each); `priorlab.cli` registers them.

Each module defines `register(app: typer.Typer) -> None`, which adds its command(s) to the app. Inside
`register`, import `cli_errors` and `console` from `priorlab.cli` (error handling: one `error:` line,
exit status 2) — `priorlab.cli` imports these modules only after defining them. `hf_options` is not
a command: it holds the options that `eval`, `rl` and `sft` share for HF models and data files.
"""

COMMAND_MODULES: tuple[str, ...] = ("sft", "srl", "retest", "diff", "plot", "grade")
