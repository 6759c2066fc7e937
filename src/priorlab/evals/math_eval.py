"""`priorlab eval --model hf:PATH --data FILE`: a Hugging Face checkpoint on a real math benchmark.

    priorlab eval --model hf:models/Qwen2.5-Math-1.5B --data math500.jsonl --template qwen-math \
        --samples 16 --k 1,2,4,8,16 --max-new-tokens 1024 --out runs/qwen-math500

Samples K completions per problem of the data file (`priorlab.math.data`, layouts MATH / GSM8K / AIME or a
field mapping), grades each with `priorlab.math.grading.Grader` (the scorer of `priorlab grade` and of the
reward adapters) and writes to --out:

- `summary.json` (last): accuracy (mean correctness of all completions = pass@1), pass@k for every k of
  the curve, maj@K (the majority answer of the K samples, by `grading.answer_key`, is correct; ties go
  to the answer seen first), grading status counts (ok / no_answer / timeout / error: never folded into
  a silent 0), share of completions with an answer (`format_ok`), mean completion length in tokens and
  the share cut at --max-new-tokens (hf backend), and the calibration of RLCR-style
  `<confidence>q</confidence>` tags (`evals.calibration.calibration_report`) when any completion has one.
- `passk.json`: the pass@k curve with bootstrap CIs over problems (`evals.passk.passk_curve`).
- `samples.jsonl`: one line per completion (problem id, sample index, completion, extracted answer,
  grading status, correct), and `config.json`.
- `correctness.parquet`: one row per (model, problem, sample): model (model / baseline), problem_index,
  id, gold, sample, correct, status, answer, confidence — the [problem x sample] matrices behind every
  pass@k number, for analyses of one's own (the world's eval writes the same file).
- with `--baseline` (a second checkpoint, e.g. the base model of an RL run), sampled on the same
  problems with the same template, settings and seed: `summary.json` gains `compare` (accuracy change
  with a paired bootstrap CI over problems; pass@k of both, model - baseline per k with its CI, and the
  crossover k), `passk_compare.json` holds the same curves, `passk.png/.svg` plots both, and
  `baseline/` holds the baseline's own summary.json and samples.jsonl.

Backends: `hf` (transformers `generate`, `model.hf.generate`) and `vllm` (`model.hf.vllm`, a GPU
and an installed vllm needed). Tests: `.venv/bin/pytest tests/test_evals_math_eval.py`.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from priorlab.common import codeversion, config, logs, runfiles
from priorlab.common.stats import paired_bootstrap_diff
from priorlab.evals.calibration import calibration_report
from priorlab.evals.passk import compare_curves, passk_curve
from priorlab.evals.world_eval import parse_ks
from priorlab.lab.plots import plot_passk
from priorlab.math.data import Dataset, DataSpec
from priorlab.math.grading import DEFAULT_TIMEOUT, Grade, Grader, answer_key, parse_confidence
from priorlab.math.prompts import add_special_tokens, check_template, render
from priorlab.model.hf.generate import encode_prompts, hf_rollout
from priorlab.model.hf.load import load_hf, resolve_path
from priorlab.model.hf.vllm import check_vllm, vllm_texts
from priorlab.rl.rewards import majority_answer

BACKENDS = ("hf", "vllm")


@dataclass(frozen=True)
class HFEvalConfig:
    model: str
    data: DataSpec
    template: str = "plain"
    backend: str = "hf"
    samples: int = 16
    ks: str = ""
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 512
    seed: int = 0
    batch_size: int = 64  # sequences per generate call
    n_boot: int = 1000
    dtype: str = "auto"
    device: str = "cpu"
    timeout: float = DEFAULT_TIMEOUT  # seconds per Math-Verify comparison
    baseline: str | None = None  # a second checkpoint, evaluated the same way (module doc)

    def __post_init__(self) -> None:
        config.require_finite(self)

        check_template(self.template)
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown --backend {self.backend!r}; valid: {', '.join(BACKENDS)}")
        config.require_positive(self, ("samples", "max_new_tokens", "batch_size", "n_boot"))
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError(f"--temperature {self.temperature} must be >= 0 and --top-p {self.top_p} in (0, 1]")
        parse_ks(self.ks, self.samples)


def sample_texts(cfg: HFEvalConfig, questions: list[str]) -> tuple[list[str], dict]:
    """K completions per question (prompt-major) and generation stats, with the configured backend."""
    if cfg.backend == "vllm":

        check_vllm()
        from transformers import AutoTokenizer

        path = resolve_path(cfg.model)
        tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
        prompts = [render(q, cfg.template, tok) for q in questions]
        return vllm_texts(str(path), prompts, n=cfg.samples, max_new_tokens=cfg.max_new_tokens,
                          temperature=cfg.temperature, top_p=cfg.top_p, seed=cfg.seed, dtype=cfg.dtype,
                          add_special_tokens=add_special_tokens(cfg.template)), {}

    lm = load_hf(cfg.model, dtype=cfg.dtype, device=cfg.device)
    prompts = [render(q, cfg.template, lm.tokenizer) for q in questions]
    ids = encode_prompts(lm, prompts, add_special_tokens(cfg.template))
    ro = hf_rollout(lm, ids, n=cfg.samples, max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature,
                    top_p=cfg.top_p, seed=cfg.seed, batch_size=cfg.batch_size)
    return ro.texts, {"mean_length": float(ro.lengths.float().mean()),
                      "truncated": float((~ro.finished).float().mean()), "pad_source": lm.pad_source,
                      "dtype": lm.dtype, "device": lm.device}


def majority_correct(grades: list[Grade]) -> bool:
    """maj@K of one problem: the most common extracted answer (by answer_key; first seen wins a tie) is correct."""
    keys = [answer_key(g.pred) if g.pred is not None else None for g in grades]
    top = majority_answer(keys)
    return top is not None and bool(grades[keys.index(top)].correct)


def score(ds: Dataset, texts: list[str], k: int, timeout: float) -> list[list[Grade]]:
    """Grades [P][K] of the completions (prompt-major) against each example's answer field."""
    golds = [ex.raw_answer for ex in ds.examples for _ in range(k)]
    with Grader(style=ds.style, timeout=timeout) as g:
        flat = g.grade(texts, golds)
    return [flat[i * k:(i + 1) * k] for i in range(len(ds.examples))]


