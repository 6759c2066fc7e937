import json
from pathlib import Path

import pytest

from priorlab.math.data import DataError, load_data, read_records
from tests.conftest import FIXTURES, SHARED_DATA


def write_lines(path: Path, lines) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


# ---------------------------------------------------------------------------------- built-in layouts
# On the small benchmark-shaped files in tests/fixtures, then (marker shared_data) on the real files.


def test_math_layout_detected():
    ds = load_data(FIXTURES / "math500_sample.jsonl")
    assert (ds.layout, ds.style, len(ds), ds.skipped) == ("math", "math", 14, [])
    ex = ds.examples[0]
    assert ex.id == "test/precalculus/901.json" and ex.line == 1
    assert ex.question.startswith("Convert the point $(-2,0)$")
    assert ex.answer == "\\left( 2, \\pi \\right)" and ex.solution.endswith("\\right)}.$")
    by_id = {e.id: e.answer for e in ds.examples}
    # answers are kept as written: text, intervals, sets
    assert by_id["test/number_theory/906.json"] == "\\text{Friday}"
    assert by_id["test/algebra/905.json"] == "(-\\infty,4)\\cup(4,\\infty)"
    assert by_id["test/number_theory/914.json"] == "\\{-1,0,1\\}"


def test_gsm8k_layout_extracts_final_number():
    ds = load_data(FIXTURES / "gsm8k_sample.jsonl")
    assert (ds.layout, ds.style, len(ds)) == ("gsm8k", "gsm8k", 10)
    ex = ds.examples[0]
    assert ex.answer == "33" and ex.raw_answer.endswith("#### 33") and ex.solution == ex.raw_answer
    assert ex.id == "1"  # no id field: the line number
    assert [e.answer for e in ds.examples[1:5]] == ["1728", "450", "150", "4000"]  # '#### 1,728' -> '1728'
    assert all(e.answer.isdigit() for e in ds.examples)


def test_aime_layout_integer_golds():
    ds = load_data(FIXTURES / "aime_sample.jsonl", layout="aime")
    assert (ds.style, len(ds)) == ("int", 10)
    assert ds.examples[0].id == "1" and ds.examples[0].answer == "24"  # '024'
    raw = {e.raw_answer: e.answer for e in ds.examples}
    assert (raw["025"], raw["000"], raw["999"]) == ("25", "0", "999")
    assert raw["36"] == "36"  # a JSON number, read as text
    assert all(0 <= int(e.answer) <= 999 for e in ds.examples)


def test_limit_keeps_first_examples():
    assert [e.line for e in load_data(FIXTURES / "math500_sample.jsonl", limit=3).examples] == [1, 2, 3]


@pytest.mark.shared_data
def test_real_math500_layout_detected():
    ds = load_data(SHARED_DATA / "math500.jsonl")
    assert (ds.layout, ds.style, len(ds), ds.skipped) == ("math", "math", 500, [])
    ex = ds.examples[0]
    assert ex.id == "test/precalculus/807.json" and ex.line == 1
    assert ex.question.startswith("Convert the point $(0,3)$")
    assert ex.answer == "\\left( 3, \\frac{\\pi}{2} \\right)" and ex.solution.endswith("\\right)}.$")


@pytest.mark.shared_data
def test_real_gsm8k_layout_extracts_final_number():
    ds = load_data(SHARED_DATA / "gsm8k_test.jsonl")
    assert (ds.layout, ds.style, len(ds)) == ("gsm8k", "gsm8k", 1319)
    ex = ds.examples[0]
    assert ex.answer == "18" and ex.raw_answer.endswith("#### 18") and ex.solution == ex.raw_answer
    assert ex.id == "1"  # no id field: the line number
    assert all(e.answer.lstrip("-").isdigit() for e in ds.examples)  # '1,450,000' -> '1450000'


@pytest.mark.shared_data
def test_real_aime_layout_integer_golds():
    ds = load_data(SHARED_DATA / "aime24.jsonl", layout="aime")
    assert (ds.style, len(ds)) == ("int", 30)
    assert ds.examples[0].id == "60" and ds.examples[0].answer == "204"
    assert {e.raw_answer: e.answer for e in ds.examples}["025"] == "25"


@pytest.mark.shared_data
def test_real_limit_keeps_first_examples():
    assert [e.line for e in load_data(SHARED_DATA / "math500.jsonl", limit=3).examples] == [1, 2, 3]


# ------------------------------------------------------------------------------- field mapping, Parquet


