"""`priorlab eval`: K samples per held-out problem of a priorlab run, or per problem of a data file for a
Hugging Face model (libraries: `priorlab.evals.world_eval`, `priorlab.evals.math_eval`).

    priorlab eval --model runs/pt --problems 100 --samples 16 --out runs/pt-eval
    priorlab eval --model runs/rl --baseline runs/pt --samples 256 --k 1,2,4,...,256 --out runs/rl-vs-pt
    priorlab eval --model hf:models/Qwen2.5-Math-1.5B --data math500.jsonl --template qwen-math --out runs/q
"""

import json
from pathlib import Path

import typer

from priorlab.cli import options, render
from priorlab.cli.app import app, console, err
from priorlab.cli.errors import cli_errors
from priorlab.cli.options import HF, RUN, WORLD
from priorlab.common import memory
from priorlab.math.data import DataSpec
from priorlab.model.hf.load import is_hf_ref


@app.command("eval")
@cli_errors
def eval_(
    model: str = typer.Option(..., help="run directory holding model.safetensors, or a Hugging Face checkpoint: "
                              "hf:PATH or a directory with config.json (then --data is required)",
                              rich_help_panel=RUN),
    samples: int = typer.Option(16, help="completions per problem (K)", rich_help_panel=RUN),
    temperature: float = typer.Option(1.0, help="sampling temperature (0 = greedy)", rich_help_panel=RUN),
    top_p: float = typer.Option(1.0, help="nucleus sampling: keep the smallest set of tokens with this much "
                                "probability (1 = all)", rich_help_panel=RUN),
    seed: int = typer.Option(0, help="seed of the sampling and the bootstrap (and of the test problems in the "
                             "controlled world)", rich_help_panel=RUN),
    k: str = typer.Option("", "--k", help="k of the pass@k curve, e.g. 1,2,4,...,256 (default: powers of two "
                          "up to --samples)", rich_help_panel=RUN),
    baseline: Path | None = typer.Option(None, help="a second model evaluated on the same problems with the "
                                            "same settings: curves, differences, crossover k", rich_help_panel=RUN),
    n_boot: int = typer.Option(1000, help="bootstrap replicates for the CIs over problems", rich_help_panel=RUN),
    max_new_tokens: int | None = typer.Option(None, help="generation budget (default 160; HF models 512)",
                                              rich_help_panel=RUN),
    out: Path | None = typer.Option(None, help="run directory for summary.json, samples.jsonl, passk.json, "
                                       "correctness.parquet", rich_help_panel=RUN),
    problems: int = typer.Option(100, help="test problems per difficulty", rich_help_panel=WORLD),
    difficulty: str = typer.Option("2x1,3x1,4x1", help="comma list of NxD (operands x digits)",
                                   rich_help_panel=WORLD),
    split: str = typer.Option("test", help="test: held-out problems; train: problems of the pretraining split "
                              "(what the prior was taught; against test, a memorisation check)", rich_help_panel=WORLD),
    data: str | None = typer.Option(None, help="HF models: JSONL/Parquet problems (MATH, GSM8K, AIME layouts)",
                                    rich_help_panel=HF),
    layout: str = options.LAYOUT,
    question_field: str | None = options.QUESTION_FIELD,
    answer_field: str | None = options.ANSWER_FIELD,
    skip_bad: bool = options.SKIP_BAD,
    limit: int | None = options.LIMIT,
    template: str = options.TEMPLATE,
    backend: str = typer.Option("hf", help="HF generation backend: hf (transformers generate) or vllm",
                                rich_help_panel=HF),
    dtype: str = typer.Option("auto", help="HF weights: auto, float32, bfloat16, float16", rich_help_panel=HF),
    device: str = options.DEVICE,
    batch_size: int = typer.Option(64, help="HF models: sequences per generate call", rich_help_panel=HF),
    timeout: float = typer.Option(5.0, help="HF models: seconds per Math-Verify comparison", rich_help_panel=HF),
    force: bool = typer.Option(False, "--force", help="run even if the memory estimate exceeds the memory available", rich_help_panel=RUN),
):
    """Sample K completions per held-out problem; accuracy, pass@k curve, formats, calibration, entropy."""
    if is_hf_ref(model):
        from priorlab.evals.math_eval import HFEvalConfig, evaluate_hf  # imports torch: only when the command runs

        if data is None:
            raise ValueError(f"--model {model} is a Hugging Face model: pass the problems with --data FILE")
        if baseline is not None and not is_hf_ref(str(baseline)):
            raise ValueError(f"--baseline {baseline}: with a Hugging Face --model the baseline must be one too "
                             "(hf:PATH or a directory with config.json)")
        hcfg = HFEvalConfig(model=model, data=DataSpec(data, layout, question_field, answer_field, None, skip_bad,
                                                       limit),
                            template=template, backend=backend, samples=samples, ks=k, temperature=temperature,
                            top_p=top_p, max_new_tokens=max_new_tokens or 512, seed=seed, batch_size=batch_size,
                            n_boot=n_boot, dtype=dtype, device=device, timeout=timeout,
                            baseline=None if baseline is None else str(baseline))
        render.hf_eval_summary(evaluate_hf(hcfg, out, log=err.print))
        if out:
            console.print(f"wrote {out}/summary.json")
        return
    if data is not None:
        raise ValueError(f"--data needs a Hugging Face model (--model hf:PATH); {model} is a priorlab run directory")
    from priorlab.evals.world_eval import EvalConfig, evaluate  # imports torch: only when the command runs
    from priorlab.lab import footprint
    from priorlab.model.checkpoint import load_model

    run = Path(model)
    cfg = EvalConfig(problems=problems, samples=samples, temperature=temperature, top_p=top_p,
                     difficulty=difficulty, seed=seed, ks=k, n_boot=n_boot, split=split,
                     **({"max_new_tokens": max_new_tokens} if max_new_tokens else {}))
    m, _ = load_model(run)
    memory.check(footprint.evaluation(m.cfg, cfg.problems, cfg.difficulty, cfg.samples, cfg.max_new_tokens,
                                      cfg.batch_size, models=2 if baseline is not None else 1),
                 "eval", force=force, hint=footprint.HINTS["eval"])
    b = load_model(baseline)[0] if baseline is not None else None  # fails before anything is sampled or written
    s = evaluate(m, cfg, out, model_path=str(run), mixture_spec=mixture_spec(run), baseline=b,
                 baseline_path=str(baseline) if baseline is not None else "",
                 baseline_spec=mixture_spec(baseline) if baseline is not None else None)
    render.eval_summary(s)
    if out:
        console.print(f"wrote {out}/summary.json")


def mixture_spec(run: Path) -> dict | None:
    """The mixture a priorlab run was pretrained on, as its config.json records it (None if it has none)."""
    cfg_file = run / "config.json"
    return json.loads(cfg_file.read_text()).get("mixture_spec") if cfg_file.is_file() else None
