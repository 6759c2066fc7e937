"""`priorlab sft`: supervised fine-tuning / distillation on traces, or on the (problem, solution) records of
a data file for a Hugging Face model (library: `priorlab.sft.loop`).

    priorlab sft --init runs/pt-nl --teacher-format code --steps 300 --out runs/sft-code
    priorlab sft --init runs/pt --traces traces.jsonl --skip-bad-lines --out runs/sft
    priorlab sft --init hf:models/Qwen2.5-Math-1.5B --data math_train.jsonl --template qwen-math --out runs/q-sft
"""

from pathlib import Path

import typer

from priorlab.cli import configfile, options, render
from priorlab.cli.app import app, log
from priorlab.cli.errors import cli_errors
from priorlab.cli.options import HF, RUN, WORLD
from priorlab.common import memory
from priorlab.math.data import DataSpec
from priorlab.model.hf.load import is_hf_ref


@app.command()
@cli_errors
def sft(
    init: str = typer.Option(..., "--init", "--model", help="pretrained (or RL) run directory to start from, or "
                             "a Hugging Face checkpoint (hf:PATH or a directory with config.json; then --data)",
                             rich_help_panel=RUN),
    out: Path = typer.Option(..., help="run directory", rich_help_panel=RUN),
    steps: int = typer.Option(300, help="optimizer steps", rich_help_panel=RUN),
    seed: int = typer.Option(0, help="seed of the batches (and of the teacher traces and evaluations)",
                             rich_help_panel=RUN),
    batch_size: int = typer.Option(32, help="examples per step", rich_help_panel=RUN),
    lr: float | None = typer.Option(None, help="learning rate (default 1e-3; HF models 1e-5)", rich_help_panel=RUN),
    warmup_steps: int = typer.Option(10, help="steps of linear learning-rate warm-up, then constant",
                                     rich_help_panel=RUN),
    weight_decay: float = typer.Option(0.0, help="AdamW weight decay", rich_help_panel=RUN),
    grad_clip: float = typer.Option(1.0, help="gradient norm clip", rich_help_panel=RUN),
    ckpt_every: int = typer.Option(50, help="steps between checkpoints", rich_help_panel=RUN),
    resume: bool = typer.Option(False, help="continue an interrupted run from its last checkpoint",
                                rich_help_panel=RUN),
    quiet: bool = typer.Option(False, help="no progress bar", rich_help_panel=RUN),
    force: bool = typer.Option(False, "--force", help="run even if the memory estimate exceeds the memory available", rich_help_panel=RUN),
    config: Path | None = configfile.option(RUN),
    report_to: str | None = options.report_to(RUN),
    traces: Path | None = typer.Option(None, help="JSONL file, one {\"problem\": \"3+5-2\", \"completion\": "
                                          "\"...\"} per line", rich_help_panel=WORLD),
    teacher_format: str | None = typer.Option(None, help="instead of --traces: world-generated gold traces "
                                                 "of this format (code, nl, direct)", rich_help_panel=WORLD),
    skip_bad_lines: bool = typer.Option(False, help="skip malformed traces lines (their count is reported)",
                                        rich_help_panel=WORLD),
    difficulty: str = typer.Option("2x1,3x1,4x1", help="teacher traces: comma list of NxD", rich_help_panel=WORLD),
    problems: int = typer.Option(2000, help="teacher traces: number of train-split problems",
                                 rich_help_panel=WORLD),
    eval_every: int = typer.Option(50, help="steps between held-out evaluations (eval/* metrics)",
                                   rich_help_panel=WORLD),
    eval_difficulty: str = typer.Option("3x1", help="held-out NxD list", rich_help_panel=WORLD),
    eval_problems: int = typer.Option(100, help="held-out problems per difficulty", rich_help_panel=WORLD),
    eval_samples: int = typer.Option(4, help="samples per held-out problem at temperature 1", rich_help_panel=WORLD),
    max_new_tokens: int = typer.Option(96, help="generation budget of the evaluation samples, in tokens",
                                       rich_help_panel=WORLD),
    data: str | None = typer.Option(None, help="HF models: JSONL/Parquet (problem, solution) records",
                                    rich_help_panel=HF),
    layout: str = options.LAYOUT,
    question_field: str | None = options.QUESTION_FIELD,
    answer_field: str | None = options.ANSWER_FIELD,
    solution_field: str | None = typer.Option(None, help="--data field holding the target solution",
                                              rich_help_panel=HF),
    skip_bad: bool = options.SKIP_BAD,
    limit: int | None = options.LIMIT,
    template: str = options.TEMPLATE,
    max_length: int = typer.Option(1024, help="HF models: prompt + target tokens per example", rich_help_panel=HF),
    dtype: str = typer.Option("float32", help="HF weights while training", rich_help_panel=HF),
    device: str = options.DEVICE,
):
    """Supervised fine-tuning (distillation) on traces; loss on completion tokens only."""
    if is_hf_ref(init):
        if data is None:
            raise ValueError(f"--init {init} is a Hugging Face model: pass (problem, solution) records with --data")
        lr = 1e-5 if lr is None else lr
    elif data is not None:
        raise ValueError(f"--data needs a Hugging Face model (--init hf:PATH); {init} is a priorlab run directory")
    from priorlab.sft.loop import SFTConfig, train  # imports torch (~1.5 s): only when the command runs

    spec = None if data is None else DataSpec(data, layout, question_field, answer_field, solution_field, skip_bad,
                                              limit)
    cfg = SFTConfig(init=str(init), traces=str(traces) if traces else "", teacher_format=teacher_format or "",
                    skip_bad_lines=skip_bad_lines, difficulty=difficulty, problems=problems, steps=steps,
                    seed=seed, batch_size=batch_size, lr=1e-3 if lr is None else lr, warmup_steps=warmup_steps,
                    weight_decay=weight_decay, grad_clip=grad_clip, eval_every=eval_every,
                    eval_difficulty=eval_difficulty, eval_problems=eval_problems, eval_samples=eval_samples,
                    max_new_tokens=max_new_tokens, ckpt_every=ckpt_every, data=spec, template=template,
                    max_length=max_length, dtype=dtype, device=device)
    cfg = configfile.apply(cfg)
    if not cfg.hf and (Path(init) / "model.json").is_file():  # a missing model is the library's error to give
        from priorlab.lab import footprint

        memory.check(footprint.sft(cfg, footprint.model_config(init)), "sft", force=force, hint=footprint.HINTS["sft"])
    summary = train(cfg, out, resume=resume, progress=not quiet, log=log)
    if cfg.hf:
        render.hf_sft_done(summary)
    else:
        render.sft_done(summary, out)