def test_field_mapping_jsonl(tmp_path):
    f = write_lines(tmp_path / "d.jsonl", [{"prompt": "1+1?", "target": 2, "uid": "a"},
                                           {"prompt": "2+2?", "target": "4"}])
    ds = load_data(f, question_field="prompt", answer_field="target")
    assert [(e.question, e.answer) for e in ds.examples] == [("1+1?", "2"), ("2+2?", "4")]
    assert ds.fields == {"question": "prompt", "answer": "target", "solution": "solution"}


def test_parquet_with_field_mapping(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"q": ["What is 6*7?", "What is 2+2?"], "a": ["#### 42", "####4"]}), path)
    ds = load_data(path, layout="gsm8k", question_field="q", answer_field="a")
    assert [e.answer for e in ds.examples] == ["42", "4"] and [e.line for e in ds.examples] == [1, 2]


def test_unreadable_parquet_is_a_data_error(tmp_path):
    path = tmp_path / "d.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match="unreadable Parquet"):
        load_data(path)


# ------------------------------------------------------------------------------------ malformed records

MIXED = [
    {"problem": "p1", "answer": "1"},         # line 1: good
    "{oops",                                  # line 2: invalid JSON
    "",                                       # line 3: blank, not a record
    {"problem": "p4"},                        # line 4: no answer field
    ["a", "list"],                            # line 5: not an object
    {"problem": "", "answer": "1"},           # line 6: empty question
    {"problem": "p7", "answer": None},        # line 7: answer not text
    {"problem": "p8", "answer": "\\frac12"},  # line 8: good
]


def test_malformed_records_rejected_with_line_numbers(tmp_path):
    f = write_lines(tmp_path / "m.jsonl", MIXED)
    with pytest.raises(DataError) as e:
        load_data(f)
    msg = str(e.value)
    assert msg.startswith(f"{f}: 5 malformed record(s): line 2: invalid JSON")
    for part in ("line 4: no answer field 'answer'", "line 5: not a JSON object but list",
                 "line 6: question field 'problem' is empty", "line 7: answer field 'answer' is NoneType"):
        assert part in msg
    assert "on_error='skip'" in msg


def test_malformed_records_skipped_and_listed(tmp_path):
    f = write_lines(tmp_path / "m.jsonl", MIXED)
    ds = load_data(f, on_error="skip")
    assert [e.line for e in ds.examples] == [1, 8]
    assert [b.line for b in ds.skipped] == [2, 4, 5, 6, 7]
    assert ds.describe_skipped(limit=1) == f"skipped 5 malformed record(s) of {f}: line 2: invalid JSON " \
        "(Expecting property name enclosed in double quotes at column 2); ... and 4 more"


def test_unusable_gold_is_malformed(tmp_path):
    f = write_lines(tmp_path / "g.jsonl", [{"question": "q", "answer": "work #### 5"},
                                           {"question": "q", "answer": "no final answer"}])
    ds = load_data(f, layout="gsm8k", on_error="skip")
    assert [(b.line, b.reason) for b in ds.skipped] == [(2, "answer field 'answer': no '#### N' final answer")]
    f2 = write_lines(tmp_path / "a.jsonl", [{"problem": "q", "answer": "12.5"}])
    with pytest.raises(DataError, match="line 1: answer field 'answer': gold answer '12.5' is not an integer"):
        load_data(f2, layout="aime")


def test_explicit_solution_field_is_required(tmp_path):
    f = write_lines(tmp_path / "s.jsonl", [{"problem": "q", "answer": "1"}])
    assert load_data(f).examples[0].solution is None  # the layout's own solution field is optional
    with pytest.raises(DataError, match="no solution field 'work'"):
        load_data(f, solution_field="work")


def test_no_usable_records_and_bad_arguments(tmp_path):
    f = write_lines(tmp_path / "e.jsonl", ["{bad"])
    with pytest.raises(DataError, match="no usable records"):
        load_data(f, on_error="skip")
    with pytest.raises(DataError, match="data file not found"):
        load_data(tmp_path / "missing.jsonl")
    with pytest.raises(DataError, match="unknown data layout 'mmlu'"):
        load_data(f, layout="mmlu")
    with pytest.raises(DataError, match="on_error='ignore'"):
        load_data(f, on_error="ignore")


def test_non_utf8_file(tmp_path):
    f = tmp_path / "b.jsonl"
    f.write_bytes(b'{"problem": "x", "answer": "1"}\n\xff\xfe\n')
    with pytest.raises(DataError, match="not UTF-8"):
        list(read_records(f))


