import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from priorlab.lab import plots


@pytest.fixture
def drawn(monkeypatch):
    """Capture the matplotlib Figure each plot function saves, to compare its artists with the JSON."""
    figs = []
    real_save = plots._save

    def spy(fig, path_stem, data):
        figs.append(fig)
        return real_save(fig, path_stem, data)

    monkeypatch.setattr(plots, "_save", spy)
    return figs


def check_files(paths: dict) -> dict:
    assert set(paths) == {"png", "svg", "json"}
    assert Path(paths["png"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in Path(paths["svg"]).read_text()
    data = json.loads(Path(paths["json"]).read_text())
    assert data["title"] and data["xlabel"] and data["ylabel"]
    return data


def test_importing_plots_does_not_import_matplotlib():
    code = "import priorlab, priorlab.lab.plots, sys; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_plot_passk_json_equals_input_and_lines(tmp_path, drawn):
    curves = {"base": {"k": [1, 2, 4], "mean": [0.2, 0.35, 0.5], "ci_low": [0.1, 0.3, 0.4],
                       "ci_high": [0.3, 0.4, 0.6], "n_problems": 10},
              "rl": {"k": [1, 2, 4], "mean": [0.6, 0.62, 0.63], "ci_low": [0.5, 0.55, 0.6],
                     "ci_high": [0.7, 0.7, 0.66]}}
    data = check_files(plots.plot_passk(curves, tmp_path / "sub" / "passk"))
    for label, cv in curves.items():
        assert data["series"][label] == {key: cv[key] for key in ("k", "mean", "ci_low", "ci_high")}
    lines = drawn[0].axes[0].get_lines()
    assert [list(ln.get_ydata()) for ln in lines] == [curves["base"]["mean"], curves["rl"]["mean"]]
    assert [list(ln.get_xdata()) for ln in lines] == [[1, 2, 4]] * 2
    assert drawn[0].axes[0].get_xscale() == "log"


def test_plot_passk_rejects_incomplete_curve(tmp_path):
    with pytest.raises(ValueError, match="lacks"):
        plots.plot_passk({"a": {"k": [1], "mean": [0.5]}}, tmp_path / "x")
    with pytest.raises(ValueError, match="expected 2"):
        plots.plot_passk({"a": {"k": [1, 2], "mean": [0.5], "ci_low": [0.4], "ci_high": [0.6]}}, tmp_path / "x")


def test_plot_reliability_json_equals_table(tmp_path, drawn):
    table = [{"bin": 0, "lo": 0.0, "hi": 0.5, "count": 4, "mean_conf": 0.2, "accuracy": 0.25},
             {"bin": 1, "lo": 0.5, "hi": 1.0, "count": 0, "mean_conf": None, "accuracy": None}]
    data = check_files(plots.plot_reliability(table, tmp_path / "rel", ece=0.05))
    assert data["bins"] == [{k: r[k] for k in ("lo", "hi", "count", "mean_conf", "accuracy")} for r in table]
    assert data["ece"] == 0.05 and "0.050" in data["title"]
    bars = drawn[0].axes[0].patches
    assert [b.get_height() for b in bars] == [0.25]  # the empty bin draws nothing


def test_plot_reliability_accepts_a_calibration_report(tmp_path):
    from priorlab.evals.calibration import calibration_report

    report = calibration_report([0.9, 0.1, None], [True, False, True])
    data = check_files(plots.plot_reliability(report, tmp_path / "rel"))
    assert data["ece"] == pytest.approx(report["ece"])  # (|0.9-1| + |0.1-0|)/2 = 0.1
    assert [b["count"] for b in data["bins"]] == [r["count"] for r in report["reliability"]]


def test_plot_format_shares_json_equals_input(tmp_path, drawn):
    steps, shares = [0, 10, 20], {"code": [0.3, 0.5, 0.8], "nl": [0.5, 0.4, 0.2], "direct": [0.2, 0.1, 0.0]}
    data = check_files(plots.plot_format_shares(steps, shares, tmp_path / "fmt"))
    assert data["steps"] == steps and data["shares"] == shares
    assert len(drawn[0].axes[0].collections) == 3  # one stacked area per format
    with pytest.raises(ValueError, match="expected 3"):
        plots.plot_format_shares(steps, {"code": [0.1]}, tmp_path / "bad")


def test_plot_entropy_by_type_json_equals_input_nan_as_null(tmp_path, drawn):
    data = check_files(plots.plot_entropy_by_type([0, 5, 10], [1.2, 0.9, float("nan")],
                                                  np.array([0.4, 0.3, 0.2]), tmp_path / "ent"))
    assert data["steps"] == [0, 5, 10]
    assert data["planning"] == [1.2, 0.9, None]
    assert data["execution"] == [0.4, 0.3, 0.2]
    planning, execution = drawn[0].axes[0].get_lines()
    assert list(execution.get_ydata()) == [0.4, 0.3, 0.2]


def test_plot_sparsity_per_layer_json_equals_input(tmp_path, drawn):
    per_layer = {"blocks.0": {"frac_bf16": 0.1, "frac_fp32": 0.5, "numel": 54},
                 "blocks.1": {"frac_bf16": 0.2, "frac_fp32": 0.6, "numel": 120},
                 "other": {"frac_bf16": 0.05, "frac_fp32": 0.3, "numel": 44}}
    data = check_files(plots.plot_sparsity_per_layer(per_layer, tmp_path / "sp"))
    assert data["groups"] == ["blocks.0", "blocks.1", "other"]
    assert data["labels"] == ["0", "1", "other"]
    assert data["series"] == {"frac_bf16": [0.1, 0.2, 0.05], "frac_fp32": [0.5, 0.6, 0.3]}
    heights = [b.get_height() for b in drawn[0].axes[0].patches]
    assert heights == [0.1, 0.2, 0.05, 0.5, 0.6, 0.3]


def test_plot_sparsity_from_diff_checkpoints(tmp_path):
    import torch
    from safetensors.torch import save_file

    from priorlab.analysis.params import diff_checkpoints

    base = {"blocks.0.w": torch.zeros(4, 4), "head.w": torch.zeros(2)}
    run = {"blocks.0.w": torch.zeros(4, 4), "head.w": torch.tensor([0.0, 1.0])}
    run["blocks.0.w"][0, :2] = 1.0
    for name, state in (("a", base), ("b", run)):
        (tmp_path / name).mkdir()
        save_file(state, str(tmp_path / name / "model.safetensors"))
    per_layer = diff_checkpoints(tmp_path / "a", [tmp_path / "b"], atol=1e-5)["per_run"][0]["per_layer"]
    data = check_files(plots.plot_sparsity_per_layer(per_layer, tmp_path / "sp"))
    # blocks.0: 2 of 16 changed; other (head.w): 1 of 2
    assert data["series"] == {"frac_bf16": [0.125, 0.5], "frac_fp32": [0.125, 0.5], "frac_atol": [0.125, 0.5]}


def _map(axes, verdicts, effects):
    import itertools

    points = list(itertools.product(*(a["values"] for a in axes)))
    cells = [{"at": {a["name"]: v for a, v in zip(axes, p)}, "effect": e, "ci_low": None if e is None else e - 0.1,
              "ci_high": None if e is None else e + 0.1, "verdict": v,
              "gates": [{"name": "clip_frac_random", "value": 0.0 if v == "untestable" else 0.05, "op": ">=",
                         "threshold": 0.01, "passed": v != "untestable"}], "reason": ""}
             for p, v, e in zip(points, verdicts, effects)]
    return {"claim": "spurious-rewards", "preset": "smoke", "axes": axes, "cells": cells, "delta": 0.5,
            "metric": "gain(random) / gain(correct)"}


def test_plot_map_2d_hatches_untestable_cells(tmp_path, drawn):
    axes = [{"name": "updates_per_batch", "values": [1, 4]}, {"name": "prior_share", "values": [0.1, 0.35]}]
    # cells in grid order (first axis slowest): (1, .1) (1, .35) (4, .1) (4, .35)
    m = _map(axes, ["untestable", "untestable", "inconclusive", "reproduced"], [0.0, None, 0.2, 0.8])
    data = check_files(plots.plot_map(m, tmp_path / "map"))
    assert data["x"] == ["1", "4"] and data["y"] == ["0.1", "0.35"] and data["delta"] == 0.5
    # rows are the second axis: row 0 is prior_share .1 -> cells (1, .1) and (4, .1)
    assert [[c["verdict"] for c in row] for row in data["cells"]] == [["untestable", "inconclusive"],
                                                                   ["untestable", "reproduced"]]
    assert [[c["untestable"] for c in row] for row in data["cells"]] == [[True, False], [True, False]]
    assert data["cells"][0][0]["failed_gates"] == [{"name": "clip_frac_random", "value": 0.0, "op": ">=",
                                                    "threshold": 0.01}]
    assert data["cells"][0][1]["failed_gates"] == [] and data["cells"][1][0]["effect"] is None
    ax = drawn[0].axes[0]
    hatched = [p for p in ax.patches if p.get_hatch() == "///"]
    assert sorted((p.get_x() + 0.5, p.get_y() + 0.5) for p in hatched) == [(0, 0), (0, 1)]  # column updates=1
    texts = [t.get_text() for t in ax.texts]
    assert any("gate clip_frac_random\n= 0, needs >= 0.01" in t for t in texts) and any(t.startswith("reproduced\n+0.8") for t in texts)


def test_plot_map_1d_is_one_row(tmp_path, drawn):
    m = _map([{"name": "lr", "values": [1e-5, 3e-5, 1e-4]}], ["reproduced", "untestable", "not reproduced"],
             [0.7, 0.1, -0.2])
    paths = plots.plot_map(m, tmp_path / "row")
    data = json.loads(Path(paths["json"]).read_text())
    assert data["x"] == ["1e-05", "3e-05", "0.0001"] and data["y"] == [""] and len(data["cells"]) == 1
    assert len([p for p in drawn[0].axes[0].patches if p.get_hatch() == "///"]) == 1
    with pytest.raises(ValueError, match="no cell"):
        plots.plot_map({**m, "cells": m["cells"][:2]}, tmp_path / "bad")
