import json
import math

import pytest
import torch
from typer.testing import CliRunner

from priorlab.cli.diff import DiffConfig, run_diff, write
from priorlab.common import checkpoints
from priorlab.evals import world_eval as ev
from priorlab.lab import plots
from priorlab.model.gpt import GPT, config_for_size
from priorlab.world.tokenizer import Tokenizer
from tests.conftest import run_cli

TEXTS = {  # what each fake model writes for sample j of a problem with answer a
    "good": lambda a, j: [f"Conf: 9\nA: {a}", f"Code: x=0; x+=1 #1;\nConf: 9\nA: {a + 1}", f"Conf: 2\nA: {a + 1}",
                          f"A: {a}"][j % 4],
    "weak": lambda a, j: [f"Conf: 5\nA: {a + (j % 3 > 0)}", "noise"][j % 2],
}


def fake_generate(model, problems, k, cfg, seed):
    return [[{"text": (t := TEXTS[model](p.answer, j)), "finished": True, "length": len(t) + 1, "logprob": 0.0}
             for j in range(k)] for p in problems]


@pytest.fixture
def run_dirs(tmp_path, monkeypatch):
    """An eval dir (with a baseline), an RL run's metrics.jsonl, and a diff dir, written by the real writers."""
    monkeypatch.setattr(ev, "generate", fake_generate)
    cfg = ev.EvalConfig(problems=5, samples=8, difficulty="2x1,3x1", n_boot=100)
    ev.evaluate("good", cfg, tmp_path / "ev", model_path="runs/rl", baseline="weak", baseline_path="runs/pt")

    rows = [{"step": 0, "eval/acc_t1": 0.5}]  # step 0 holds only the evaluation, as in `rl.loop`
    for s in range(1, 6):
        rows.append({"step": s, "format/direct": 0.2, "format/nl": 0.5 - 0.05 * s, "format/code": 0.25 + 0.05 * s,
                     "format/none": 0.05, "format/well_formed": 0.9, "entropy/all": 0.8,
                     "entropy/planning": 0.6 + 0.01 * s, "entropy/execution": 1.2 - 0.1 * s})
    rows[3]["entropy/planning"] = math.nan  # a step without planning tokens: not drawn, null in the JSON
    (tmp_path / "rl").mkdir()
    (tmp_path / "rl" / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    torch.manual_seed(0)
    gcfg = config_for_size("xs", Tokenizer().vocab_size, 128)
    model = GPT(gcfg)
    meta = {"model_config": gcfg.__dict__, "vocab_version": Tokenizer.version}
    checkpoints.save_weights(tmp_path / "base", model, meta)
    with torch.no_grad():
        model.blocks[0].mlp.c_fc.weight[:10] += 1.0  # 10 rows x 64 = 640 changed entries in blocks.0
    checkpoints.save_weights(tmp_path / "tuned", model, meta)
    dcfg = DiffConfig(base=str(tmp_path / "base"), runs=(str(tmp_path / "tuned"),))
    write(tmp_path / "df", dcfg, run_diff(dcfg))
    return tmp_path


def test_plot_command_draws_every_number_from_the_json_beside_it(run_dirs, monkeypatch):
    from priorlab.cli import app

    drawn = {}
    real_save = plots._save

    def spy(fig, path_stem, data):
        drawn[str(path_stem).rsplit("/", 1)[-1]] = fig
        return real_save(fig, path_stem, data)

    monkeypatch.setattr(plots, "_save", spy)
    out = run_dirs / "figs"
    res = CliRunner().invoke(app, ["plot", *(str(run_dirs / d) for d in ("ev", "rl", "df")), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert set(drawn) == {"passk", "reliability_ev", "reliability_ev_baseline", "formats_rl", "entropy_rl",
                          "sparsity_df"}
    index = json.loads((out / "plots.json").read_text())
    assert [f["stem"] for f in index["figures"]] == list(drawn)
    figure = {stem: json.loads((out / f"{stem}.json").read_text()) for stem in drawn}
    for stem in drawn:
        assert (out / f"{stem}.png").read_bytes()[:4] == b"\x89PNG" and (out / f"{stem}.svg").is_file()

    # pass@k: lines == figure JSON == the eval's passk.json curves
    pk = json.loads((run_dirs / "ev" / "passk.json").read_text())
    series = figure["passk"]["series"]
    assert list(series) == ["model: rl", "baseline: pt"]
    for label, key in zip(series, ("model", "baseline")):
        assert series[label] == {k: pk["curves"][key][k] for k in ("k", "mean", "ci_low", "ci_high")}
    assert [list(ln.get_ydata()) for ln in drawn["passk"].axes[0].get_lines()] == [s["mean"] for s in series.values()]

    # reliability: bins == the summary's calibration report; bar heights == bin accuracies
    # good model, per problem: Conf 9 right, Conf 9 wrong, Conf 2 wrong, no Conf -> 9-bin accuracy .5, 2-bin 0
    cal = json.loads((run_dirs / "ev" / "summary.json").read_text())["calibration"]
    bins = figure["reliability_ev"]["bins"]
    assert [(b["count"], b["accuracy"]) for b in bins] == [(r["count"], r["accuracy"]) for r in cal["reliability"]]
    assert bins[9]["accuracy"] == 0.5 and bins[2]["accuracy"] == 0.0 and figure["reliability_ev"]["ece"] == cal["ece"]
    heights = [p.get_height() for p in drawn["reliability_ev"].axes[0].patches]
    assert heights == [b["accuracy"] for b in bins if b["count"]]
    base_cal = json.loads((run_dirs / "ev" / "baseline" / "summary.json").read_text())["calibration"]
    assert figure["reliability_ev_baseline"]["ece"] == base_cal["ece"]

    # RL run: format shares (well_formed is not a format) and entropies == metrics.jsonl, NaN -> null
    f = figure["formats_rl"]
    assert f["steps"] == [1, 2, 3, 4, 5] and list(f["shares"]) == ["direct", "nl", "code", "none"]
    assert f["shares"]["code"] == pytest.approx([0.3, 0.35, 0.4, 0.45, 0.5])
    e = figure["entropy_rl"]
    assert e["planning"] == [pytest.approx(0.61), pytest.approx(0.62), None, pytest.approx(0.64), pytest.approx(0.65)]
    assert e["execution"] == pytest.approx([1.1, 1.0, 0.9, 0.8, 0.7])
    lines = drawn["entropy_rl"].axes[0].get_lines()
    assert list(lines[1].get_ydata()) == e["execution"]
    assert [None if math.isnan(y) else y for y in lines[0].get_ydata()] == e["planning"]

    # sparsity: 640 of blocks.0's 49,280 parameters changed; bars == JSON == diff.json
    d = json.loads((run_dirs / "df" / "diff.json").read_text())["per_run"][0]["per_layer"]
    s = figure["sparsity_df"]
    assert s["series"]["frac_bf16"] == [d[g]["frac_bf16"] for g in s["groups"]]
    assert d["blocks.0"]["changed_bf16"] == 640 and s["series"]["frac_bf16"][0] == pytest.approx(640 / 49280)
    bars = [p.get_height() for p in drawn["sparsity_df"].axes[0].patches]
    assert bars == [v for m in s["series"] for v in s["series"][m]]


def test_plot_two_evals_share_one_passk_figure(run_dirs, tmp_path):
    import shutil

    shutil.copytree(run_dirs / "ev", tmp_path / "ev2")
    run_cli("plot", run_dirs / "ev", tmp_path / "ev2", "--out", tmp_path / "figs")
    data = json.loads((tmp_path / "figs" / "passk.json").read_text())
    assert list(data["series"]) == ["ev: model: rl", "ev: baseline: pt", "ev2: model: rl", "ev2: baseline: pt"]


@pytest.mark.parametrize("case, message", [("empty", "nothing to plot"), ("missing", "run directory not found"),
                                           ("broken", "line 2 is not JSON")])
def test_plot_bad_input_is_one_error_line_and_no_files(run_dirs, tmp_path, case, message):
    bad = tmp_path / case
    if case == "empty":
        bad.mkdir()
    elif case == "broken":
        bad.mkdir()
        (bad / "metrics.jsonl").write_text('{"step": 1, "format/nl": 1.0}\n{"step": 2, "form\n')
    proc = run_cli("plot", run_dirs / "rl", bad, "--out", tmp_path / "figs", check=False)
    assert proc.returncode == 2 and message in proc.stderr and proc.stderr.startswith("error:")
    assert not (tmp_path / "figs").exists()  # checked before the first figure is written
