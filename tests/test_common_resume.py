"""What --resume may change: differences listed old -> new, the allow-list, finished runs extended or not."""

import json

import pytest

from priorlab.common import resume
from priorlab.common.runfiles import RunError


def saved(tmp_path, **cfg):
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    return tmp_path


def test_changes_are_listed_field_by_field_nested_as_dotted_names():
    old = {"lr": 0.1, "adam": {"betas": [0.9, 0.99], "eps": 1e-8}, "code_version": "a", "resumed": []}
    new = {"lr": 0.1, "adam": {"betas": (0.9, 0.95), "eps": 1e-8}, "code_version": "b", "extra": 1}
    assert resume.changes(old, new) == {"adam.betas": ([0.9, 0.99], [0.9, 0.95]), "extra": (None, 1)}
    assert resume.changes(old, {"lr": 0.2}, only_resolved=True) == {"lr": (0.1, 0.2)}


def test_check_refuses_outside_the_allow_list_and_returns_the_allowed_changes(tmp_path):
    out = saved(tmp_path, steps=4, eval_every=2, lr=0.1, reward="correct")
    assert resume.check(out, {"steps": 8, "eval_every": 4, "lr": 0.1, "reward": "correct"}) == {
        "eval_every": (2, 4), "steps": (4, 8)}
    with pytest.raises(RunError, match=r'\(lr: 0.1 -> 0.2; reward: "correct" -> "random"\); resuming would make it '
                                       r"two runs. Only steps, eval_every, ckpt_every, store_rollouts, device may"):
        resume.check(out, {"steps": 8, "eval_every": 2, "lr": 0.2, "reward": "random"})
    assert resume.check(tmp_path / "nowhere", {"lr": 1}) == {}  # nothing saved: nothing to compare


def test_a_finished_run_is_returned_extended_or_refused(tmp_path):
    out = saved(tmp_path, steps=4, lr=0.1)
    (out / "summary.json").write_text('{"steps": 4}')
    logs = []
    assert resume.finished(out, {"steps": 4, "lr": 0.1}, logs.append) == {"steps": 4}
    with pytest.raises(RunError, match="--steps 2: the run in .* is finished at 4 steps"):
        resume.finished(out, {"steps": 2, "lr": 0.1}, logs.append)
    with pytest.raises(RunError, match=r"\(lr: 0.1 -> 0.3\)"):
        resume.finished(out, {"steps": 4, "lr": 0.3}, logs.append)
    assert resume.finished(out, {"steps": 9, "lr": 0.1}, logs.append) is None
    assert not (out / "summary.json").exists()  # unfinished again until the longer run ends
    assert logs == [f"run {out} is already finished", f"run {out} is finished at 4 steps: continuing it to 9"]


def test_record_appends_each_resume(tmp_path):
    out = saved(tmp_path, steps=4, resumed=[{"step": 2, "changed": {}}])
    assert resume.record(out / "config.json", 4, {"steps": (4, 8)}) == [
        {"step": 2, "changed": {}}, {"step": 4, "changed": {"steps": [4, 8]}}]
