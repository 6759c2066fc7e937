"""`priorlab sft`: supervised fine-tuning / distillation on traces (library: `priorlab.sft.loop`).

    priorlab sft --init runs/pt-nl --teacher-format code --steps 300 --out runs/sft-code
    priorlab sft --init runs/pt --traces traces.jsonl --skip-bad-lines --out runs/sft
"""

from __future__ import annotations

from pathlib import Path

import typer

from priorlab.commands import hf_options


def register(app: typer.Typer) -> None:
    from priorlab.cli import cli_errors, console

    @app.command()
    @cli_errors
    def sft(
        init: str = typer.Option(..., "--init", "--model", help="pretrained (or RL) run directory to start from, or "
                                 "a Hugging Face checkpoint (hf:PATH or a directory with config.json; then --data)"),
        out: Path = typer.Option(..., help="run directory"),
        traces: Path | None = typer.Option(None, help="JSONL file, one {\"problem\": \"3+5-2\", \"completion\": "
                                              "\"...\"} per line"),
        teacher_format: str | None = typer.Option(None, help="instead of --traces: world-generated gold traces "
                                                     "of this format (code, nl, direct)"),
        skip_bad_lines: bool = typer.Option(False, help="skip malformed traces lines (their count is reported)"),
        difficulty: str = typer.Option("2x1,3x1,4x1", help="teacher traces: comma list of NxD"),
        problems: int = typer.Option(2000, help="teacher traces: number of train-split problems"),
        steps: int = typer.Option(300), seed: int = typer.Option(0), batch_size: int = typer.Option(32),
        lr: float | None = typer.Option(None, help="learning rate (default 1e-3; HF models 1e-5)"), warmup_steps: int = typer.Option(10), weight_decay: float = typer.Option(0.0),
        grad_clip: float = typer.Option(1.0),
        eval_every: int = typer.Option(50), eval_difficulty: str = typer.Option("3x1", help="held-out NxD list"),
        eval_problems: int = typer.Option(100), eval_samples: int = typer.Option(4),
        max_new_tokens: int = typer.Option(96), ckpt_every: int = typer.Option(50),
        resume: bool = typer.Option(False, help="continue an interrupted run from its last checkpoint"),
        quiet: bool = typer.Option(False),
        data: str | None = typer.Option(None, help="HF models: JSONL/Parquet (problem, solution) records"),
        layout: str = hf_options.LAYOUT,
        question_field: str | None = hf_options.QUESTION_FIELD,
        answer_field: str | None = hf_options.ANSWER_FIELD,
        solution_field: str | None = typer.Option(None, help="--data field holding the target solution"),
        skip_bad: bool = hf_options.SKIP_BAD,
        limit: int | None = hf_options.LIMIT,
        template: str = hf_options.TEMPLATE,
        max_length: int = typer.Option(1024, help="HF models: prompt + target tokens per example"),
        dtype: str = typer.Option("float32", help="HF weights while training"),
        device: str = hf_options.DEVICE,
    ):
        """Supervised fine-tuning (distillation) on traces; loss on completion tokens only."""
        from priorlab.model.hf.load import is_hf_ref
        from priorlab.sft.loop import SFTConfig, train

        if is_hf_ref(init):
            from priorlab.math.data import DataSpec
            from priorlab.sft import hf_loop as hf_sft

            if data is None:
                raise ValueError(f"--init {init} is a Hugging Face model: pass (problem, solution) records with --data")
            hcfg = hf_sft.HFSFTConfig(
                init=init, data=DataSpec(data, layout, question_field, answer_field, solution_field, skip_bad, limit),
                template=template, steps=steps, seed=seed, batch_size=batch_size, lr=lr if lr is not None else 1e-5,
                warmup_steps=warmup_steps, weight_decay=weight_decay, grad_clip=grad_clip, max_length=max_length,
                dtype=dtype, device=device, ckpt_every=ckpt_every)
            s = hf_sft.train(hcfg, out, resume=resume, progress=not quiet, log=console.print)
            console.print(f"SFT done on {s['data']['examples']} examples ({s['data']['truncated']} targets cut at "
                          f"--max-length): loss {s['loss/sft/first']:.4f} (first step) -> {s['loss/sft/last']:.4f} "
                          f"(last step) -> {s['model']}")
            return
        if data is not None:
            raise ValueError(f"--data needs a Hugging Face model (--init hf:PATH); {init} is a priorlab run directory")
        lr = 1e-3 if lr is None else lr

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