def summarize(grades: list[list[Grade]], texts: list[str], ks: list[int], n_boot: int, seed: int) -> tuple[dict, dict]:
    """(summary numbers, pass@k curve) of a [P][K] grade matrix (module doc)."""

    correct = np.array([[g.correct for g in row] for row in grades], dtype=bool)
    curve = passk_curve(correct, ks, n_boot=n_boot, seed=seed)
    flat = [g for row in grades for g in row]
    status = Counter(g.status for g in flat)
    k = correct.shape[1]
    s = {"n_problems": int(correct.shape[0]), "samples": k, "accuracy": float(correct.mean()),
         **{f"pass@{kk}": m for kk, m in zip(curve["k"], curve["mean"])},
         f"maj@{k}": float(np.mean([majority_correct(row) for row in grades])),
         "status_counts": {st: status.get(st, 0) for st in ("ok", "no_answer", "timeout", "error")},
         "format_ok": float(np.mean([g.pred is not None for g in flat]))}
    confs = [parse_confidence(t) for t in texts]
    if any(c is not None for c in confs):
        s["calibration"] = calibration_report(confs, correct.reshape(-1).tolist())
    return s, curve


def _side(cfg: HFEvalConfig, model: str, ds: Dataset, ks: list[int]) -> dict:
    """Sample, grade and summarise one checkpoint on the data set."""
    texts, gen = sample_texts(replace(cfg, model=model), [ex.question for ex in ds.examples])
    grades = score(ds, texts, cfg.samples, cfg.timeout)
    s, curve = summarize(grades, texts, ks, cfg.n_boot, cfg.seed)
    return {"texts": texts, "grades": grades, "summary": {**s, **gen}, "curve": curve,
            "correct": np.array([[g.correct for g in row] for row in grades], dtype=bool)}


def compare(base: dict, model: dict, ks: list[int], cfg: HFEvalConfig) -> dict:
    """Baseline -> model on the same problems: accuracy change and pass@k differences (paired over problems)."""

    cb, cm = base["correct"], model["correct"]
    acc = paired_bootstrap_diff(cb.mean(axis=1), cm.mean(axis=1), n_boot=cfg.n_boot, seed=cfg.seed)
    return {"baseline": cfg.baseline,
            "accuracy": {"baseline": float(cb.mean()), "model": float(cm.mean()), "delta": acc["estimate"],
                         "ci_low": acc["ci_low"], "ci_high": acc["ci_high"]},
            "passk": compare_curves(cb, cm, ks, n_boot=cfg.n_boot, seed=cfg.seed)}


