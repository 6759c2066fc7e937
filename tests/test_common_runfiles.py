"""Tests for priorlab.common.runfiles: files and directories written all at once or not at all."""

import pytest

from priorlab.common import rundirs, runfiles


def test_atomic_dir_replaces_the_old_directory_and_leaves_no_temporary(tmp_path):
    dest = tmp_path / "ckpt"
    runfiles.atomic_dir(dest, lambda d: (d / "a.txt").write_text("first"))
    runfiles.atomic_dir(dest, lambda d: (d / "b.txt").write_text("second"))
    assert sorted(p.name for p in dest.iterdir()) == ["b.txt"]  # replaced, not merged
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]


def test_atomic_dir_failure_keeps_the_old_directory_and_removes_the_temporary(tmp_path):
    dest = tmp_path / "ckpt"
    runfiles.atomic_dir(dest, lambda d: (d / "a.txt").write_text("good"))

    def half_written(d):
        (d / "a.txt").write_text("partial")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        runfiles.atomic_dir(dest, half_written)
    assert (dest / "a.txt").read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]


def test_publish_copies_a_run_without_its_checkpoints(tmp_path):
    src = tmp_path / "run"
    (src / "checkpoints" / "step_00000001").mkdir(parents=True)
    (src / "summary.json").write_text("{}")
    rundirs.publish(src, tmp_path / "out" / "run")
    assert sorted(p.name for p in (tmp_path / "out" / "run").iterdir()) == ["summary.json"]


def test_atomic_files_and_directories_follow_the_umask(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        runfiles.atomic_write_json(tmp_path / "report.json", {"a": 1})
        runfiles.atomic_dir(tmp_path / "ckpt", lambda d: runfiles.atomic_write_text(d / "x.txt", "x"))
        os.umask(0o077)
        runfiles.atomic_write_text(tmp_path / "private.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "report.json").stat().st_mode & 0o777 == 0o644  # mkstemp alone would give 0600
    assert (tmp_path / "ckpt").stat().st_mode & 0o777 == 0o755 and (tmp_path / "ckpt" / "x.txt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "private.txt").stat().st_mode & 0o777 == 0o600
