"""The `priorlab` command: parses flags, builds a config, calls the library.

    priorlab world --mixture code-prior -n 8
    priorlab pretrain --mixture code-prior --size s --seed 0 --out runs/pt
    priorlab eval --model runs/pt --problems 100 --samples 16 --out runs/pt-eval

Bad input (unknown preset, invalid config value, missing checkpoint) prints one `error:` line naming
the input and exits with status 2; nothing half-written is left behind.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from priorlab.commands import hf_options

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="priorlab: does RLVR teach, or surface what pretraining put there?")
console = Console()
err = Console(stderr=True)


def cli_errors(fn):
    """Turn expected failures into one clear line and exit status 2 (never a traceback)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from priorlab.common.runs import RunError
        from priorlab.world.mixtures import MixtureError

        try:
            return fn(*args, **kwargs)
        except (ValueError, RunError, MixtureError, FileNotFoundError, KeyError, RuntimeError) as e:
            msg = e.args[0] if e.args else str(e)
            err.print(f"[bold red]error:[/] {msg}", highlight=False, markup=True, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err.print("[bold red]interrupted:[/] finished checkpoints are kept; rerun with --resume")
            raise typer.Exit(130) from None

    return wrapper


LABEL_STYLE = {"p": "bold magenta", "e": "cyan", "o": "dim", "u": "red"}


def highlighted(prompt: str, completion: str) -> Text:
    from priorlab.world.formats import parse

    t = Text(prompt, style="white")
    for ch, lab in zip(completion, parse(completion).labels):
        t.append(ch if ch != "\n" else "\n", style=LABEL_STYLE[lab])
    return t


@app.command()
@cli_errors
def world(
    mixture: str = typer.Option("code-prior", help="preset name or path to a YAML/JSON mixture file"),
    n: int = typer.Option(8, "-n", help="sample documents to print"),
    seed: int = typer.Option(0, help="corpus seed"),
    out: Path | None = typer.Option(None, help="also write config.json, documents.jsonl, summary.json here"),
):
    """Show a mixture (the pretraining prior) and sample documents, planning tokens highlighted."""
    from collections import Counter

    from priorlab.common import runs
    from priorlab.world.corpus import documents
    from priorlab.world.mixtures import load_mixture

    if n < 0:
        raise ValueError(f"-n must be >= 0, got {n}")
    mix = load_mixture(mixture)
    table = Table(title=f"mixture {mix.name}", caption=mix.description or None)
    for col in ("format", "share", "corrupt", "misconception"):
        table.add_column(col)
    for f, s in mix.formats.items():
        table.add_row(f, f"{s.share:.2f}", f"{s.corrupt:.2f}",
                      f"{s.misconception} ({s.misconception_rate:.0%})" if s.misconception else "-")
    console.print(table)
    dials = {"difficulty": ", ".join(f"{k}: {v:g}" for k, v in mix.difficulty.items()),
             "order pos_first": mix.pos_first, "coarse nl steps": mix.coarse, "self-check": mix.check,
             "confidence": f"{mix.confidence:g} ({mix.confidence_mode})", "shortcuts": mix.shortcut,
             "documents": f"{mix.documents:,}"}
    console.print("  ".join(f"[bold]{k}[/]: {v}" for k, v in dials.items()))
    console.print("[bold magenta]planning[/]  [cyan]execution[/]  [dim]other[/]  [red]unparsed[/]\n")
    docs = list(documents(mix, seed, n=max(n, 2000 if out else n)))
    for problem, style, text in docs[:n]:
        prompt_len = len(text) - len(text.split("\n", 1)[1])
        console.print(highlighted(text[:prompt_len], text[prompt_len:]))
        console.print()
    if out:
        counts = Counter(s.format for _, s, _ in docs)
        runs.atomic_write_json(out / "config.json", {"stage": "world", "seed": seed, "mixture": mix.to_dict()})
        runs.atomic_write_text(out / "documents.jsonl", "".join(
            json.dumps({"problem": p.expr, "format": s.format, "text": t}) + "\n" for p, s, t in docs))
        runs.atomic_write_json(out / "summary.json", {"documents": len(docs),
                                                      "format_shares": {f: c / len(docs) for f, c in counts.items()}})
        console.print(f"wrote {out}/")


@app.command()
@cli_errors
def pretrain(
    mixture: str = typer.Option("code-prior", help="preset name or mixture file"),
    size: str = typer.Option("s", help="model size preset: xs, s, m, l"),
    tokens: int = typer.Option(0, help="token budget (0 = the size's default, ~5 min on 2 cores)"),
    seed: int = typer.Option(0),
    out: Path = typer.Option(..., help="run directory"),
    resume: bool = typer.Option(False, help="continue an interrupted run from its last checkpoint"),
    no_cache: bool = typer.Option(False, "--no-cache", help="train even if a cached checkpoint exists"),
    batch_size: int = typer.Option(32), seq_len: int = typer.Option(128), lr: float = typer.Option(3e-3),
    eval_every: int = typer.Option(250), ckpt_every: int = typer.Option(250),
    quiet: bool = typer.Option(False, help="no progress bar"),
):
    """Pretrain a tiny GPT from scratch on a mixture's corpus (cached by config hash)."""
    from priorlab.pretrain import PretrainConfig
    from priorlab.pretrain import pretrain as run

    cfg = PretrainConfig(mixture=mixture, size=size, tokens=tokens, seed=seed, batch_size=batch_size,
                         seq_len=seq_len, lr=lr, eval_every=eval_every, ckpt_every=ckpt_every)
    s = run(cfg, out, resume=resume, use_cache=not no_cache, progress=not quiet, log=console.print)
    console.print(f"pretrained {s['params']:,} parameters on {s['tokens']:,} tokens in {s['elapsed_s']:.0f} s: "
                  f"train loss {s['loss/train']:.4f}, held-out loss {s['loss/val']:.4f} -> {out}")


def _print_eval(s: dict) -> None:
    k = s["samples"]
    t = Table(title=f"evaluation ({s['n_problems']} problems x {k} samples)")
    for col in ("difficulty", "accuracy", f"pass@{k}"):
        t.add_column(col)
    for d, a in s["accuracy_by_difficulty"].items():
        t.add_row(d, f"{a:.3f}", f"{s[f'pass@{k}_by_difficulty'][d]:.3f}")
    t.add_row("all", f"{s['accuracy']:.3f}", f"{s[f'pass@{k}']:.3f}", style="bold")
    console.print(t)
    prior = s.get("prior")
    f = Table(title="formats" + (f" (prior: {prior['mixture']})" if prior else ""))
    for col in ("format", "sampled share", *(["prior share"] if prior else []), "accuracy"):
        f.add_column(col)
    for name, share in s["format_shares"].items():
        mix = [f"{prior['mixture_shares'].get(name, 0.0):.3f}"] if prior else []
        if share > 0 or (prior and name in prior["mixture_shares"]):
            f.add_row(name, f"{share:.3f}", *mix, f"{s['accuracy_by_format'].get(name, float('nan')):.3f}")
    console.print(f)
    sc = ", ".join(f"{k2} {v:.3f}" for k2, v in s["shortcuts"].items())
    console.print(f"well-formed {s['well_formed']:.3f} | parse failures {s.get('parse_failure', float('nan')):.3f} | "
                  f"mean length {s['mean_length']:.1f} | shortcuts: {sc}")
    if prior:
        marks = {True: "[green]yes[/]", False: "[red]no[/]"}
        console.print("prior checks: " + ", ".join(f"{k2} {marks[v]}" for k2, v in prior.items() if isinstance(v, bool)))

    def _fmt(x, spec: str = ".3f") -> str:
        return "-" if x is None else format(x, spec)

    cmp = s.get("compare")  # the rest is printed only when the summary has it (older summaries lack it)
    if "passk" in s:
        pk = s["passk"]
        t = Table(title="pass@k (95% CI over problems)" + (" vs baseline" if cmp else ""))
        cols = ["k", "model", "CI"] + (["baseline", "model - baseline", "CI "] if cmp else [])
        for col in cols:
            t.add_column(col, justify="right")
        for i, kk in enumerate(pk["k"]):
            row = [str(kk), f"{pk['mean'][i]:.3f}", f"[{pk['ci_low'][i]:.3f}, {pk['ci_high'][i]:.3f}]"]
            if cmp:
                c = cmp["passk"]
                row += [f"{c['base'][i]:.3f}", f"{c['diff'][i]:+.3f}",
                        f"[{c['ci_low'][i]:+.3f}, {c['ci_high'][i]:+.3f}]"]
            t.add_row(*row)
        console.print(t)
    if cmp:
        a, d = cmp["accuracy"], cmp["format_decomposition"]
        cross = cmp["passk"]["crossover_k"]
        console.print(f"vs baseline {cmp['baseline']}: accuracy {a['baseline']:.3f} -> {a['model']:.3f} "
                      f"(delta {a['delta']:+.3f}, CI [{a['ci_low']:+.3f}, {a['ci_high']:+.3f}]) = format shift "
                      f"{d['format_shift']:+.3f} + within format {d['within_format']:+.3f}; pass@k crossover k: "
                      f"{cross if cross is not None else 'none'}")
    cal = s.get("calibration")
    if cal and cal["n_scored"]:
        console.print(f"calibration ({cal['n_scored']} with Conf:, {cal['n_missing']} without): "
                      f"ECE {_fmt(cal['ece'])} | "
                      f"Brier {_fmt(cal['brier'])} | AUROC {_fmt(cal['auroc'])} | mean conf {_fmt(cal['mean_conf'])} "
                      f"vs accuracy {_fmt(cal['accuracy_scored'])}")
    elif cal:
        console.print(f"calibration: no Conf: values in {cal['n']} completions")
    ent = s.get("entropy")
    if ent:
        console.print("token entropy (nats) / perplexity: " + " | ".join(
            f"{name} {_fmt(ent[name]['mean_entropy'])} / {_fmt(ent[name]['perplexity'])} (n={ent[name]['n_tokens']})"
            for name in ("planning", "execution", "all")))
    sem = s.get("semantic_entropy")
    if sem:
        console.print(f"strategies: {sem['n_strategies']} distinct, semantic entropy pooled {_fmt(sem['pooled'])} "
                      f"nats, per problem {_fmt(sem['mean_per_problem'])} nats")


def _print_hf_eval(s: dict) -> None:
    k = s["samples"]
    console.print(f"{s['model']} on {s['data']}: {s['n_problems']} problems x {k} samples, template "
                  f"{s['template']}, backend {s['backend']}")
    t = Table()
    for col in ("metric", "value"):
        t.add_column(col)
    for name in [key for key in s if key.startswith("pass@")] + [f"maj@{k}", "format_ok"]:
        t.add_row(name, f"{s[name]:.3f}")
    console.print(t)
    st = s["status_counts"]
    console.print("grading: " + ", ".join(f"{name} {n}" for name, n in st.items())
                  + (f" | mean length {s['mean_length']:.1f} tokens, truncated {s['truncated']:.3f}"
                     if "mean_length" in s else ""))
    cmp = s.get("compare")
    if cmp:
        c, a = cmp["passk"], cmp["accuracy"]
        t = Table(title=f"pass@k: model - baseline ({cmp['baseline']}), 95% CI over problems")
        for col in ("k", "baseline", "model", "model - baseline", "CI"):
            t.add_column(col, justify="right")
        for i, kk in enumerate(c["k"]):
            t.add_row(str(kk), f"{c['base'][i]:.3f}", f"{c['other'][i]:.3f}", f"{c['diff'][i]:+.3f}",
                      f"[{c['ci_low'][i]:+.3f}, {c['ci_high'][i]:+.3f}]")
        console.print(t)
        cross = c["crossover_k"]
        console.print(f"accuracy {a['baseline']:.3f} -> {a['model']:.3f} (delta {a['delta']:+.3f}, CI "
                      f"[{a['ci_low']:+.3f}, {a['ci_high']:+.3f}]); pass@k crossover k: "
                      f"{cross if cross is not None else 'none'}")
    cal = s.get("calibration")
    if cal:
        console.print(f"calibration ({cal['n_scored']} with <confidence>, {cal['n_missing']} without): "
                      f"ECE {cal['ece']} | Brier {cal['brier']} | AUROC {cal['auroc']}")


@app.command("eval")
@cli_errors
def eval_(
    model: str = typer.Option(..., help="run directory holding model.safetensors, or a Hugging Face checkpoint: "
                              "hf:PATH or a directory with config.json (then --data is required)"),
    problems: int = typer.Option(100, help="test problems per difficulty"),
    samples: int = typer.Option(16, help="completions per problem (K)"),
    temperature: float = typer.Option(1.0), top_p: float = typer.Option(1.0),
    difficulty: str = typer.Option("2x1,3x1,4x1", help="comma list of NxD (operands x digits)"),
    seed: int = typer.Option(0),
    k: str = typer.Option("", "--k", help="k of the pass@k curve, e.g. 1,2,4,...,256 (default: powers of two "
                          "up to --samples)"),
    baseline: Path | None = typer.Option(None, help="a second model evaluated on the same problems with the "
                                            "same settings: curves, differences, crossover k"),
    n_boot: int = typer.Option(1000, help="bootstrap replicates for the CIs over problems"),
    out: Path | None = typer.Option(None, help="run directory for summary.json, samples.jsonl, passk.json, "
                                       "correctness.parquet"),
    data: str | None = typer.Option(None, help="HF models: JSONL/Parquet problems (MATH, GSM8K, AIME layouts)"),
    layout: str = hf_options.LAYOUT,
    question_field: str | None = hf_options.QUESTION_FIELD,
    answer_field: str | None = hf_options.ANSWER_FIELD,
    skip_bad: bool = hf_options.SKIP_BAD,
    limit: int | None = hf_options.LIMIT,
    template: str = hf_options.TEMPLATE,
    backend: str = typer.Option("hf", help="HF generation backend: hf (transformers generate) or vllm"),
    dtype: str = typer.Option("auto", help="HF weights: auto, float32, bfloat16, float16"),
    device: str = hf_options.DEVICE,
    max_new_tokens: int | None = typer.Option(None, help="generation budget (default 160; HF models 512)"),
    batch_size: int = typer.Option(64, help="HF models: sequences per generate call"),
    timeout: float = typer.Option(5.0, help="HF models: seconds per Math-Verify comparison"),
):
    """Sample K completions per held-out problem; accuracy, pass@k curve, formats, calibration, entropy."""
    from priorlab.evals.world_eval import EvalConfig, evaluate
    from priorlab.model.checkpoint import load_model
    from priorlab.model.hf.load import is_hf_ref

    if is_hf_ref(model):
        from priorlab.evals.math_eval import HFEvalConfig, evaluate_hf
        from priorlab.math.data import DataSpec

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
        _print_hf_eval(evaluate_hf(hcfg, out, log=err.print))
        if out:
            console.print(f"wrote {out}/summary.json")
        return
    if data is not None:
        raise ValueError(f"--data needs a Hugging Face model (--model hf:PATH); {model} is a priorlab run directory")
    model = Path(model)

    cfg = EvalConfig(problems=problems, samples=samples, temperature=temperature, top_p=top_p,
                     difficulty=difficulty, seed=seed, ks=k, n_boot=n_boot,
                     **({"max_new_tokens": max_new_tokens} if max_new_tokens else {}))

    def spec_of(run: Path):
        cfg_file = run / "config.json"
        return json.loads(cfg_file.read_text()).get("mixture_spec") if cfg_file.is_file() else None

    m, _ = load_model(model)
    b = load_model(baseline)[0] if baseline is not None else None  # fails before anything is sampled or written
    s = evaluate(m, cfg, out, model_path=str(model), mixture_spec=spec_of(model), baseline=b,
                 baseline_path=str(baseline) if baseline is not None else "",
                 baseline_spec=spec_of(baseline) if baseline is not None else None)
    _print_eval(s)
    if out:
        console.print(f"wrote {out}/summary.json")


@app.command()
@cli_errors
def rl(
    init: str = typer.Option(..., "--init", "--model", help="pretrained (or SFT) run directory to start from, or "
                             "a Hugging Face checkpoint (hf:PATH or a directory with config.json; then --data)"),
    reward: str = typer.Option("correct", help="reward spec, e.g. correct, random:0.5, incorrect, format, "
                               "majority, brier, correct+length:0.001"),
    algo: str = typer.Option("grpo", help="grpo, dr_grpo, dapo, rloo, reinforce, psr, nsr, w_reinforce, hicra"),
    steps: int = typer.Option(60), out: Path = typer.Option(..., help="run directory"),
    resume: bool = typer.Option(False), seed: int = typer.Option(0),
    prompts_per_step: int = typer.Option(16, help="P prompts per step"),
    group_size: int = typer.Option(8, help="G completions per prompt"),
    minibatches: int = typer.Option(4, help="mini-batches per rollout batch (>1 moves the ratio off 1)"),
    epochs: int = typer.Option(1, help="passes over each rollout batch"),
    lr: float = typer.Option(3e-5), temperature: float = typer.Option(1.0), max_new_tokens: int = typer.Option(96),
    difficulty: str = typer.Option("3x1", help="comma list of NxD the training problems are drawn from"),
    train_problems: int = typer.Option(0, help="0 = fresh problems each step; K = fixed pool; 1 = one-shot"),
    one_shot_rule: str = typer.Option("pass-rate", help="pass-rate (base pass rate closest to .5) or first"),
    eval_every: int = typer.Option(20), eval_problems: int = typer.Option(100), ckpt_every: int = typer.Option(20),
    store_rollouts: bool = typer.Option(False, help="write rollouts/step_N.parquet every step"),
    baseline: str | None = typer.Option(None, help="override: mean_std, mean_std_sample, mean, rloo, none"),
    sign: str | None = typer.Option(None, help="override: all, positive (PSR), negative (NSR), weighted"),
    w_lambda: float | None = typer.Option(None), clip: bool | None = typer.Option(None, "--clip/--no-clip"),
    eps_low: float | None = typer.Option(None), eps_high: float | None = typer.Option(None),
    agg: str | None = typer.Option(None, help="override: seq_mean, token_mean, constant"),
    kl_beta: float | None = typer.Option(None), entropy_coef: float | None = typer.Option(None),
    dynamic_sampling: bool | None = typer.Option(None, "--dynamic-sampling/--no-dynamic-sampling"),
    hicra_alpha: float | None = typer.Option(None),
    quiet: bool = typer.Option(False),
    data: str | None = typer.Option(None, help="HF models: JSONL/Parquet training problems (MATH, GSM8K, AIME)"),
    layout: str = hf_options.LAYOUT,
    question_field: str | None = hf_options.QUESTION_FIELD,
    answer_field: str | None = hf_options.ANSWER_FIELD,
    skip_bad: bool = hf_options.SKIP_BAD,
    limit: int | None = hf_options.LIMIT,
    eval_data: str | None = typer.Option(None, help="HF models: held-out problems for eval/* (same layout options)"),
    template: str = hf_options.TEMPLATE,
    dtype: str = typer.Option("float32", help="HF weights while training: float32, bfloat16, float16, auto"),
    device: str = hf_options.DEVICE,
    top_p: float = typer.Option(1.0, help="HF models: nucleus sampling of the rollouts"),
    batch_size: int = typer.Option(64, help="HF models: sequences per generate call / no-grad forward"),
):
    """RLVR from a pretrained prior: sample, score, advantages, update, evaluate, log, checkpoint."""
    from priorlab.model.hf.load import is_hf_ref
    from priorlab.rl.loop import RLConfig, train

    local = locals()
    overrides = tuple((k, local[k]) for k in ("baseline", "sign", "w_lambda", "clip", "eps_low", "eps_high", "agg",
                                              "kl_beta", "entropy_coef", "dynamic_sampling", "hicra_alpha")
                      if local[k] is not None)
    hf = is_hf_ref(init)
    if hf and data is None:
        raise ValueError(f"--init {init} is a Hugging Face model: pass the training problems with --data FILE")
    if not hf and data is not None:
        raise ValueError(f"--data needs a Hugging Face model (--init hf:PATH); {init} is a priorlab run directory")
    from priorlab.math.data import DataSpec

    hf_kw = {}
    if hf:
        hf_kw = dict(data=DataSpec(data, layout, question_field, answer_field, None, skip_bad, limit),
                     eval_data=DataSpec(eval_data, layout, question_field, answer_field, None, skip_bad,
                                        eval_problems) if eval_data else None,
                     template=template, top_p=top_p, dtype=dtype, device=device, batch_size=batch_size,
                     label_samples=8)
    cfg = RLConfig(init=str(init), reward=reward, algo=algo, steps=steps, seed=seed, prompts_per_step=prompts_per_step,
                   group_size=group_size, minibatches=minibatches, epochs=epochs, lr=lr, temperature=temperature,
                   max_new_tokens=max_new_tokens, difficulty=difficulty, train_problems=train_problems,
                   one_shot_rule=one_shot_rule, eval_every=eval_every, eval_problems=eval_problems,
                   ckpt_every=ckpt_every, store_rollouts=store_rollouts, overrides=overrides, **hf_kw)
    if hf:
        s = train(cfg, out, resume=resume, progress=not quiet, log=console.print)
        console.print(f"RL done ({s['steps']} steps): correct {s['correct/first_step']} (first step) -> "
                      f"{s['correct/last_step']} (last step)"
                      + (f", eval greedy {s['eval/acc_greedy/before']:.3f} -> {s['eval/acc_greedy/after']:.3f}"
                         if "eval/acc_greedy/before" in s else "") + f" -> {s['model']}")
        return
    s = train(cfg, out, resume=resume, progress=not quiet, log=console.print)
    console.print(f"RL done: greedy accuracy {s.get('eval/acc_greedy/before', float('nan')):.3f} -> "
                  f"{s.get('eval/acc_greedy/after', float('nan')):.3f}, T=1 accuracy "
                  f"{s.get('eval/acc_t1/before', float('nan')):.3f} -> {s.get('eval/acc_t1/after', float('nan')):.3f} -> {out}")


def _register_commands() -> None:
    import importlib

    from priorlab.commands import COMMAND_MODULES

    for name in COMMAND_MODULES:
        importlib.import_module(f"priorlab.commands.{name}").register(app)


_register_commands()


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
