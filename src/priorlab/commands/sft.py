"""`priorlab sft`: supervised fine-tuning / distillation on traces (library: `priorlab.train.sft`).

    priorlab sft --init runs/pt-nl --teacher-format code --steps 300 --out runs/sft-code
    priorlab sft --init runs/pt --traces traces.jsonl --skip-bad-lines --out runs/sft
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    from priorlab.cli import cli_errors, console

    @app.command()
    @cli_errors
    def sft(
        init: Path = typer.Option(..., help="pretrained (or RL) run directory to start from"),
        out: Path = typer.Option(..., help="run directory"),
        traces: Optional[Path] = typer.Option(None, help="JSONL file, one {\"problem\": \"3+5-2\", \"completion\": "
                                              "\"...\"} per line"),
        teacher_format: Optional[str] = typer.Option(None, help="instead of --traces: world-generated gold traces "
                                                     "of this format (code, nl, direct)"),
        skip_bad_lines: bool = typer.Option(False, help="skip malformed traces lines (their count is reported)"),
        difficulty: str = typer.Option("2x1,3x1,4x1", help="teacher traces: comma list of NxD"),
        problems: int = typer.Option(2000, help="teacher traces: number of train-split problems"),
        steps: int = typer.Option(300), seed: int = typer.Option(0), batch_size: int = typer.Option(32),
        lr: float = typer.Option(1e-3), warmup_steps: int = typer.Option(10), weight_decay: float = typer.Option(0.0),
        grad_clip: float = typer.Option(1.0),
        eval_every: int = typer.Option(50), eval_difficulty: str = typer.Option("3x1", help="held-out NxD list"),
        eval_problems: int = typer.Option(100), eval_samples: int = typer.Option(4),
        max_new_tokens: int = typer.Option(96), ckpt_every: int = typer.Option(50),
        resume: bool = typer.Option(False, help="continue an interrupted run from its last checkpoint"),
        quiet: bool = typer.Option(False),
    ):
        """Supervised fine-tuning (distillation) on traces; loss on completion tokens only."""
        from priorlab.train.sft import SFTConfig, train

        cfg = SFTConfig(init=str(init), traces=str(traces) if traces else "", teacher_format=teacher_format or "",
                        skip_bad_lines=skip_bad_lines, difficulty=difficulty, problems=problems, steps=steps,
                        seed=seed, batch_size=batch_size, lr=lr, warmup_steps=warmup_steps,
                        weight_decay=weight_decay, grad_clip=grad_clip, eval_every=eval_every,
                        eval_difficulty=eval_difficulty, eval_problems=eval_problems, eval_samples=eval_samples,
                        max_new_tokens=max_new_tokens, ckpt_every=ckpt_every)
        s = train(cfg, out, resume=resume, progress=not quiet, log=console.print)
        skipped = s.get("data", {}).get("skipped_lines", 0)
        console.print(f"SFT done on {s['data']['examples']} examples ({s['data']['source']}"
                      + (f", {skipped} malformed lines skipped" if skipped else "") + "): greedy accuracy "
                      f"{s.get('eval/acc_greedy/before', float('nan')):.3f} -> {s.get('eval/acc_greedy/after', float('nan')):.3f}"
                      ", formats " + " ".join(f"{f} {s.get(f'eval/format/{f}/before', 0):.2f}->"
                                              f"{s.get(f'eval/format/{f}/after', 0):.2f}" for f in ("direct", "nl", "code"))
                      + f" -> {out}")
