"""`priorlab pretrain`: a tiny GPT from scratch on a mixture's corpus (library: `priorlab.pretrain`).

    priorlab pretrain --mixture code-prior --size s --seed 0 --out runs/pt
    priorlab pretrain --mixture code-prior --size s --seed 0 --out runs/pt --resume    # after a kill

A run with the same config is taken from the cache (`$PRIORLAB_CACHE`) unless --no-cache.
"""

from pathlib import Path

import typer

from priorlab.cli import configfile, options, render
from priorlab.cli.app import app, log
from priorlab.cli.errors import cli_errors
from priorlab.common import memory


@app.command()
@cli_errors
def pretrain(
    mixture: str = typer.Option("code-prior", help="preset name or mixture file"),
    size: str = typer.Option("s", help="model size preset: xs, s, m, l"),
    tokens: int = typer.Option(0, help="token budget (0 = the size's default, ~5 min on 2 cores)"),
    seed: int = typer.Option(0, help="seed of the corpus, the initial weights and the batches"),
    out: Path = typer.Option(..., help="run directory"),
    resume: bool = typer.Option(False, help="continue an interrupted run from its last checkpoint"),
    no_cache: bool = typer.Option(False, "--no-cache", help="train even if a cached checkpoint exists"),
    batch_size: int = typer.Option(32, help="rows per optimizer step"),
    seq_len: int = typer.Option(128, help="tokens per row (characters; rows start at a document boundary)"),
    lr: float = typer.Option(3e-3, help="peak AdamW learning rate (linear warm-up, cosine decay to 0.1x)"),
    eval_every: int = typer.Option(250, help="steps between held-out loss evaluations"),
    ckpt_every: int = typer.Option(250, help="steps between checkpoints"),
    quiet: bool = typer.Option(False, help="no progress bar"),
    force: bool = typer.Option(False, "--force", help="run even if the memory estimate exceeds the memory available"),
    config: Path | None = configfile.CONFIG,
    report_to: str | None = options.REPORT_TO,
):
    """Pretrain a tiny GPT from scratch on a mixture's corpus (cached by config hash)."""
    from priorlab.lab import footprint
    from priorlab.pretrain import PretrainConfig  # imports torch (~1.5 s): only when the command runs
    from priorlab.pretrain import pretrain as run
    from priorlab.world.mixtures import load_mixture

    cfg = PretrainConfig(mixture=mixture, size=size, tokens=tokens, seed=seed, batch_size=batch_size,
                         seq_len=seq_len, lr=lr, eval_every=eval_every, ckpt_every=ckpt_every)
    cfg = configfile.apply(cfg)
    memory.check(footprint.pretrain(cfg, load_mixture(cfg.mixture)), "pretrain", force=force,
                 hint=footprint.HINTS["pretrain"])
    s = run(cfg, out, resume=resume, use_cache=not no_cache, progress=not quiet, log=log)
    render.pretrain_done(s, out)
