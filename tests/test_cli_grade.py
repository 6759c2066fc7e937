import json
from pathlib import Path

import pytest

from priorlab.cli.grade import GradeConfig, grade_file
from tests.conftest import FIXTURES, SHARED_DATA, run_cli


def write_jsonl(path: Path, recs) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in recs))
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_grade_cli_counts_every_status(tmp_path):
    f = write_jsonl(tmp_path / "preds.jsonl", [
        {"id": 0, "out": "so \\boxed{\\frac{2}{4}}", "gold": "\\frac{1}{2}"},  # ok, correct
        {"id": 1, "out": "\\boxed{3}", "gold": "4"},                            # ok, wrong
        {"id": 2, "out": "I don't know", "gold": "4"},                          # no_answer
        {"id": 3, "out": "\\boxed{3}", "gold": "2^{2^{40}}"},                   # timeout (sympy never ends)
        {"id": 4, "out": "\\boxed{1}", "gold": "1/0"},                          # error (Math-Verify raises)
    ])
    out = tmp_path / "g"
    run_cli("grade", f, "--prediction-field", "out", "--answer-field", "gold", "--timeout", 1, "--workers", 2,
            "--out", out)
    s = json.loads((out / "summary.json").read_text())
    assert s["status_counts"] == {"ok": 2, "no_answer": 1, "timeout": 1, "error": 1}
    assert (s["n"], s["correct"], s["accuracy"], s["accuracy_graded"]) == (5, 1, 0.2, 1 / 3)  # 1/5; 1/(5-2)
    rows = read_jsonl(out / "graded.jsonl")
    assert [r["id"] for r in rows] == [0, 1, 2, 3, 4]  # input fields kept, order kept
    assert [r["status"] for r in rows] == ["ok", "ok", "no_answer", "timeout", "error"]
    assert rows[0]["correct"] is True and rows[0]["pred_extracted"] == "\\frac{2}{4}"
    assert rows[2]["pred_extracted"] is None and "longer than 1 s" in rows[3]["grade_error"]
    assert json.loads((out / "config.json").read_text())["timeout"] == 1.0


def test_grade_cli_malformed_line_is_one_error_and_writes_nothing(tmp_path):
    f = write_jsonl(tmp_path / "p.jsonl", [{"out": "\\boxed{1}", "gold": "1"}, "{not json", {"gold": "2"}])
    out = tmp_path / "g"
    proc = run_cli("grade", f, "--prediction-field", "out", "--answer-field", "gold", "--out", out, check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    assert "2 malformed record(s)" in lines[0] and "line 2: invalid JSON" in lines[0]
    assert "line 3: no prediction field 'out'" in lines[0] and "Traceback" not in proc.stderr
    assert not out.exists()


def test_grade_cli_bad_style_exits_2(tmp_path):
    f = write_jsonl(tmp_path / "p.jsonl", [{"out": "\\boxed{1}", "gold": "1"}])
    proc = run_cli("grade", f, "--prediction-field", "out", "--answer-field", "gold", "--style", "latex",
                   "--out", tmp_path / "g", check=False)
    assert proc.returncode == 2 and "unknown grading style 'latex'" in proc.stderr
    assert not (tmp_path / "g").exists()


def test_skip_bad_lists_skipped_lines(tmp_path):
    f = write_jsonl(tmp_path / "p.jsonl", [{"out": "\\boxed{1}", "gold": "1"}, "[1, 2]", "",
                                           {"out": None, "gold": "2"}, {"out": "\\boxed{2}", "gold": 2}])
    _, s = grade_file(GradeConfig(str(f), "out", "gold", skip_bad=True))
    # line 3 is blank (not a record); line 2 is not an object; line 4 has no text prediction
    assert s["skipped"] == [{"line": 2, "reason": "not a JSON object but list"},
                            {"line": 4, "reason": "prediction field 'out' is NoneType, not text or a non-empty "
                                                  "list of texts"}]
    assert (s["n"], s["correct"]) == (2, 2)  # a numeric gold (2) is read as text


def test_list_predictions_are_graded_one_by_one(tmp_path):
    f = write_jsonl(tmp_path / "p.jsonl", [{"outs": ["\\boxed{4}", "\\boxed{5}", "none"], "gold": "4",
                                            "status": "old"}])
    rows, s = grade_file(GradeConfig(str(f), "outs", "gold", style="int"))
    assert rows[0]["correct"] == [True, False, False] and rows[0]["status"] == ["ok", "ok", "no_answer"]
    assert s["n"] == 3 and s["accuracy"] == 1 / 3 and s["replaced_fields"] == ["status"]


def test_parquet_input(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"completion": ["... #### 18", "\\boxed{17}"],
                             "answer": ["rationale\n#### 18", "rationale\n#### 18"]}), path)
    rows, s = grade_file(GradeConfig(str(path), "completion", "answer", style="gsm8k"))
    assert [r["correct"] for r in rows] == [True, False] and s["skipped_unit"] == "row"


@pytest.mark.parametrize("path, n", [
    pytest.param(FIXTURES / "gsm8k_sample.jsonl", 10, id="fixture"),
    pytest.param(SHARED_DATA / "gsm8k_test.jsonl", 1319, id="shared-data", marks=pytest.mark.shared_data),
])
def test_grade_cli_on_gsm8k_reference_rationales(tmp_path, path, n):
    out = tmp_path / "g"
    proc = run_cli("grade", path, "--prediction-field", "answer", "--answer-field", "answer", "--style", "gsm8k",
                   "--out", out)
    s = json.loads((out / "summary.json").read_text())
    assert (s["n"], s["correct"], s["math_verify"]) == (n, n, "0.9.0")
    assert f"accuracy 1.0000 ({n}/{n})" in proc.stdout