def test_hub_id_reads_through_datasets(monkeypatch):
    import datasets

    calls, splits = [], {"HuggingFaceH4/MATH-500": ["test"], "openai/gsm8k": ["train", "test"]}

    def fake_load(name, split):
        calls.append((name, split))
        return [{"problem": "What is $1+1$?", "solution": "$\\boxed{2}$", "answer": "2"},
                {"problem": "What is $2+2$?", "solution": "$\\boxed{4}$", "answer": "4"}]

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    monkeypatch.setattr(datasets, "get_dataset_split_names", lambda name: splits[name])
    ds = load_data("HuggingFaceH4/MATH-500")  # its only split
    assert calls == [("HuggingFaceH4/MATH-500", "test")]
    assert ds.layout == "math" and [e.answer for e in ds.examples] == ["2", "4"] and ds.unit == "row"
    load_data("openai/gsm8k:train", layout="math")
    assert calls[-1] == ("openai/gsm8k", "train")
    with pytest.raises(DataError, match=r"openai/gsm8k: 2 splits \(train, test\) and none named; name one, "
                                        r"e.g. openai/gsm8k:train"):
        load_data("openai/gsm8k")
    assert len(calls) == 2  # nothing loaded without a split


def test_hub_id_offline_is_one_clear_error(monkeypatch):
    import datasets
    import huggingface_hub

    # offline mode, set where the libraries read it (at import), so the test needs no network time-out
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(DataError, match=r"no-such-owner/no-such-set: no such file, and the datasets hub could not"):
        load_data("no-such-owner/no-such-set")


# ------------------------------------------------------------------- datasets objects and save_to_disk folders


def math_rows(n, offset=0):
    return [{"problem": f"What is {k}+1?", "answer": str(k + 1), "solution": f"\\boxed{{{k + 1}}}"}
            for k in range(offset, offset + n)]


def test_in_memory_dataset():
    import datasets

    ds = load_data(datasets.Dataset.from_list(math_rows(3) + [{"problem": "x", "answer": "", "solution": "y"}]),
                   on_error="skip")
    assert [e.answer for e in ds.examples] == ["1", "2", "3"] and [e.line for e in ds.examples] == [1, 2, 3]
    assert (ds.layout, ds.path, ds.unit) == ("math", "<in-memory Dataset>", "row")
    assert ds.describe_skipped() == ("skipped 1 malformed record(s) of <in-memory Dataset>: "
                                     "row 4: answer field 'answer' is empty")
    one = datasets.DatasetDict({"test": datasets.Dataset.from_list(math_rows(2))})
    assert len(load_data(one)) == 2  # a single split is used
    two = datasets.DatasetDict({"train": datasets.Dataset.from_list(math_rows(2)),
                                "test": datasets.Dataset.from_list(math_rows(1))})
    with pytest.raises(DataError, match=r"2 splits \(train, test\) and none named; name one, e.g. ds\['train'\]"):
        load_data(two)
    assert len(load_data(two["test"])) == 1


def test_save_to_disk_folders(tmp_path, monkeypatch):
    import datasets

    datasets.Dataset.from_list(math_rows(3)).save_to_disk(str(tmp_path / "one"))
    assert [e.answer for e in load_data(tmp_path / "one").examples] == ["1", "2", "3"]
    dd = datasets.DatasetDict({"train": datasets.Dataset.from_list(math_rows(4)),
                               "test": datasets.Dataset.from_list(math_rows(2, offset=10))})
    dd.save_to_disk(str(tmp_path / "dd"))
    folder = str(tmp_path / "dd")
    assert [e.answer for e in load_data(f"{folder}:test").examples] == ["11", "12"]
    assert len(load_data(f"{folder}:train")) == 4 and load_data(f"{folder}:train").unit == "row"
    with pytest.raises(DataError, match=rf"{folder}: 2 splits \(train, test\) and none named; "
                                        rf"name one, e.g. {folder}:train"):
        load_data(folder)
    with pytest.raises(DataError, match=r"no split 'dev'; splits: train, test"):
        load_data(f"{folder}:dev")
    monkeypatch.chdir(tmp_path.parent)
    monkeypatch.setattr(datasets, "load_dataset", None)  # `<dir>/dd:test` has a hub id's shape: the folder wins
    assert len(load_data(f"{tmp_path.name}/dd:test")) == 2
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty: a folder, but not one datasets' load_from_disk reads"):
        load_data(tmp_path / "empty")
