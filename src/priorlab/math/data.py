"""Real math benchmarks from JSONL or Parquet files or `datasets`: records in, `Example`s (question, gold) out.

    from priorlab.math.data import load_data
    ds = load_data("math500.jsonl")                                   # layout detected: math
    ds = load_data("gsm8k_test.jsonl", layout="gsm8k")                # gold = the number after '####'
    ds = load_data("my.parquet", question_field="prompt", answer_field="target", on_error="skip")
    ds = load_data(hf_dataset)                                        # an in-memory datasets.Dataset
    ds = load_data("data/gsm8k_disk:test")                            # a save_to_disk folder, split test
    ds = load_data("HuggingFaceH4/MATH-500")                          # a hub id, its only split (network)
    ds.examples[0].question, ds.examples[0].answer, ds.style, ds.skipped   # skipped: [BadRecord(line, reason)]

Sources (`datasets` is in the `hf` extra): a JSONL or Parquet file; a `datasets.Dataset` object; a folder
written by `save_to_disk`, as `FOLDER` or `FOLDER:SPLIT`; a hub id `owner/name[:split]` where no local file or
folder has that name. A `DatasetDict` (a folder, a hub dataset, an object) with one split uses it; with several
and none named it is a `DataError` that lists them -- never a silent default.

Built-in layouts (`LAYOUTS`); `question_field` / `answer_field` / `solution_field` override their fields:

| layout | question field          | answer field                         | solution | grading style |
|--------|-------------------------|--------------------------------------|----------|---------------|
| math   | problem                 | answer (MATH, MATH-500)              | solution | math          |
| gsm8k  | question                | answer: rationale ending `#### N`    | answer   | gsm8k         |
| aime   | problem (else question) | answer: an integer, string or number | solution | int           |

`layout="auto"` picks gsm8k when the first record's `answer` contains `####`, else math. The gold answer of
an `Example` is already extracted for its style (`priorlab.math.grading.gold_answer`: GSM8K's number, the last
\\boxed{} of an answer field that has one, AIME's integer without leading zeros), so a record whose gold
cannot be graded is malformed here, not a silent zero later.

Malformed records -- a line that is not a JSON object, a missing, empty or non-text field, an unusable
gold answer -- are never dropped silently. `on_error="raise"` (the default) reads the whole file, then
raises one `DataError` naming the file, the number of bad records and the first few with their line
numbers (1-based; Parquet and `datasets`: row numbers). `on_error="skip"` keeps the good records and lists every bad one
in `Dataset.skipped`, for the caller to report. Blank lines of a JSONL file are not records. Nothing here
depends on a particular benchmark file; the tests use small fixtures in tests/fixtures/.

Tests: `.venv/bin/pytest tests/test_math_data.py`.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from priorlab.common.failures import first_text
from priorlab.math.grading import gold_answer

LAYOUTS: dict[str, dict] = {
    "math": {"question": ("problem",), "answer": "answer", "solution": "solution", "style": "math"},
    "gsm8k": {"question": ("question",), "answer": "answer", "solution": "answer", "style": "gsm8k"},
    "aime": {"question": ("problem", "question"), "answer": "answer", "solution": "solution", "style": "int"},
}
ID_FIELDS = ("unique_id", "id", "idx", "index")
PARQUET_SUFFIXES = (".parquet", ".pq")
ON_ERROR = ("raise", "skip")
SHOW_BAD = 5  # bad records named in an error message


class DataError(ValueError):
    """A data file is unreadable or has malformed records; the message names the file and the lines."""


@dataclass(frozen=True)
class Example:
    """One problem: `answer` is the gold answer already extracted for `Dataset.style`."""

    id: str
    question: str
    answer: str
    solution: str | None
    line: int  # 1-based line (JSONL) or row (Parquet, datasets) of the source
    raw_answer: str  # the answer field as written (GSM8K: the whole rationale)


@dataclass(frozen=True)
class BadRecord:
    line: int
    reason: str


@dataclass(frozen=True)
class Dataset:
    path: str
    layout: str
    style: str
    fields: dict[str, str | None]
    examples: list[Example]
    skipped: list[BadRecord] = field(default_factory=list)
    unit: str = "line"  # what Example.line counts: JSONL lines, or rows of every other source

    def __len__(self) -> int:
        return len(self.examples)

    def describe_skipped(self, limit: int = SHOW_BAD) -> str:
        """'skipped 2 malformed records of FILE: line 3: ...; line 9: ...' (empty string if none)."""
        if not self.skipped:
            return ""
        return (f"skipped {len(self.skipped)} malformed record(s) of {self.path}: "
                + describe_bad(self.skipped, limit, self.unit))


def record_unit(path) -> str:
    """`line` for a JSONL file, `row` for every other source."""
    if is_hf_dataset(path) or _disk_folder(path) is not None:
        return "row"
    if not Path(path).is_file() and HUB_ID.fullmatch(str(path)):
        return "row"
    return "row" if is_parquet(path) else "line"


def describe_bad(bad: list[BadRecord], limit: int, unit: str) -> str:
    """The first `limit` bad records as one line ("line 3: reason; ..."), with how many more there are."""
    shown = "; ".join(f"{unit} {b.line}: {b.reason}" for b in bad[:limit])
    return shown + (f"; ... and {len(bad) - limit} more" if len(bad) > limit else "")


def is_parquet(path: str | Path) -> bool:
    """Whether `path` names a Parquet file (by its suffix)."""
    return Path(path).suffix.lower() in PARQUET_SUFFIXES


def read_records(path: str | Path) -> Iterator[tuple[int, dict | str]]:
    """(line or row number, record) for each record of a JSONL or Parquet file; a record that is not a
    JSON object comes as the reason string instead. Raises DataError if the file cannot be read at all."""
    if is_hf_dataset(path):
        yield from enumerate(_one_split(path, "the DatasetDict passed", None, "ds[{split!r}]"), start=1)
        return
    folder = _disk_folder(path)
    if folder is not None:
        yield from _disk_records(*folder)
        return
    if not Path(path).is_file() and HUB_ID.fullmatch(str(path)):
        yield from _hub_records(str(path))
        return
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: data file not found")
    if is_parquet(path):
        yield from _parquet_records(path)
        return
    try:
        f = path.open(encoding="utf-8")
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror})") from None
    with f:
        try:
            for n, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as e:
                    yield n, f"invalid JSON ({e.msg} at column {e.colno})"
                    continue
                yield n, rec if isinstance(rec, dict) else f"not a JSON object but {type(rec).__name__}"
        except UnicodeDecodeError as e:
            raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start}); JSONL or Parquet expected") \
                from None


# A `datasets` hub id, used when no local file or folder has that name: owner/name, optionally :split.
HUB_ID = re.compile(r"[\w.-]+/[\w.-]+(:[\w.-]+)?")
NEEDS_DATASETS = "needs the datasets package: pip install 'priorlab[hf]'"


def is_hf_dataset(obj) -> bool:
    """A `datasets.Dataset` or `DatasetDict` object (checked without importing datasets)."""
    ds = sys.modules.get("datasets")
    return ds is not None and isinstance(obj, (ds.Dataset, ds.DatasetDict))


def source_name(path) -> str:
    """How a source is named in messages and in `Dataset.path`."""
    return f"<in-memory {type(path).__name__}>" if is_hf_dataset(path) else str(path)


def _one_split(obj, spec: str, split: str | None, how: str):
    """`obj` if a Dataset, else its split `split`, or its only split; DataError listing the splits otherwise.
    `how` shows how to name a split, formatted with `split`."""
    import datasets

    if isinstance(obj, datasets.Dataset):
        if split is not None:
            raise DataError(f"{spec}: a single Dataset has no splits to choose from (asked for {split!r})")
        return obj
    names = list(obj)
    if split is None and len(names) == 1:
        split = names[0]
    if split is None:
        raise DataError(f"{spec}: {len(names)} splits ({', '.join(names)}) and none named; "
                        f"name one, e.g. {how.format(split=names[0])}")
    if split not in obj:
        raise DataError(f"{spec}: no split {split!r}; splits: {', '.join(names)}")
    return obj[split]


def _disk_folder(path) -> tuple[Path, str | None] | None:
    """(folder, split) when `path` is `FOLDER` or `FOLDER:SPLIT` of an existing folder, else None."""
    if not isinstance(path, (str, Path)):
        return None
    if Path(path).is_dir():
        return Path(path), None
    head, sep, split = str(path).rpartition(":")
    return (Path(head), split) if sep and head and split and Path(head).is_dir() else None


def _disk_records(folder: Path, split: str | None) -> Iterator[tuple[int, dict | str]]:
    """Rows of a folder written by `Dataset.save_to_disk` or `DatasetDict.save_to_disk`, numbered from 1."""
    try:
        import datasets
    except ImportError:
        raise DataError(f"{folder}: a folder; reading one written by save_to_disk {NEEDS_DATASETS}") from None
    try:
        obj = datasets.load_from_disk(str(folder))
    except Exception as e:  # not a save_to_disk folder, a damaged one: datasets raises several kinds
        raise DataError(f"{folder}: a folder, but not one datasets' load_from_disk reads ({first_text(e)[:200]})") \
            from None
    yield from enumerate(_one_split(obj, str(folder), split, f"{folder}:{{split}}"), start=1)


def _hub_records(spec: str) -> Iterator[tuple[int, dict | str]]:
    """Rows of a `datasets` hub dataset `owner/name[:split]`, numbered from 1 (needs the network). Without a
    split, the dataset's only split; several are a DataError that lists them."""
    name, _, split = spec.partition(":")
    try:
        import datasets
    except ImportError:
        raise DataError(f"{spec}: no such file, and reading a hub dataset {NEEDS_DATASETS}") from None
    try:
        if not split:
            names = datasets.get_dataset_split_names(name)
            if len(names) != 1:
                raise DataError(f"{spec}: {len(names)} splits ({', '.join(names)}) and none named; "
                                f"name one, e.g. {name}:{names[0] if names else 'test'}")
            split = names[0]
        rows = datasets.load_dataset(name, split=split)
    except DataError:
        raise
    except Exception as e:  # offline, unknown id, unknown split: datasets raises many kinds
        raise DataError(f"{spec}: no such file, and the datasets hub could not load it ({first_text(e)[:200]})") from None
    yield from enumerate(rows, start=1)


