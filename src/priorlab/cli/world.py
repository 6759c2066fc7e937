"""`priorlab world`: a mixture (the pretraining prior) as a table and sample documents from its corpus,
planning tokens highlighted.

    priorlab world --mixture code-prior -n 8
    priorlab world --mixture my-mixture.yaml -n 0 --out runs/world     # config, 2000 documents, format shares
"""

import json
from collections import Counter
from pathlib import Path

import typer

from priorlab.cli import render
from priorlab.cli.app import app, console
from priorlab.cli.errors import cli_errors
from priorlab.common import runfiles
from priorlab.world.corpus import documents
from priorlab.world.mixtures import load_mixture


@app.command()
@cli_errors
def world(
    mixture: str = typer.Option("code-prior", help="preset name or path to a YAML/JSON mixture file"),
    n: int = typer.Option(8, "-n", help="sample documents to print"),
    seed: int = typer.Option(0, help="corpus seed"),
    out: Path | None = typer.Option(None, help="also write config.json, documents.jsonl, summary.json here"),
):
    """Show a mixture (the pretraining prior) and sample documents, planning tokens highlighted."""

    if n < 0:
        raise ValueError(f"-n must be >= 0, got {n}")
    mix = load_mixture(mixture)
    render.mixture(mix)
    docs = list(documents(mix, seed, n=max(n, 2000 if out else n)))
    render.documents(docs[:n])
    if out:
        counts = Counter(s.format for _, s, _ in docs)
        runfiles.atomic_write_json(out / "config.json", {"stage": "world", "seed": seed, "mixture": mix.to_dict()})
        runfiles.atomic_write_text(out / "documents.jsonl", "".join(
            json.dumps({"problem": p.expr, "format": s.format, "text": t}) + "\n" for p, s, t in docs))
        runfiles.atomic_write_json(out / "summary.json", {"documents": len(docs),
                                                      "format_shares": {f: c / len(docs) for f, c in counts.items()}})
        console.print(f"wrote {out}/")
