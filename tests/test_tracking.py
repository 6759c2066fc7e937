"""--report-to: metrics rows go to TensorBoard and W&B (offline) under metrics.jsonl's names, config.json as
hyperparameters; read back from the files each tool writes."""

import json

import pytest

from priorlab.common import tracking
from priorlab.common.runfiles import MetricsLog
from tests.conftest import run_cli

PT = ["pretrain", "--mixture", "code-prior", "--size", "xs", "--tokens", 16 * 64 * 8, "--batch-size", 16,
      "--seq-len", 64, "--eval-every", 4, "--ckpt-every", 4, "--no-cache", "--quiet"]


def wandb_records(path):
    """The protobuf records of a W&B offline run file (`run-*.wandb`: a ':W&B' header, then LevelDB-log blocks
    of 32 KiB, each record a 7-byte header -- crc, length, type -- and its bytes; types 1 full, 2-4 split)."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, block, buf = 7, 32768, b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:
            pos += block - pos % block
            continue
        length, kind = int.from_bytes(data[pos + 4:pos + 6], "little"), data[pos + 6]
        buf += data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):
            rec = wandb_internal_pb2.Record()
            rec.ParseFromString(buf)
            buf = b""
            yield rec


def test_tensorboard_gets_every_metric_at_its_step_and_the_config(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "pt"
    run_cli(*PT, "--report-to", "tensorboard", "--out", out)
    rows = MetricsLog(out / "metrics.jsonl").read()
    acc = EventAccumulator(str(out / "tensorboard"))
    acc.Reload()
    for name in ("loss/train", "update/lr", "loss/val"):
        logged = [(r["step"], r[name]) for r in rows if name in r]
        got = [(e.step, e.value) for e in acc.Scalars(name)]
        assert [s for s, _ in got] == [s for s, _ in logged]
        assert [v for _, v in got] == pytest.approx([v for _, v in logged], rel=1e-6)
    assert b'"mixture": "code-prior"' in acc.Tensors("config/text_summary")[0].tensor_proto.string_val[0]


def test_wandb_offline_run_holds_the_history_and_the_config(tmp_path):
    out = tmp_path / "pt"
    run_cli(*PT, "--report-to", "wandb", "--out", out, env={"WANDB_MODE": "offline", "WANDB_SILENT": "true"})
    [run_file] = list((out / "wandb").glob("offline-run-*/run-*.wandb"))
    history, config = [], {}
    for rec in wandb_records(run_file):
        kind = rec.WhichOneof("record_type")
        if kind == "history":
            history.append({i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in rec.history.item})
        elif kind == "run":
            config = {u.key or "/".join(u.nested_key): json.loads(u.value_json) for u in rec.run.config.update}
            assert rec.run.display_name == "pt"
    rows = MetricsLog(out / "metrics.jsonl").read()
    assert [h["_step"] for h in history] == [r["step"] for r in rows]
    assert [h["loss/train"] for h in history] == pytest.approx([r["loss/train"] for r in rows])
    assert config["mixture"] == "code-prior" and config["tokens"] == 16 * 64 * 8


def test_bad_report_to(tmp_path, monkeypatch):
    proc = run_cli(*PT, "--report-to", "comet", "--out", tmp_path / "x", check=False)
    assert proc.returncode == 2 and "unknown tracker 'comet'" in " ".join(proc.stderr.split())
    assert tracking.parse("none") == [] and tracking.parse("tensorboard,tensorboard") == ["tensorboard"]
    monkeypatch.setattr(tracking.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ValueError, match="--report-to mlflow: needs the mlflow package"):
        tracking.parse("mlflow")


def test_flat_config_by_hand():
    assert tracking.flat({"a": 1, "adam": {"betas": [0.9, 0.99], "eps": 1e-8}, "data": None}) == {
        "a": 1, "adam.betas": "[0.9, 0.99]", "adam.eps": 1e-8, "data": "null"}


def test_mlflow_run_holds_the_history_and_the_config(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    out, uri = tmp_path / "pt", (tmp_path / "mlruns").as_uri()
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 refuses a file: store without it
    run_cli(*PT, "--report-to", "mlflow", "--out", out, env={"MLFLOW_TRACKING_URI": uri})
    client = MlflowClient(uri)
    [run] = client.search_runs([client.get_experiment_by_name("priorlab").experiment_id])
    assert run.info.run_name == "pt" and run.info.status == "FINISHED"
    rows = MetricsLog(out / "metrics.jsonl").read()
    for name in ("loss/train", "update/lr", "loss/val"):
        logged = [(r["step"], r[name]) for r in rows if name in r]
        got = sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, name))
        assert [s for s, _ in got] == [s for s, _ in logged]
        assert [v for _, v in got] == pytest.approx([v for _, v in logged], rel=1e-6)
    config = json.loads((out / "config.json").read_text())
    assert run.data.params["mixture"] == "code-prior" == config["mixture"]
    assert run.data.params["tokens"] == str(config["tokens"])


def test_a_tracker_that_cannot_start_is_one_line(tmp_path):
    """A tracking URI MLflow has no store for: the run stops with one line naming --report-to, no traceback."""
    proc = run_cli(*PT, "--report-to", "mlflow", "--out", tmp_path / "pt", check=False,
                   env={"MLFLOW_TRACKING_URI": "nosuchscheme://tracking"})
    err = " ".join(proc.stderr.split())
    assert proc.returncode == 2, proc.stderr
    assert "--report-to mlflow: the tracker could not start a run" in err and "Traceback" not in proc.stderr