def _parquet_records(path: Path) -> Iterator[tuple[int, dict | str]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as e:
        raise DataError(f"{path}: unreadable Parquet file ({e})") from None
    n = 0
    for batch in pf.iter_batches(batch_size=4096):
        for rec in batch.to_pylist():
            n += 1
            yield n, rec


def _text(rec: dict, name: str, role: str, *, numbers: bool = False) -> str:
    if name not in rec:
        raise ValueError(f"no {role} field {name!r} (fields: {', '.join(map(str, rec)) or 'none'})")
    v = rec[name]
    if numbers and isinstance(v, (int, float)) and not isinstance(v, bool):
        v = str(v)
    if not isinstance(v, str):
        raise ValueError(f"{role} field {name!r} is {type(v).__name__}, not text")
    if not v.strip():
        raise ValueError(f"{role} field {name!r} is empty")
    return v


def _detect(rec: dict) -> str:
    ans = rec.get("answer")
    return "gsm8k" if isinstance(ans, str) and "####" in ans else "math"


def load_data(
    path,
    *,
    layout: str = "auto",
    question_field: str | None = None,
    answer_field: str | None = None,
    solution_field: str | None = None,
    on_error: str = "raise",
    limit: int | None = None,
) -> Dataset:
    """Read problems from `path` -- a JSONL or Parquet file, a `datasets.Dataset`, a save_to_disk folder, a hub id
    (module doc: sources, layouts, fields, errors) -- into a `Dataset`.

    `limit` keeps the first `limit` good examples (malformed records before them are still reported).
    """
    if layout != "auto" and layout not in LAYOUTS:
        raise DataError(f"unknown data layout {layout!r}; valid: auto, {', '.join(LAYOUTS)}")
    if on_error not in ON_ERROR:
        raise DataError(f"on_error={on_error!r} must be one of {', '.join(ON_ERROR)}")
    if limit is not None and limit < 1:
        raise DataError(f"limit={limit} must be >= 1")
    examples: list[Example] = []
    bad: list[BadRecord] = []
    spec = None
    for n, rec in read_records(path):
        if isinstance(rec, str):
            bad.append(BadRecord(n, rec))
            continue
        if spec is None:
            name = _detect(rec) if layout == "auto" else layout
            spec = dict(LAYOUTS[name], layout=name)
        try:
            examples.append(_example(rec, n, spec, question_field, answer_field, solution_field))
        except ValueError as e:
            bad.append(BadRecord(n, str(e)))
        if limit is not None and len(examples) >= limit:
            break
    unit, name = record_unit(path), source_name(path)
    if bad and on_error == "raise":
        raise DataError(f"{name}: {len(bad)} malformed record(s): {describe_bad(bad, SHOW_BAD, unit)} "
                        "(fix them, or skip them with on_error='skip' / --skip-bad)")
    if not examples:
        raise DataError(f"{name}: no usable records" + (f" ({describe_bad(bad, SHOW_BAD, unit)})" if bad else ""))
    assert spec is not None
    fields = {"question": question_field or "/".join(spec["question"]), "answer": answer_field or spec["answer"],
              "solution": solution_field or spec["solution"]}
    return Dataset(name, spec["layout"], spec["style"], fields, examples, bad, unit)


def _example(rec: dict, n: int, spec: dict, qf: str | None, af: str | None, sf: str | None) -> Example:
    if qf is None:
        qf = next((f for f in spec["question"] if f in rec), spec["question"][0])
    question = _text(rec, qf, "question")
    raw = _text(rec, af or spec["answer"], "answer", numbers=True)
    try:
        gold = gold_answer(raw, spec["style"])
    except ValueError as e:
        raise ValueError(f"answer field {af or spec['answer']!r}: {e}") from None
    solution: str | None
    if sf is not None:  # asked for by name: required
        solution = _text(rec, sf, "solution")
    else:
        solution = rec.get(spec["solution"]) if isinstance(rec.get(spec["solution"]), str) else None
    rid = next((rec[f] for f in ID_FIELDS if f in rec and rec[f] is not None), None)
    return Example(str(rid) if rid is not None else str(n), question, gold, solution, n, raw)


@dataclass(frozen=True)
class DataSpec:
    """The `--data` options of `eval`, `rl` and `sft` (the arguments of `load_data`), saved in config.json."""

    path: str
    layout: str = "auto"
    question_field: str | None = None
    answer_field: str | None = None
    solution_field: str | None = None
    skip_bad: bool = False
    limit: int | None = None

    def load(self, log=None) -> Dataset:
        """`load_data` with these options; skipped records are reported through `log` (one line)."""
        ds = load_data(self.path, layout=self.layout, question_field=self.question_field,
                       answer_field=self.answer_field, solution_field=self.solution_field,
                       on_error="skip" if self.skip_bad else "raise", limit=self.limit)
        if ds.skipped and log is not None:
            log(ds.describe_skipped())
        return ds
