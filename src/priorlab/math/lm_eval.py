"""Reading lm-evaluation-harness's per-sample logs (`lm-eval run ... --log_samples`), so that `priorlab grade`
and pass@k work on a model evaluated with lm-eval.

lm-eval writes one `samples_<task>_<date>.jsonl` per task under --output_path: one JSON object per
(document, filter) with `doc_id`, `doc` (the dataset row), `target` (the gold as the task formats it, e.g.
GSM8K's rationale ending in `#### N`), `arguments` (the prompt), `resps` (the model's raw generations:
one list per request, with `repeats: k` k generations), `filtered_resps` (after the task's answer-extraction
filter), `filter` (that filter's name: a task with two filters logs each document twice), `metrics` and
each metric's value, and hashes. priorlab grades the raw generations (`resps`) itself, so the extraction
is Math-Verify's, the same as for every other input, and keeps one filter's rows (each has the same
`resps`).

    for doc_id, target, generations in samples("samples_gsm8k_2026-01-01T00-00-00.jsonl"): ...
"""

from __future__ import annotations

from pathlib import Path

from priorlab.math.data import BadRecord, read_records

REQUIRED = ("doc_id", "target", "resps")


def looks_like(path: str | Path) -> bool:
    """True when the file's first record has lm-eval's sample keys (doc_id, target, resps)."""
    for _, rec in read_records(path):
        return isinstance(rec, dict) and all(k in rec for k in REQUIRED)
    return False


def generations(rec: dict) -> list[str]:
    """The raw generations of one sample: `resps` flattened ([[g1, ..., gk]] for one request with k repeats)."""
    resps = rec["resps"]
    flat = [g for r in resps for g in (r if isinstance(r, list) else [r])] if isinstance(resps, list) else None
    if not flat or not all(isinstance(g, str) for g in flat):
        raise ValueError("resps is not a list of generated texts (a loglikelihood task has no generations)")
    return flat


def samples(path: str | Path, filter_name: str | None = None) -> tuple[list[dict], list[BadRecord], str | None]:
    """(records, bad records, the filter kept): each kept record is the sample plus `prediction` (its
    generations) and `answer` (its target as text). Rows of other filters than `filter_name` (default: the
    first one in the file) are dropped; a document twice under one filter is an error."""
    rows, bad, seen = [], [], set()
    kept = filter_name
    for n, rec in read_records(path):
        if isinstance(rec, str):
            bad.append(BadRecord(n, rec))
            continue
        missing = [k for k in REQUIRED if k not in rec]
        if missing:
            bad.append(BadRecord(n, f"not an lm-eval sample: no {', '.join(missing)}"))
            continue
        f = rec.get("filter")
        if kept is None:
            kept = f
        if f != kept:
            continue
        try:
            gens = generations(rec)
        except ValueError as e:
            bad.append(BadRecord(n, str(e)))
            continue
        target = rec["target"]
        if isinstance(target, list) and len(target) == 1:
            target = target[0]
        if isinstance(target, (int, float)) and not isinstance(target, bool):
            target = str(target)
        if not isinstance(target, str):
            bad.append(BadRecord(n, f"target is {type(target).__name__}, not text"))
            continue
        if rec["doc_id"] in seen:
            raise ValueError(f"{path}: doc_id {rec['doc_id']} appears twice under filter {kept!r}")
        seen.add(rec["doc_id"])
        rows.append({**rec, "prediction": gens, "answer": target})
    if filter_name is not None and not rows and not bad:
        raise ValueError(f"{path}: no sample logged under filter {filter_name!r}")
    return rows, bad, kept