def _samples_lines(ds: Dataset, side: dict, k: int) -> str:
    lines = []
    for i, (ex, row) in enumerate(zip(ds.examples, side["grades"])):
        for j, g in enumerate(row):
            lines.append(json.dumps({"id": ex.id, "sample": j, "completion": side["texts"][i * k + j],
                                     "pred": g.pred, "gold": g.gold, "status": g.status, "correct": g.correct}))
    return "".join(x + "\n" for x in lines)


def write_correctness(path: Path, ds: Dataset, sides: dict) -> None:
    """correctness.parquet (module doc), written atomically."""
    import pyarrow as pa


    k = len(sides["model"]["grades"][0])
    rows = [(name, i, ex.id, ex.answer, j, bool(g.correct), g.status, g.pred,
             parse_confidence(side["texts"][i * k + j]))
            for name, side in sides.items()
            for i, (ex, row) in enumerate(zip(ds.examples, side["grades"])) for j, g in enumerate(row)]
    schema = pa.schema([("model", pa.string()), ("problem_index", pa.int32()), ("id", pa.string()),
                        ("gold", pa.string()), ("sample", pa.int32()), ("correct", pa.bool_()),
                        ("status", pa.string()), ("answer", pa.string()), ("confidence", pa.float64())])
    cols = list(zip(*rows))
    runfiles.atomic_write_parquet(path, pa.table({f.name: list(c) for f, c in zip(schema, cols)}, schema=schema))


def evaluate_hf(cfg: HFEvalConfig, out: str | Path | None = None, log=None) -> dict:
    """Sample, grade, summarise; write the files of the module doc under `out` (summary.json last)."""
    log = logs.to(log, __name__)

    t0 = time.perf_counter()
    ds = cfg.data.load(log)
    ks = parse_ks(cfg.ks, cfg.samples)
    sides = {"model": _side(cfg, cfg.model, ds, ks)}
    if cfg.baseline is not None:
        sides["baseline"] = _side(cfg, cfg.baseline, ds, ks)
    summary = {"stage": "eval", "model": cfg.model, "data": ds.path, "layout": ds.layout, "style": ds.style,
               "template": cfg.template, "backend": cfg.backend, "skipped_records": len(ds.skipped),
               **sides["model"]["summary"]}
    if cfg.baseline is not None:
        summary["compare"] = compare(sides["baseline"], sides["model"], ks, cfg)
    summary["elapsed_s"] = time.perf_counter() - t0
    if out is not None:
        out = Path(out)
        runfiles.atomic_write_json(out / "config.json", {**asdict(cfg), "stage": "eval", "code_version": codeversion.code_version()})
        runfiles.atomic_write_text(out / "samples.jsonl", _samples_lines(ds, sides["model"], cfg.samples))
        write_correctness(out / "correctness.parquet", ds, sides)
        curves = {name: side["curve"] for name, side in sides.items()}
        runfiles.atomic_write_json(out / "passk.json", {"curves": curves})
        if cfg.baseline is not None:

            base = sides["baseline"]
            runfiles.atomic_write_json(out / "passk_compare.json", {
                **summary["compare"]["passk"], "base_label": "baseline", "other_label": "model",
                "baseline": cfg.baseline, "model": cfg.model, "diff_is": "model - baseline"})
            runfiles.atomic_write_text(out / "baseline" / "samples.jsonl", _samples_lines(ds, base, cfg.samples))
            runfiles.atomic_write_json(out / "baseline" / "summary.json", {
                "stage": "eval", "model": cfg.baseline, "data": ds.path, **base["summary"]})
            labels = {"model": f"model: {cfg.model}", "baseline": f"baseline: {cfg.baseline}"}
            plot_passk({labels[n]: c for n, c in curves.items()}, out / "passk",
                       title=f"pass@k, {len(ds.examples)} problems of {Path(ds.path).name}, T={cfg.temperature:g}")
        runfiles.atomic_write_json(out / "summary.json", summary)
    return summary
