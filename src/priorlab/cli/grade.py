"""`priorlab grade`: grade model outputs in a JSONL or Parquet file against gold answers (Math-Verify).

    priorlab grade outputs.jsonl --prediction-field response --answer-field answer --style math --out runs/g
    priorlab grade gsm8k_outputs.parquet --prediction-field completion --answer-field answer --style gsm8k \\
        --timeout 5 --workers 4 --skip-bad --out runs/g

Each record's prediction field holds a completion (or a list of completions, graded one by one); its answer
field holds the gold answer as the benchmark writes it (MATH's `answer`, GSM8K's rationale ending in
`#### N`, an AIME integer). Extraction, equivalence and the statuses ok / no_answer / timeout / error are
`priorlab.math.grading` (read its module doc). Writes to --out:

    config.json     the resolved inputs
    graded.jsonl    every good input record plus `correct`, `status`, `pred_extracted`, `gold_extracted`,
                    `grade_error` (lists of these when the prediction field is a list); fields of those
                    names already in a record are replaced, and `replaced_fields` in summary.json says so
    summary.json    n, correct, accuracy (failures count as wrong), accuracy_graded (timeouts and errors
                    left out), status_counts, skipped records with their line numbers, Math-Verify version
                    (written last)

lm-evaluation-harness's per-sample logs (`lm-eval run ... --log_samples` writes `samples_<task>_<date>.jsonl`)
are read as they are: `priorlab grade samples_gsm8k_....jsonl --style gsm8k --out runs/g` (the format is
recognised from the keys; `--format lm-eval` says it) grades each sample's raw generations (`resps`) against
its `target`, keeping one filter's rows (`--lm-eval-filter`; see `priorlab.math.lm_eval`). Whenever every
record has the same number n >= 2 of completions (lm-eval's `repeats: n`, or a list field), summary.json
also has `passk`: the unbiased pass@k for k = 1, 2, 4, ..., n with bootstrap CIs over records.

A malformed record (not a JSON object, no prediction or answer field, a prediction that is not text) stops
the command with one error line naming its line number, before anything is written; `--skip-bad` grades
the rest and lists the bad ones in summary.json instead.
"""

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import typer

from priorlab.cli import render
from priorlab.cli.app import app, console
from priorlab.cli.errors import cli_errors
from priorlab.common import runfiles
from priorlab.common.config import require_finite
from priorlab.evals.passk import passk_curve
from priorlab.math import lm_eval
from priorlab.math.data import BadRecord, describe_bad, read_records, record_unit
from priorlab.math.grading import DEFAULT_TIMEOUT, Grade, Grader, check_style, math_verify_version, summarize

OUT_FIELDS = ("correct", "status", "pred_extracted", "gold_extracted", "grade_error")


FORMATS = ("auto", "records", "lm-eval")


@dataclass(frozen=True)
class GradeConfig:
    file: str
    prediction_field: str | None
    answer_field: str | None
    style: str = "math"
    timeout: float = DEFAULT_TIMEOUT
    workers: int | None = None  # Math-Verify worker processes (None: min(4, CPUs))
    skip_bad: bool = False
    format: str = "records"  # records (--prediction-field / --answer-field) or lm-eval (its --log_samples)
    lm_eval_filter: str | None = None  # lm-eval: the filter whose rows are kept (default: the first one)

    def __post_init__(self) -> None:
        require_finite(self)
        check_style(self.style)
        if self.format not in ("records", "lm-eval"):
            raise ValueError(f"--format must be one of {', '.join(FORMATS)}, got {self.format!r}")
        if self.format == "records" and not (self.prediction_field and self.answer_field):
            raise ValueError("--prediction-field and --answer-field are needed (or --format lm-eval for "
                             "lm-evaluation-harness's --log_samples files)")
        if not self.timeout > 0:
            raise ValueError(f"--timeout must be > 0 seconds, got {self.timeout}")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"--workers must be >= 1, got {self.workers}")


def _prediction(rec: dict, name: str) -> str | list[str]:
    if name not in rec:
        raise ValueError(f"no prediction field {name!r} (fields: {', '.join(map(str, rec)) or 'none'})")
    v = rec[name]
    if isinstance(v, str) or (isinstance(v, list) and v and all(isinstance(x, str) for x in v)):
        return v
    raise ValueError(f"prediction field {name!r} is {type(v).__name__}, not text or a non-empty list of texts")


def _answer(rec: dict, name: str) -> str:
    if name not in rec:
        raise ValueError(f"no answer field {name!r} (fields: {', '.join(map(str, rec)) or 'none'})")
    v = rec[name]
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return str(v)
    if not isinstance(v, str):
        raise ValueError(f"answer field {name!r} is {type(v).__name__}, not text")
    return v  # an empty gold is graded as status "error", not rejected here


