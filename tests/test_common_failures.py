"""One-line descriptions of failures: the flag or path, the cause, the exit status."""

import errno

from priorlab.common.failures import describe, one_line, owner


def test_os_errors_name_the_flag_holding_the_path_and_the_cause():
    e = OSError(errno.ENOSPC, "No space left on device", "/runs/a/checkpoints/x")
    assert describe(e, {"--out": "/runs/a", "--init": "/runs"}) == (
        "--out /runs/a: no space left on device (/runs/a/checkpoints/x)", 2)  # the deepest folder owns it
    assert describe(OSError(errno.ENOTDIR, "Not a directory", "/f/run"), {"--out": "/f/run"}) == (
        "--out /f/run: a parent is a file, not a directory", 2)
    assert describe(OSError(errno.ENOENT, "x", "/p"), {"--out": "/p/q/r"}) == (
        "--out /p/q/r: no such file or directory (/p)", 2)  # a parent that could not be created
    assert describe(OSError(errno.EACCES, "Permission denied", "/etc/x"), {"--out": "/runs"}) == (
        "/etc/x: permission denied", 2)
    assert describe(OSError(errno.ENOSPC, "No space left on device")) == ("no space left on device", 2)


def test_errors_without_an_errno_keep_their_message():
    assert describe(FileNotFoundError("run directory not found: x")) == ("run directory not found: x", 2)
    assert describe(ValueError("--lr must be > 0\n  got -1")) == ("--lr must be > 0 got -1", 2)


def test_out_of_memory_corrupt_files_and_missing_fields():
    oom = RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: you tried "
                       "to allocate 4000000000000 bytes.")
    msg, code = describe(oom)
    assert code == 2 and msg.startswith("out of memory: ") and "lower the batch" in msg
    assert describe(MemoryError())[0].startswith("out of memory: MemoryError")

    class SafetensorError(Exception):
        pass

    assert describe(SafetensorError("Error while deserializing header: invalid header length")) == (
        "a safetensors file is corrupt or truncated (Error while deserializing header: invalid header length)", 2)
    assert describe(SafetensorError("I/O error: No space left on device (os error 28)"))[0].startswith(
        "no space left on device")
    assert describe(KeyError("model_config")) == ("missing field 'model_config'", 2)
    bad = UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")
    assert describe(bad) == ("a file is not UTF-8 text (invalid start byte at byte 0)", 2)


def test_a_ray_task_error_is_described_by_its_cause():
    RayTaskError = type("RayTaskError", (Exception,), {"__module__": "ray.exceptions"})
    e = RayTaskError("ray::_ray_entry() (pid=1)\nTraceback (most recent call last):\n ...")
    e.cause = OSError(errno.ENOSPC, "No space left on device", "/r/jobs/x")
    assert describe(e, {"--out": "/r"}) == ("--out /r: no space left on device (/r/jobs/x)", 2)
    WorkerCrashedError = type("WorkerCrashedError", (Exception,), {"__module__": "ray.exceptions"})
    assert describe(WorkerCrashedError("The worker died unexpectedly\nmore")) == (
        "Ray: WorkerCrashedError: The worker died unexpectedly", 2)


def test_a_bug_is_an_internal_error_with_status_1():
    assert describe(AttributeError("'NoneType' object has no attribute 'x'")) == (
        "internal error (AttributeError: 'NoneType' object has no attribute 'x'); rerun with --debug for the "
        "traceback", 1)


def test_owner_and_one_line():
    assert owner("/a/b/c", {"--x": "/a", "--y": "/a/b", "--z": "/q"}) == "--y"
    assert owner("/q2", {"--z": "/q"}) is None
    assert one_line("a\n\n  b ") == "a b"
    assert len(one_line("x" * 2000)) == 500


def test_first_line_of_a_message():
    from priorlab.common.failures import first_line

    assert first_line(ValueError("\n  bad token\nmore detail")) == "bad token"
    assert first_line("") == "" and first_line(KeyError()) == ""
