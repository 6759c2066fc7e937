import json
from pathlib import Path

import pytest

from priorlab.claims import CLAIM_IDS, get_claim
from priorlab.claims.base import PRESETS
from priorlab.claims.knobs import KNOBS
from priorlab.claims.spurious_rewards import PROTOCOL
from priorlab.lab import maps
from priorlab.lab.maps import Axis, check_axes, check_used, default_axes, grid, parse_axis
from tests.conftest import run_cli


def test_parse_axis():
    assert parse_axis("lr=1e-5, 3e-5") == Axis("lr", (1e-5, 3e-5))
    assert parse_axis("updates_per_batch=1,4x2,8") == Axis("updates_per_batch", (1, "4x2", 8))
    assert parse_axis("size=xs,s") == Axis("size", ("xs", "s"))
    assert parse_axis("tokens=100_000,2e5").values == (100_000, 200_000)
    assert parse_axis("difficulty=3x1,5x1").values == ("3x1", "5x1")


@pytest.mark.parametrize("spec, needle", [
    ("lr", "expected NAME=v1,v2"), ("=1,2", "expected NAME=v1,v2"), ("lr=", "--axis lr: no values"),
    ("speed=1,2", "--axis speed: unknown; valid: updates_per_batch, lr"), ("lr=1e-5,abc", "--axis lr: 'abc'"),
    ("lr=1e-5,0.00001", "--axis lr: values repeat"), ("prior_share=0.2,2", "--axis prior_share: '2'"),
])
def test_parse_axis_errors_are_one_line_naming_the_axis(spec, needle):
    with pytest.raises(ValueError) as e:
        parse_axis(spec)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_grid_and_axis_count():
    axes = [parse_axis("updates_per_batch=1,4"), parse_axis("prior_share=0.1,0.35,0.6")]
    cells = grid(axes)
    assert len(cells) == 6 and cells[0] == {"updates_per_batch": 1, "prior_share": 0.1}
    assert cells[1] == {"updates_per_batch": 1, "prior_share": 0.35}  # the first axis varies slowest
    assert maps.slug(cells[1]) == "updates_per_batch=1,prior_share=0.35"
    with pytest.raises(ValueError, match="1 or 2 axes, got 3"):
        check_axes([*axes, parse_axis("lr=1e-5,1e-4")])
    with pytest.raises(ValueError, match="lr is given twice"):
        check_axes([parse_axis("lr=1e-5"), parse_axis("lr=1e-4")])


def test_every_claim_has_a_default_map_whose_axes_change_its_jobs():
    assert set(maps.DEFAULT_MAPS) == set(CLAIM_IDS)
    assert maps.DEFAULT_MAPS["spurious-rewards"] == ("updates_per_batch", "prior_share")
    assert maps.DEFAULT_MAPS["update-sparsity"] == ("lr", "rl_steps")
    assert maps.DEFAULT_MAPS["hard-samples"] == ("difficulty",) and maps.DEFAULT_MAPS["passk-boundary"] == ("rl_steps",)
    assert set(maps.DEFAULT_VALUES) == set(KNOBS)
    for preset in ("smoke", "quick"):
        for claim in CLAIM_IDS:
            axes = default_axes(claim, preset)
            check_axes(axes)
            check_used(claim, get_claim(claim), PRESETS[preset], axes, [0, 1])  # raises if a dial is not wired
            assert all(len(a.values) <= 5 for a in axes)


def test_an_axis_the_claim_does_not_use_is_an_error():
    # imitation-then-rl's student is nl-prior, which holds no code: prior_share cannot act on it
    with pytest.raises(ValueError, match="--axis prior_share: changes no run of imitation-then-rl"):
        check_used("imitation-then-rl", get_claim("imitation-then-rl"), PRESETS["smoke"],
                   [parse_axis("prior_share=0.1,0.2")], [0, 1])
    # hard-samples names both of its RL difficulties itself, but its hardest-only arm follows the knob
    check_used("hard-samples", get_claim("hard-samples"), PRESETS["smoke"], [parse_axis("difficulty=4x1,6x1")], [0])


def test_cell_of_keeps_every_gate_value():
    entry = {"verdict": "untestable", "reason": "gate x", "effect": 0.1, "ci_low": -0.2, "ci_high": 0.4,
             "mechanism_active": False, "plots": ["maps/c/p.png"], "metrics": {"m": 1},
             "gates": [{"name": "x", "value": 0.001, "op": ">=", "threshold": 0.01, "passed": False, "why": "..."},
                       {"name": "y", "value": None, "op": "<=", "threshold": 0.8, "passed": False, "why": "..."},
                       {"name": "z", "value": 0.5, "op": ">", "threshold": 0.0, "passed": True, "why": "..."}]}
    c = maps.cell_of({"lr": 1e-5}, entry)
    assert c["at"] == {"lr": 1e-5} and c["failed_gates"] == ["x", "y"]
    assert [g["value"] for g in c["gates"]] == [0.001, None, 0.5] and "why" not in c["gates"][0]


