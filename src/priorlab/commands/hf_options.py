"""Command-line options shared by the commands that take Hugging Face models and data files
(`eval`, `rl`, `sft`), so that each reads and documents them the same way.

    layout: str = hf_options.LAYOUT      # in a typer command's signature
"""

import typer

LAYOUT = typer.Option("auto", help="--data layout: auto, math, gsm8k, aime")
QUESTION_FIELD = typer.Option(None, help="--data field holding the problem")
ANSWER_FIELD = typer.Option(None, help="--data field holding the gold answer")
SKIP_BAD = typer.Option(False, help="skip malformed --data records (reported by line) instead of failing")
LIMIT = typer.Option(None, help="use the first N records of --data")
TEMPLATE = typer.Option("plain", help="HF prompt template: plain, qwen-math, chat")
DEVICE = typer.Option("cpu", help="HF device: cpu, cuda, cuda:N, mps, auto")
