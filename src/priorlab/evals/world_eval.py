"""Evaluation of a model on held-out problems of the world, optionally against a baseline model.

    priorlab eval --model runs/pt --problems 200 --samples 16 --temperature 1 --out runs/pt-eval
    priorlab eval --model runs/rl --baseline runs/pt --samples 256 --k 1,2,4,...,256 --out runs/rl-vs-pt

Samples K completions for each of N test-split problems per difficulty, verifies them with the task's
own `verify`, and writes to the output directory:

- `summary.json`: accuracy overall and per difficulty, CoT accuracy (`cot_accuracy`: the answer and every
  step right, `world.formats.steps_correct`), the self-correction rate, pass@1, pass@K, the pass@k curve (`passk`), format
  shares and per-format accuracy, well-formed and parse-failure rates (`parse_failure`: no `A: <int>`
  line, so the verifier cannot grade it), shortcut rates, mean length, calibration of the verbalised
  `Conf:` values (`evals.calibration.calibration_report`; completions without one are counted in
  `n_missing`, not scored), entropy and perplexity of planning vs execution tokens and the semantic
  entropy of strategies (`evals.entropy`); with a baseline, `compare`: the accuracy change with a paired
  bootstrap CI over problems, its split into format shift and within-format change
  (`evals.formats.decompose_counts`, baseline -> model), and the pass@k differences and crossover k.
  Written last: its presence marks a finished evaluation.
- `passk.json`: pass@k for each k with percentile-bootstrap CIs over problems (`evals.passk`), overall
  (`curves`) and per difficulty (`by_difficulty`), plus the figure's payload; `passk.png`/`.svg` draw it.
- `correctness.parquet`: one row per completion (model, problem index, problem, difficulty, gold, sample
  index, correct, format, well_formed, answer, confidence, finished, length): the per-problem correctness
  matrix in long form.
- with a baseline: `passk_compare.json` (both curves, model - baseline per k with a paired bootstrap CI,
  crossover k) and `baseline/` (the baseline's own summary.json and samples.jsonl).
- `samples.jsonl` (one line per completion of the model), `metrics.jsonl`, `config.json`.

The baseline is sampled on the same problems with the same settings and the same sampling seed.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from priorlab.common import runfiles
from priorlab.common.config import require_finite
from priorlab.common.seeds import derive
from priorlab.common.stats import paired_bootstrap_diff
from priorlab.evals.calibration import calibration_report
from priorlab.evals.entropy import entropy_by_type, strategy_report
from priorlab.evals.formats import decompose_counts, format_counts
from priorlab.evals.passk import compare_curves, default_ks, passk_curve
from priorlab.evals.shortcuts import detect, shortcut_rates
from priorlab.lab.plots import plot_passk
from priorlab.model.sampling import sample
from priorlab.world.classes import classes_of
from priorlab.world.contamination import contaminated_set
from priorlab.world.formats import FORMATS, order_of, parse, steps_correct
from priorlab.world.labels import token_labels
from priorlab.world.tasks import SPLITS, Problem, get_task, parse_difficulties
from priorlab.world.tasks import held_out_problems as test_problems
from priorlab.world.tokenizer import Tokenizer

DEFAULT_DIFFICULTIES = "2x1,3x1,4x1"


@dataclass(frozen=True)
class EvalConfig:
    problems: int = 100  # per difficulty
    samples: int = 16
    temperature: float = 1.0
    top_p: float = 1.0
    difficulty: str = DEFAULT_DIFFICULTIES
    max_new_tokens: int = 160
    seed: int = 0
    batch_size: int = 512  # sequences per sampler call
    ks: str = ""  # the k of the pass@k curve (see `parse_ks`); "" = powers of two up to `samples`
    n_boot: int = 1000  # bootstrap replicates of the CIs over problems
    split: str = "test"  # "train": problems of the pretraining split (what a prior was taught: a memorisation check)

    def __post_init__(self) -> None:
        require_finite(self)
        if self.problems < 1 or self.samples < 1:
            raise ValueError("--problems and --samples must be >= 1")
        if self.n_boot < 1:
            raise ValueError(f"--n-boot must be >= 1, got {self.n_boot}")
        parse_ks(self.ks, self.samples)
        if self.temperature < 0:
            raise ValueError(f"--temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"--top-p must be in (0, 1], got {self.top_p}")
        parse_difficulties(self.difficulty)
        if self.split not in SPLITS:
            raise ValueError(f"--split {self.split!r}: valid: test, train")


def problem_set(difficulty: str, n: int, seed: int, split: str = "test") -> list[Problem]:
    """`n` problems of `split` (held out unless "train") per difficulty of the comma list, drawn with `seed`,
    difficulty by difficulty: what `priorlab eval`, the retest's snapshots and the training loops' held-out
    checks sample."""
    return [p for d in parse_difficulties(difficulty) for p in test_problems(d, n, seed, split)]


def parse_ks(spec: str, samples: int) -> list[int]:
    """The k of a pass@k curve from `--k`: a comma list, `...` continuing a geometric progression.

    "" -> powers of two up to `samples`, plus `samples` itself (`passk.default_ks`); "1,4,16" as written;
    "1,2,4,...,256" -> 1, 2, 4, 8, ..., 256 (the ratio of the two numbers before `...`, an integer >= 2,
    continued while below the number after it). Every k must be in 1..samples (pass@k needs n >= k).
    """
    if not spec.strip():
        return default_ks(samples)
    parts = [p.strip() for p in spec.split(",")]
    out: list[int] = []
    for i, part in enumerate(parts):
        if part in ("...", "\u2026"):
            if len(out) < 2 or i + 1 >= len(parts) or out[-2] < 1 or out[-1] % out[-2] or out[-1] // out[-2] < 2:
                raise ValueError(f"--k {spec!r}: '...' needs two numbers before it with an integer ratio >= 2 "
                                 "and a number after it, e.g. 1,2,4,...,256")
            ratio, end = out[-1] // out[-2], _int_k(parts[i + 1], spec)
            while out[-1] * ratio < end:
                out.append(out[-1] * ratio)
            continue
        out.append(_int_k(part, spec))
    bad = [k for k in out if not 1 <= k <= samples]
    if bad:
        raise ValueError(f"--k {bad[0]} is outside 1..--samples ({samples}): pass@k needs at least k samples")
    return sorted(set(out))


def _int_k(part: str, spec: str) -> int:
    try:
        return int(part)
    except ValueError:
        raise ValueError(f"--k {spec!r}: {part!r} is not an integer (expected e.g. 1,2,4,...,256)") from None


def generate(model, problems: list[Problem], k: int, cfg: EvalConfig, seed: int) -> list[list[dict]]:
    """K completions per problem, in problem order: [{text, finished, length, logprob, token_types,
    token_entropies, token_logprobs}]; the token_* fields (one per generated token, `<eos>` included;
    types as in `world.labels.token_labels`) feed the entropy by token type."""
    tok, task = Tokenizer(), get_task()
    jobs = [(i, tok.encode(task.prompt(p), bos=True)) for i, p in enumerate(problems) for _ in range(k)]
    results: list[list[dict]] = [[] for _ in problems]
    gen = torch.Generator().manual_seed(seed)
    for b in range(0, len(jobs), cfg.batch_size):
        chunk = jobs[b : b + cfg.batch_size]
        s = sample(model, [ids for _, ids in chunk], max_new_tokens=cfg.max_new_tokens, eos_id=tok.eos_id,
                   pad_id=tok.pad_id, temperature=cfg.temperature, top_p=cfg.top_p, generator=gen)
        for row, (i, _) in enumerate(chunk):
            n = int(s.lengths[row])
            ids = s.tokens[row, :n].tolist()
            text = tok.decode(ids)
            results[i].append({"text": text, "finished": bool(s.finished[row]), "length": n,
                               "logprob": float(s.logprobs[row, :n].sum()),
                               "token_types": token_labels(ids, text),
                               "token_entropies": s.entropies[row, :n].numpy().copy(),
                               "token_logprobs": s.logprobs[row, :n].numpy().copy()})
    return results


def score(problems: list[Problem], completions: list[list[dict]]) -> list[list[dict]]:
    """Attach verify() and shortcut flags to each completion."""
    task = get_task()
    for p, comps in zip(problems, completions):
        for c in comps:
            v, parsed = task.verify(p, c["text"]), parse(c["text"])
            c.update(correct=v.correct, answer=v.answer, well_formed=v.well_formed, format=v.format,
                     confidence=v.confidence, shortcuts=detect(p, parsed, c["finished"]),
                     order=order_of(p.operands, p.ops, parsed), corrections=parsed.n_corrections,
                     cot_correct=v.correct and steps_correct(p.operands, p.ops, parsed))
    return completions


def summarize(problems: list[Problem], completions: list[list[dict]], k: int) -> dict:
    """summary.json's numbers for scored completions: accuracy and pass@K (overall, by difficulty, format, class,
    order), CoT accuracy, self-correction, well-formedness, shortcuts, length, calibration and entropy."""
    flat = [c for comps in completions for c in comps]
    correct = np.array([[c["correct"] for c in comps] for comps in completions], dtype=bool)
    fmt_counts = Counter(c["format"] or "none" for c in flat)
    per_fmt = defaultdict(list)
    for c in flat:
        per_fmt[c["format"] or "none"].append(c["correct"])
    by_diff = defaultdict(list)
    for p, row in zip(problems, correct):
        by_diff[p.difficulty.key].append(row)
    by_class, by_fmt_class = defaultdict(list), defaultdict(list)  # strategy-problem affinity (world.classes)
    for p, comps in zip(problems, completions):
        for cls in classes_of(p) or ("none",):  # a problem counts in each class it belongs to
            for c in comps:
                by_class[cls].append(c["correct"])
                by_fmt_class[(c["format"] or "none", cls)].append(c["correct"])
    return {
        "n_problems": len(problems), "samples": k, "accuracy": float(correct.mean()),
        "pass@1": float(correct.mean()), f"pass@{k}": float(correct.any(axis=1).mean()),
        "accuracy_by_difficulty": {d: float(np.mean(rows)) for d, rows in sorted(by_diff.items())},
        f"pass@{k}_by_difficulty": {d: float(np.any(rows, axis=1).mean()) for d, rows in sorted(by_diff.items())},
        "format_shares": {f: fmt_counts.get(f, 0) / len(flat) for f in (*FORMATS, "none")},
        "accuracy_by_format": {f: float(np.mean(v)) for f, v in sorted(per_fmt.items())},
        "accuracy_by_class": {c: float(np.mean(v)) for c, v in sorted(by_class.items())},
        "accuracy_by_order": {o: float(np.mean([c["correct"] for c in flat if c.get("order") == o]))
                              for o in ("ltr", "pos_first", "either") if any(c.get("order") == o for c in flat)},
        "accuracy_by_format_class": {f: {c: float(np.mean(v)) for (f2, c), v in sorted(by_fmt_class.items()) if f2 == f}
                                     for f in sorted({f for f, _ in by_fmt_class})},
        "well_formed": float(np.mean([c["well_formed"] for c in flat])),
        "shortcuts": shortcut_rates([c["shortcuts"] for c in flat]),
        "mean_length": float(np.mean([c["length"] for c in flat])),
        # answer and every step right (world.formats.steps_correct): CoT correctness, checked exactly
        "cot_accuracy": float(np.mean([c.get("cot_correct", False) for c in flat])),
        "self_correction": self_correction(flat),
        **behaviour(problems, completions),
    }


def self_correction(flat: list[dict]) -> dict:
    """Share of completions with a self-correction (a step written wrong, then `Wait,` and written again), the
    corrections per completion, and accuracy with and without one (None where no completion falls there)."""
    n = [c.get("corrections", 0) for c in flat]
    with_, without = [c["correct"] for c, k in zip(flat, n) if k], [c["correct"] for c, k in zip(flat, n) if not k]
    return {"rate": float(np.mean([k > 0 for k in n])) if n else 0.0,
            "per_completion": float(np.mean(n)) if n else 0.0,
            "accuracy_with": float(np.mean(with_)) if with_ else None,
            "accuracy_without": float(np.mean(without)) if without else None}


def behaviour(problems: list[Problem], completions: list[list[dict]]) -> dict:
    """Parse failures, calibration of `Conf:` values, entropy by token type, semantic entropy."""
    flat = [c for comps in completions for c in comps]
    out = {"parse_failure": float(np.mean([c["answer"] is None for c in flat])),
           "calibration": calibration_report([c["confidence"] for c in flat], [c["correct"] for c in flat])}
    if all("token_types" in c for c in flat):  # completions from `generate` (hand-made ones may lack them)
        out["entropy"] = entropy_by_type([c["token_types"] for c in flat], [c["token_entropies"] for c in flat],
                                         [c["token_logprobs"] for c in flat])
    out["semantic_entropy"] = strategy_report(problems, [[c["text"] for c in comps] for comps in completions])
    return out


def prior_checks(summary: dict, mixture_spec: dict) -> dict:
    """How the sampled behaviour compares with the prior the model was pretrained on (README targets)."""
    k = summary["samples"]
    shares = {f: spec["share"] for f, spec in mixture_spec["formats"].items()}
    gaps = {f: summary["format_shares"].get(f, 0.0) - shares.get(f, 0.0) for f in FORMATS}
    return {
        "mixture": mixture_spec.get("name"), "mixture_shares": shares, "share_gap": gaps,
        "max_share_gap": max(abs(g) for g in gaps.values()),
        "well_formed_ok": summary["well_formed"] >= 0.95,
        "shares_ok": max(abs(g) for g in gaps.values()) <= 0.05,
        "pass@1_in_room": 0.2 <= summary["pass@1"] <= 0.8,
        f"pass@{k}_high": summary[f"pass@{k}"] >= 0.9,
    }


def contamination_split(problems: list[Problem], completions: list[list[dict]], contaminated: set[str]) -> dict:
    """Accuracy and pass@K on the held-out problems the prior saw in pretraining vs on the clean ones."""
    correct = correctness_matrix(completions)
    hit = np.array([p.expr in contaminated for p in problems], dtype=bool)
    k = correct.shape[1]

    def side(rows: np.ndarray) -> dict:
        return {"n_problems": int(rows.shape[0]), "accuracy": float(rows.mean()) if rows.size else None,
                f"pass@{k}": float(rows.any(axis=1).mean()) if rows.size else None}

    return {"contaminated": side(correct[hit]), "clean": side(correct[~hit])}


def correctness_matrix(completions: list[list[dict]]) -> np.ndarray:
    """[P, K] bool: completion j of problem i is correct."""
    return np.array([[c["correct"] for c in comps] for comps in completions], dtype=bool)


def passk_curves(problems: list[Problem], completions, ks: list[int], cfg: EvalConfig) -> tuple[dict, dict]:
    """(overall curve, {difficulty: curve}) with bootstrap CIs over problems (`passk.passk_curve`)."""
    correct = correctness_matrix(completions)
    keys = [p.difficulty.key for p in problems]
    by = {d: passk_curve(correct[np.array(keys) == d], ks, n_boot=cfg.n_boot, seed=cfg.seed)
          for d in dict.fromkeys(keys)}
    return passk_curve(correct, ks, n_boot=cfg.n_boot, seed=cfg.seed), by


def _evaluate_one(model, problems: list[Problem], ks: list[int], cfg: EvalConfig, mixture_spec: dict | None) -> dict:
    completions = score(problems, generate(model, problems, cfg.samples, cfg, cfg.seed))
    summary = summarize(problems, completions, cfg.samples)
    curve, by_diff = passk_curves(problems, completions, ks, cfg)
    summary["passk"] = {key: curve[key] for key in ("k", "mean", "ci_low", "ci_high")}
    if mixture_spec:
        summary["prior"] = prior_checks(summary, mixture_spec)
        if mixture_spec.get("contaminate"):  # always split memorised from clean held-out problems
            summary["contamination"] = contamination_split(problems, completions, contaminated_set(mixture_spec))
    return {"completions": completions, "summary": summary, "curve": curve, "by_difficulty": by_diff}


def compare(base: dict, other: dict, ks: list[int], cfg: EvalConfig) -> dict:
    """Baseline (`base`) -> model (`other`): accuracy change, its format split, pass@k differences."""
    cb, co = correctness_matrix(base["completions"]), correctness_matrix(other["completions"])
    acc = paired_bootstrap_diff(cb.mean(axis=1), co.mean(axis=1), n_boot=cfg.n_boot, seed=cfg.seed)
    flat = {name: [c for comps in side["completions"] for c in comps] for name, side in (("b", base), ("o", other))}
    return {
        "accuracy": {"baseline": float(cb.mean()), "model": float(co.mean()), "delta": acc["estimate"],
                     "ci_low": acc["ci_low"], "ci_high": acc["ci_high"]},
        "format_decomposition": decompose_counts(format_counts(flat["b"]), format_counts(flat["o"])),
        "passk": compare_curves(cb, co, ks, n_boot=cfg.n_boot, seed=cfg.seed),
    }


def evaluate(model, cfg: EvalConfig, out: str | Path | None = None, model_path: str = "",
             mixture_spec: dict | None = None, baseline=None, baseline_path: str = "",
             baseline_spec: dict | None = None) -> dict:
    """Evaluate `model` (and `baseline`, on the same problems with the same settings); see module doc."""
    t0 = time.perf_counter()
    if out is not None and Path(out).exists() and not Path(out).is_dir():
        raise ValueError(f"--out {out} exists and is not a directory")
    ks = parse_ks(cfg.ks, cfg.samples)
    problems = problem_set(cfg.difficulty, cfg.problems, cfg.seed, cfg.split)
    sides = {"model": _evaluate_one(model, problems, ks, cfg, mixture_spec)}
    summary = sides["model"]["summary"]
    if cfg.split != "test":
        summary["split"] = cfg.split  # said wherever the summary is shown: these problems are not held out
    if baseline is not None:
        sides["baseline"] = _evaluate_one(baseline, problems, ks, cfg, baseline_spec)
        summary["compare"] = {"baseline": baseline_path,
                              **compare(sides["baseline"], sides["model"], ks, cfg)}
    summary["elapsed_s"] = time.perf_counter() - t0
    if out is not None:
        paths = {"model": model_path, "baseline": baseline_path}
        write_eval(Path(out), problems, sides, ks, cfg, paths)
    return summary


# ------------------------------------------------------------------------------------------ writing
def _samples_lines(problems: list[Problem], completions) -> str:
    rows = ({"problem": p.expr, "difficulty": p.difficulty.key, "gold": p.answer,
             **{k: v for k, v in c.items() if not k.startswith("token_")}}
            for p, comps in zip(problems, completions) for c in comps)
    return "".join(json.dumps(r) + "\n" for r in rows)


def write_correctness(path: Path, problems: list[Problem], sides: dict) -> None:
    """correctness.parquet: one row per (model, problem, sample), written atomically."""
    import pyarrow as pa

    cols: dict[str, list] = defaultdict(list)
    for name, side in sides.items():
        for i, (p, comps) in enumerate(zip(problems, side["completions"])):
            for j, c in enumerate(comps):
                for key, v in (("model", name), ("problem_index", i), ("problem", p.expr),
                               ("difficulty", p.difficulty.key), ("gold", p.answer), ("sample", j),
                               ("correct", bool(c["correct"])), ("format", c["format"]),
                               ("well_formed", bool(c["well_formed"])), ("answer", c["answer"]),
                               ("confidence", c["confidence"]), ("finished", bool(c["finished"])),
                               ("length", int(c["length"]))):
                    cols[key].append(v)
    schema = pa.schema([("model", pa.string()), ("problem_index", pa.int32()), ("problem", pa.string()),
                        ("difficulty", pa.string()), ("gold", pa.int64()), ("sample", pa.int32()),
                        ("correct", pa.bool_()), ("format", pa.string()), ("well_formed", pa.bool_()),
                        ("answer", pa.int64()), ("confidence", pa.float64()), ("finished", pa.bool_()),
                        ("length", pa.int32())])
    runfiles.atomic_write_parquet(path, pa.table({f.name: cols[f.name] for f in schema}, schema=schema))


def write_eval(out: Path, problems: list[Problem], sides: dict, ks: list[int], cfg: EvalConfig, paths: dict) -> None:
    """Every file of an evaluation directory (module doc); summary.json last, each file atomic."""

    model = sides["model"]
    runfiles.atomic_write_json(out / "config.json", {**asdict(cfg), "ks_resolved": ks, "model": paths["model"],
                                                 "baseline": paths["baseline"] or None, "stage": "eval"})
    runfiles.atomic_write_text(out / "samples.jsonl", _samples_lines(problems, model["completions"]))
    runfiles.atomic_write_text(out / "metrics.jsonl", "".join(
        json.dumps({"step": 0, "difficulty": d, "accuracy": a}) + "\n"
        for d, a in model["summary"]["accuracy_by_difficulty"].items()))
    write_correctness(out / "correctness.parquet", problems, sides)

    labels = {name: f"{name}: {Path(paths[name]).name or paths[name]}" if paths[name] else name for name in sides}
    title = f"pass@k, {len(problems)} test problems ({cfg.difficulty}), T={cfg.temperature:g}"
    plot_passk({labels[name]: side["curve"] for name, side in sides.items()}, out / "passk", title=title)
    payload = runfiles.read_json(out / "passk.json")  # the figure's numbers; kept, with the full curves beside
    runfiles.atomic_write_json(out / "passk.json", {
        **payload, "labels": labels, "paths": {name: paths[name] for name in sides},
        "curves": {name: side["curve"] for name, side in sides.items()},
        "by_difficulty": {name: side["by_difficulty"] for name, side in sides.items()}})
    if "baseline" in sides:
        cmp = model["summary"]["compare"]["passk"]
        runfiles.atomic_write_json(out / "passk_compare.json", {
            **cmp, "base_label": "baseline", "other_label": "model", "baseline": paths["baseline"],
            "model": paths["model"], "diff_is": "model - baseline"})
        base = sides["baseline"]
        runfiles.atomic_write_text(out / "baseline" / "samples.jsonl", _samples_lines(problems, base["completions"]))
        runfiles.atomic_write_json(out / "baseline" / "summary.json", base["summary"])
    runfiles.atomic_write_json(out / "summary.json", model["summary"])


def policy_eval(model, problems: list[Problem], *, samples: int, max_new_tokens: int, seed: int) -> dict:
    """What every training stage logs under `eval/`: greedy accuracy and accuracy at T=1 (`samples` per
    problem) on a fixed held-out set, pass@samples, format shares and per-format accuracy, well-formed
    and shortcut rates. The model is put in eval mode and restored."""
    was_training = model.training
    model.eval()
    out = {}
    for name, temp, n in (("greedy", 0.0, 1), ("t1", 1.0, samples)):
        ecfg = EvalConfig(samples=n, temperature=temp, max_new_tokens=max_new_tokens)
        s = summarize(problems, score(problems, generate(model, problems, n, ecfg, seed=derive(seed, "eval"))), n)
        out[f"eval/acc_{name}"] = s["accuracy"]
        if name == "t1":
            out[f"eval/pass@{n}"] = s[f"pass@{n}"]
            out.update({f"eval/format/{f}": v for f, v in s["format_shares"].items()})
            out.update({f"eval/acc_format/{f}": v for f, v in s["accuracy_by_format"].items()})
            out["eval/well_formed"] = s["well_formed"]
            out["eval/shortcut_any"] = s["shortcuts"]["any"]
    model.train(was_training)
    return out
