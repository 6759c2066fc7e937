"""`priorlab srl`: Supervised RL on expert steps (library: `priorlab.sft.srl`).

    priorlab srl --init runs/pt --expert-format code --steps 60 --out runs/srl
    priorlab rl --init runs/srl --steps 60 --out runs/srl-rl        # then ordinary RLVR
"""

from pathlib import Path

import typer

from priorlab.cli import configfile, options, render
from priorlab.cli.app import app, log
from priorlab.cli.errors import cli_errors
from priorlab.common import memory


@app.command()
@cli_errors
def srl(
    init: Path = typer.Option(..., help="pretrained (or SFT) run directory to start from"),
    out: Path = typer.Option(..., help="run directory"),
    expert_format: str = typer.Option("code", help="format of the expert solutions: code, nl, direct"),
    algo: str = typer.Option("grpo", help="grpo, dr_grpo, dapo, rloo (presets for a real-valued reward)"),
    steps: int = typer.Option(60, help="RL steps (one rollout batch each)"),
    seed: int = typer.Option(0, help="run seed: problems and samples derive from it"),
    prompts_per_step: int = typer.Option(16, help="P (problem, step k) prompts per step"),
    group_size: int = typer.Option(8, help="G samples per prompt"),
    minibatches: int = typer.Option(4, help="mini-batches per rollout batch"),
    epochs: int = typer.Option(1, help="passes over each rollout batch"),
    lr: float = typer.Option(3e-5, help="AdamW learning rate"),
    grad_clip: float = typer.Option(1.0, help="gradient norm clip"),
    temperature: float = typer.Option(1.0, help="sampling temperature of the steps"),
    step_max_tokens: int = typer.Option(32, help="tokens sampled for one step"),
    difficulty: str = typer.Option("3x1", help="comma list of NxD the problems are drawn from"),
    eval_every: int = typer.Option(20, help="steps between held-out evaluations (eval/* metrics)"),
    eval_problems: int = typer.Option(100, help="held-out problems per difficulty"),
    eval_samples: int = typer.Option(4, help="samples per held-out problem at temperature 1"),
    max_new_tokens: int = typer.Option(96, help="whole-solution evaluation samples"),
    ckpt_every: int = typer.Option(20, help="steps between checkpoints"),
    resume: bool = typer.Option(False, help="continue an interrupted run from its last checkpoint"),
    quiet: bool = typer.Option(False, help="no progress bar"),
    force: bool = typer.Option(False, "--force", help="run even if the memory estimate exceeds the memory available"),
    config: Path | None = configfile.CONFIG,
    report_to: str | None = options.REPORT_TO,
):
    """SRL: reward = difflib similarity of the generated step to the expert's next step."""
    from priorlab.sft.srl import SRLConfig, train  # imports torch (~1.5 s): only when the command runs

    cfg = SRLConfig(init=str(init), expert_format=expert_format, algo=algo, steps=steps, seed=seed,
                    prompts_per_step=prompts_per_step, group_size=group_size, minibatches=minibatches,
                    epochs=epochs, lr=lr, grad_clip=grad_clip, temperature=temperature,
                    step_max_tokens=step_max_tokens, difficulty=difficulty, eval_every=eval_every,
                    eval_problems=eval_problems, eval_samples=eval_samples, max_new_tokens=max_new_tokens,
                    ckpt_every=ckpt_every)
    cfg = configfile.apply(cfg)
    if (init / "model.json").is_file():  # a missing model is the library's error to give
        from priorlab.lab import footprint

        memory.check(footprint.srl(cfg, footprint.model_config(init)), "srl", force=force, hint=footprint.HINTS["srl"])
    render.srl_done(train(cfg, out, resume=resume, progress=not quiet, log=log), out)