@pytest.mark.slow
def test_map_end_to_end_and_resume(tmp_path):
    out = tmp_path / "rt"
    args = ("retest", "--map", "spurious-rewards", "--axis", "lr=1e-5,3e-5", "--preset", "smoke", "--out", out,
            "--quiet")
    proc = run_cli(*args, timeout=1500)
    m = json.loads((out / "maps" / "spurious-rewards.json").read_text())
    assert m["axes"][0]["name"] == "lr" and m["axes"][0]["values"] == [1e-5, 3e-5]
    assert [c["at"] for c in m["cells"]] == [{"lr": 1e-5}, {"lr": 3e-5}]
    names = [g.name for g in PROTOCOL.gates]
    for c in m["cells"]:
        assert c["verdict"] in ("reproduced", "not reproduced", "inconclusive", "untestable")
        assert [g["name"] for g in c["gates"]] == names and all("value" in g for g in c["gates"])
        assert c["failed_gates"] == [g["name"] for g in c["gates"] if not g["passed"]]
        assert (c["verdict"] == "untestable") == bool(c["failed_gates"])
        assert all((out / p).is_file() for p in c["plots"])
    assert (out / m["heatmap"]["png"]).is_file() and (out / m["heatmap"]["svg"]).is_file()
    rep = json.loads((out / "report.json").read_text())
    assert [e["claim"] for e in rep["maps"]] == ["spurious-rewards"] and rep["maps"][0]["cells"] == 2
    html = (out / "report.html").read_text()
    assert "Regime map: lr (1e-05, 3e-05)" in html and "data:image/png;base64," in html
    assert "2 cells" in proc.stdout
    # the same command again: every run is found in the cache, only the analysis is redone
    n_jobs = len(list((out / "jobs").iterdir()))
    proc = run_cli(*args)
    assert f"{n_jobs} runs, {n_jobs} cached; estimated 0 min" in " ".join(proc.stdout.split())
    assert len(list((out / "jobs").iterdir())) == n_jobs
    again = json.loads((out / "maps" / "spurious-rewards.json").read_text())
    assert [c["effect"] for c in again["cells"]] == [c["effect"] for c in m["cells"]]


def _fake_map(tmp_path, claim):
    from priorlab.lab.plots import plot_map

    cells = [{"at": {"lr": lr}, "effect": 0.1, "ci_low": -0.1, "ci_high": 0.3, "verdict": v, "reason": "",
              "gates": [], "failed_gates": [], "plots": []}
             for lr, v in ((1e-5, "inconclusive"), (3e-5, "untestable"))]
    m = {"claim": claim, "preset": "smoke", "seeds": [0, 1], "axes": [{"name": "lr", "values": [1e-5, 3e-5]}],
         "metric": "effect", "delta": 0.5, "cells": cells, "created": "now", "engine": "local", "elapsed_s": 1.0,
         "versions": {"code": "x", "torch": "y"}}
    stem = tmp_path / "maps" / f"{claim}-heatmap"
    m["heatmap"] = {k: str(Path(p).relative_to(tmp_path)) for k, p in plot_map(m, stem).items() if k != "json"}
    (tmp_path / "maps" / f"{claim}.json").write_text(json.dumps(m))
    return m


def test_maps_join_the_report_and_survive_a_retest_into_the_same_out(tmp_path):
    m = _fake_map(tmp_path, "one-shot")
    maps.add_to_report(tmp_path, m, PRESETS["smoke"])  # no retest here yet: a report with maps only
    rep = json.loads((tmp_path / "report.json").read_text())
    assert rep["claims"] == [] and rep["maps"] == [maps.report_entry(m)]
    assert rep["maps"][0]["verdicts"] == {"inconclusive": 1, "untestable": 1}
    html = (tmp_path / "report.html").read_text()
    assert '<section id="maps">' in html and "Regime map: lr (1e-05, 3e-05)" in html and 'class="map"' in html
    maps.add_to_report(tmp_path, m, PRESETS["smoke"])  # the same claim again replaces its map
    assert len(json.loads((tmp_path / "report.json").read_text())["maps"]) == 1
    assert maps.kept_maps(tmp_path) == rep["maps"]
    (tmp_path / "maps" / "one-shot.json").unlink()
    assert maps.kept_maps(tmp_path) == []  # a map whose file is gone is not carried into a new report