def grade_file(cfg: GradeConfig) -> tuple[list[dict], dict]:
    """Grade every record; returns (output rows, summary). Raises ValueError on malformed records unless
    `cfg.skip_bad`, in which case they are listed in summary["skipped"]."""
    t0 = time.time()
    rows: list[dict] = []
    preds: list[str | list[str]] = []
    golds: list[str] = []
    bad: list[BadRecord] = []
    lm_filter = None
    if cfg.format == "lm-eval":
        records, bad, lm_filter = lm_eval.samples(cfg.file, cfg.lm_eval_filter)
        for rec in records:
            rows.append({k: v for k, v in rec.items() if k not in ("prediction", "answer")})
            preds.append(rec["prediction"])
            golds.append(rec["answer"])
    for n, raw in read_records(cfg.file) if cfg.format == "records" else ():
        if isinstance(raw, str):
            bad.append(BadRecord(n, raw))
            continue
        try:  # both fields are set for records (GradeConfig's check)
            p, gold = _prediction(raw, str(cfg.prediction_field)), _answer(raw, str(cfg.answer_field))
        except ValueError as e:
            bad.append(BadRecord(n, str(e)))
            continue
        rows.append(raw)
        preds.append(p)
        golds.append(gold)
    unit = record_unit(cfg.file)
    if bad and not cfg.skip_bad:
        raise ValueError(f"{cfg.file}: {len(bad)} malformed record(s): {describe_bad(bad, 5, unit)} "
                         "(fix them or pass --skip-bad)")
    if not rows:
        raise ValueError(f"{cfg.file}: no records to grade" + (f" ({describe_bad(bad, 5, unit)})" if bad else ""))
    flat = [(i, text) for i, p in enumerate(preds) for text in ([p] if isinstance(p, str) else p)]
    with Grader(cfg.style, cfg.timeout, cfg.workers) as grader:
        grades = grader.grade([t for _, t in flat], [golds[i] for i, _ in flat])
    per_row: list[list[Grade]] = [[] for _ in rows]
    for (i, _), grade in zip(flat, grades):
        per_row[i].append(grade)
    out, replaced = [], sorted({f for r in rows for f in OUT_FIELDS if f in r})
    for rec, p, gs in zip(rows, preds, per_row):
        cols: dict[str, list[Any]] = {"correct": [g.correct for g in gs], "status": [g.status for g in gs],
                "pred_extracted": [g.pred for g in gs], "gold_extracted": [g.gold for g in gs],
                "grade_error": [g.error for g in gs]}
        out.append({**rec, **({k: v[0] for k, v in cols.items()} if isinstance(p, str) else cols)})
    summary = {"stage": "grade", "file": cfg.file, "format": cfg.format, "style": cfg.style, "records": len(rows),
               **summarize(grades), "skipped": [asdict(b) for b in bad], "skipped_unit": unit,
               "replaced_fields": replaced, "math_verify": math_verify_version(),
               "elapsed_s": round(time.time() - t0, 3)}
    if cfg.format == "lm-eval":
        summary["lm_eval_filter"] = lm_filter
    summary["passk"] = passk_of(per_row)
    return out, summary


def passk_of(per_row: list[list[Grade]]) -> dict | None:
    """pass@k over the records (unbiased estimator, bootstrap CI over records) when every record has the same
    number n >= 2 of completions; None otherwise (a note of why in `reason`)."""
    ns = {len(gs) for gs in per_row}
    if len(ns) != 1 or min(ns) < 2:
        return {"reason": "pass@k needs the same number (>= 2) of completions per record; got "
                          f"{', '.join(map(str, sorted(ns)))}"}
    correct = np.array([[g.correct for g in gs] for gs in per_row], dtype=bool)
    return passk_curve(correct)


def write(out: Path, cfg: GradeConfig, rows: list[dict], summary: dict) -> None:

    """The grade command's outputs, each written atomically: config.json, graded.jsonl (one row per completion) and
    summary.json."""
    runfiles.atomic_write_json(out / "config.json", {**asdict(cfg), "stage": "grade"})
    runfiles.atomic_write_text(out / "graded.jsonl", "".join(
        json.dumps(runfiles.to_jsonable(r), ensure_ascii=False, default=str) + "\n" for r in rows))
    runfiles.atomic_write_json(out / "summary.json", summary)


@app.command()
@cli_errors
def grade(
    file: Path = typer.Argument(..., help="JSONL or Parquet file of model outputs with gold answers"),
    prediction_field: str | None = typer.Option(None, help="field holding the completion (or a list of them); "
                                                "not with --format lm-eval"),
    answer_field: str | None = typer.Option(None, help="field holding the gold answer as the benchmark writes it; "
                                            "not with --format lm-eval"),
    format: str = typer.Option("auto", "--format", help="records (the two fields above), lm-eval "
                               "(lm-evaluation-harness's --log_samples samples_*.jsonl: resps graded against "
                               "target), or auto (lm-eval when the file has doc_id, target and resps)"),
    lm_eval_filter: str | None = typer.Option(None, help="lm-eval: keep the rows of this filter (default: the "
                                              "first in the file; each filter's rows repeat the same resps)"),
    style: str = typer.Option("math", help="math (\\boxed answers), gsm8k ('#### N' golds) or int (AIME)"),
    timeout: float = typer.Option(DEFAULT_TIMEOUT, help="wall-clock seconds per Math-Verify comparison"),
    workers: int | None = typer.Option(None, help="Math-Verify worker processes (default min(4, CPUs))"),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="skip malformed records (listed in summary.json)"),
    out: Path = typer.Option(..., help="directory for graded.jsonl, summary.json, config.json"),
):
    """Grade completions against gold answers (boxed extraction + Math-Verify, per-item timeout)."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a directory")
    if format not in FORMATS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}, got {format!r}")
    if format == "auto":
        format = "lm-eval" if prediction_field is None and lm_eval.looks_like(file) else "records"
    cfg = GradeConfig(str(file), prediction_field, answer_field, style, timeout, workers, skip_bad, format,
                      lm_eval_filter)
    rows, summary = grade_file(cfg)
    render.grade_warnings(summary, file)
    render.grade_summary(summary)
    write(out, cfg, rows, summary)
    console.print(f"wrote {out}/graded.jsonl")
