"""Grading of real math answers: answer extraction, and equivalence with Math-Verify under a wall-clock limit.

    from priorlab.math.grading import Grader
    with Grader(style="math", timeout=5) as g:
        grades = g.grade(["... so $x = \\boxed{\\frac{1}{2}}$."], ["0.5"])   # list[Grade]
    grades[0].correct, grades[0].status, grades[0].pred                  # True, 'ok', '\\frac{1}{2}'

    priorlab grade preds.jsonl --prediction-field output --answer-field answer --style math --out runs/g

What is compared, per style (`STYLES`):

| style | gold answer, from the answer field              | prediction, from the completion             |
|-------|-------------------------------------------------|---------------------------------------------|
| math  | its last \\boxed{} if it has one, else the field | the last \\boxed{...} / \\fbox{...}           |
| gsm8k | the number after its last `####` (GSM8K)        | the last \\boxed{}, else the number after `####` |
| int   | an integer literal (leading zeros allowed, AIME) | the last \\boxed{}                           |

Two answers are equal when both are plain integers (after dropping `$`, `\\$`, `{,}` and thousands
commas) with the same value -- exact, and no subprocess -- and otherwise when Math-Verify (huggingface/
Math-Verify 0.9.0) says so: `verify(parse("\\boxed{gold}"), parse("\\boxed{pred}"))`, gold first, because
`verify` is not symmetric (Math-Verify #25). Both sides are wrapped in \\boxed{} so Math-Verify parses
the already-extracted answer, not an anchor-free guess at the whole text (its docstring calls that an
over-estimate).

Status of a grade (`STATUSES`), never folded into a silent 0:
- `ok`: compared; `correct` is the verdict.
- `no_answer`: no (non-empty, closed) \\boxed{} in the completion -- a truncated `\\boxed{12` counts as none.
- `timeout`: Math-Verify did not finish within `timeout` seconds of wall clock; its worker is killed.
- `error`: the gold answer is unusable (no `####`, not an integer, does not parse) or Math-Verify raised.
`correct` is False for every status but `ok`; summaries count each status apart (`status_counts`).

Why a process pool: Math-Verify's own timeout uses SIGALRM, which fails outside the main thread (Ray
workers, TRL's threads; Math-Verify #50, #55) and has been swallowed into all-zero scores elsewhere (verl
PR #5635). Here its timeouts are off (`parsing_timeout=None`, `timeout_seconds=None`) and each comparison
runs in a worker subprocess that the parent kills after `timeout` s; errors are raised (`raise_on_error=True`)
and counted. The pool (`VerifyPool`) may be called from many threads at once (verl's and OpenRLHF's reward loops
call reward functions from threads) and from forked or spawned processes, with the same results as serially.
A gold/prediction pair that parses to several candidates is equal if any candidate pair is; it is an error
only if none is equal and one raised. Results of `ok`/`error` comparisons are cached per
`Grader` (completions repeat answers), timeouts are not (they can depend on load).

Tests: `.venv/bin/pytest tests/test_math_grading.py` (MATH-500-, GSM8K- and AIME-shaped fixtures in tests/fixtures).
"""

from __future__ import annotations

import atexit
import functools
import json
import logging
import math
import os
import re
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing.connection import wait
from pathlib import Path

STYLES = ("math", "gsm8k", "int")
STATUSES = ("ok", "no_answer", "timeout", "error")
DEFAULT_TIMEOUT = 5.0  # seconds per comparison, Math-Verify's own default
STARTUP_TIMEOUT = 120.0  # seconds for a worker to import Math-Verify (sympy) on a loaded machine

# ------------------------------------------------------------------------------------------- extraction

_BOX = re.compile(r"\\(?:boxed|fbox)\b")


def extract_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}` or `\\fbox{...}` (nested braces allowed), or None.

    Also `\\boxed 5` (a single token, as in Hendrycks' `last_boxed_only_string`). Escaped braces `\\{`, `\\}`
    do not count. If the last box is never closed (a truncated completion) there is no answer: an earlier
    box is not used. An empty box gives "" (callers treat it as no answer).
    """
    starts = [m.end() for m in _BOX.finditer(text)]
    if not starts:
        return None
    i = starts[-1]
    if i < len(text) and text[i] == " " and not text[i:].lstrip(" ").startswith("{"):
        token = re.match(r"\s*([^\s$]+)", text[i:])
        return token.group(1) if token else None
    while i < len(text) and text[i].isspace():
        i += 1
    if i >= len(text) or text[i] != "{":
        return None
    depth, k = 0, i
    while k < len(text):
        c = text[k]
        if c == "\\":
            k += 2  # \{ and \} are literal braces; \\ is a line break
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1 : k].strip()
        k += 1
    return None


_HASH = re.compile(r"####\s*([^\n]*)")


def extract_hash(text: str) -> str | None:
    """What follows the last `####` on its line (GSM8K's answer marker), stripped, or None."""
    found = _HASH.findall(text)
    return found[-1].strip() if found else None


_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+")


_WRAP = re.compile(r"\\(?:text|textbf|mathbf|mathrm|mbox)\{(.*)\}|\((.*)\)", re.DOTALL)


def plain_int(s: str) -> int | None:
    """The integer an answer string literally is (`-3`, `1,450,000`, `$18`, `\\$18`, `025`,
    `\\textbf{(073)}`), else None."""
    t = s.strip().strip("$").strip()
    for junk in ("\\$", "{,}", "\\!", "\\,", "\\ "):
        t = t.replace(junk, "," if junk == "{,}" else "")
    t = t.strip().rstrip(".").strip()
    while (m := _WRAP.fullmatch(t)) is not None:  # one wrapper around the whole answer: \textbf{(073)}
        t = (m.group(1) if m.group(1) is not None else m.group(2)).strip()
    if _THOUSANDS.fullmatch(t):
        t = t.replace(",", "")
    return int(t) if re.fullmatch(r"[+-]?\d+", t) else None


def gsm8k_gold(answer: str) -> str:
    """The final answer of a GSM8K `answer` field (`... #### 1,450,000` -> `1450000`); ValueError if none."""
    found = extract_hash(answer)
    if not found:
        raise ValueError("no '#### N' final answer")
    n = plain_int(found)
    if n is None:
        raise ValueError(f"the '####' answer {found!r} is not a number")
    return str(n)


def gold_answer(raw: str, style: str) -> str:
    """The gold answer to compare with, from a dataset's answer field (see the table in the module doc)."""
    check_style(style)
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError(f"gold answer {raw!r} is empty or not a string")
    if style == "gsm8k":
        return gsm8k_gold(raw)
    boxed = extract_boxed(raw)
    gold = boxed if boxed else raw.strip()
    if style == "int":
        n = plain_int(gold)
        if n is None:
            raise ValueError(f"gold answer {gold!r} is not an integer (style int)")
        return str(n)
    return gold


def pred_answer(text: str, style: str) -> str | None:
    """The answer a completion gives under `style`, or None (no non-empty closed box, nor `####` for gsm8k)."""
    check_style(style)
    boxed = extract_boxed(text)
    if boxed:
        return boxed
    if style == "gsm8k":
        return extract_hash(text) or None
    return None


_CONF = re.compile(r"<confidence>(.*?)</confidence>", re.DOTALL)


def parse_confidence(text: str) -> float | None:
    """The last `<confidence>q</confidence>` as a number in [0, 1] (RLCR's tag), else None."""
    found = _CONF.findall(text)
    if not found:
        return None
    try:
        q = float(found[-1].strip())
    except ValueError:
        return None
    return q if math.isfinite(q) and 0.0 <= q <= 1.0 else None


def check_style(style: str) -> None:
    """ValueError naming the valid grading styles unless `style` is one."""
    if style not in STYLES:
        raise ValueError(f"unknown grading style {style!r}; valid: {', '.join(STYLES)}")


_KEY_DROP = ("\\left", "\\right", "\\!", "\\,", "\\;", "\\:", "\\displaystyle", "^\\circ", "^{\\circ}", " ")


def answer_key(answer: str) -> str:
    """A canonical string for voting (majority): the integer if it is one, else the answer with spacing,
    `\\left`/`\\right`, degree signs and `\\dfrac`/`\\tfrac` normalised. Cheap and conservative: `0.5` and
    `\\frac{1}{2}` stay different votes (TTRL votes over extracted strings too)."""
    n = plain_int(answer)
    if n is not None:
        return str(n)
    t = answer.strip().strip("$")
    for junk in _KEY_DROP:
        t = t.replace(junk, "")
    return t.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").rstrip(".")


# ------------------------------------------------------------------------------- Math-Verify in workers


def math_verify_version() -> str | None:
    """The installed math-verify version, or None."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("math-verify")
    except PackageNotFoundError:
        return None


@functools.cache
def _require_math_verify() -> None:
    if math_verify_version() is None:
        raise RuntimeError("grading non-integer answers needs the math-verify package: "
                           "pip install 'math-verify==0.9.0'")


def mv_equal(gold: str, pred: str) -> bool:
    """Math-Verify equivalence of two extracted answers, gold first; no timeout, errors raised.

    Runs in a worker (`_serve`); call it directly only where a hang is acceptable.
    """
    from math_verify import parse, verify

    g = parse("\\boxed{" + gold + "}", parsing_timeout=None, raise_on_error=True)
    if not g:
        raise ValueError(f"gold answer {gold!r} does not parse")
    p = parse("\\boxed{" + pred + "}", parsing_timeout=None, raise_on_error=True)
    first_error = None
    for gi in g:
        for pi in p:
            try:
                if verify(gi, pi, timeout_seconds=None, raise_on_error=True):
                    return True
            except Exception as e:  # noqa: BLE001 -- reported if no other candidate pair is equal
                first_error = first_error or e
    if first_error is not None:
        raise first_error
    return False


def _serve() -> None:
    """Worker loop on stdin/stdout, one JSON line each way: `["ready", null]` once Math-Verify is imported,
    then `[gold, pred, cpu_cap_s]` -> `["ok", bool]` or `["error", message]`."""
    logging.getLogger("math_verify").setLevel(logging.ERROR)  # the "timeout is disabled" warning: we own it
    import math_verify  # noqa: F401 -- pay the sympy import before the first timed job

    out, sys.stdout = sys.stdout, sys.stderr  # a stray print() cannot corrupt the protocol
    out.write('["ready", null]\n')
    out.flush()
    for line in sys.stdin:
        gold, pred, cpu_cap = json.loads(line)
        _cap_cpu(cpu_cap)
        try:
            reply = ["ok", mv_equal(gold, pred)]
        except Exception as e:  # noqa: BLE001 -- counted as status "error" by the parent
            reply = ["error", f"{type(e).__name__}: {e}"[:300]]
        out.write(json.dumps(reply) + "\n")
        out.flush()


def _cap_cpu(seconds: float) -> None:
    """Let this job use at most `seconds` more CPU time, then die of SIGXCPU. The parent kills a slow
    worker long before; this only stops an orphan (parent SIGKILLed mid-job) from spinning forever."""
    try:
        import resource
    except ImportError:  # not POSIX
        return
    used = resource.getrusage(resource.RUSAGE_SELF)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    cap = int(used.ru_utime + used.ru_stime + seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))


class _Worker:
    """A `python -c` subprocess running `_serve`: not multiprocessing, whose spawn and forkserver re-import the
    caller's `__main__` (breaking unguarded user scripts) and whose fork is unsafe under threads."""

    def __init__(self):
        src = str(Path(__file__).resolve().parents[2])  # priorlab importable even when not installed
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, *filter(None, [os.environ.get("PYTHONPATH")])]),
               "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        self.proc = subprocess.Popen([sys.executable, "-c", "from priorlab.math.grading import _serve; _serve()"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1, env=env)
        self.started = time.monotonic()
        self.ready = False

    def wait_ready(self) -> None:
        """Block until the worker has imported Math-Verify; RuntimeError if it dies or takes STARTUP_TIMEOUT s."""
        if self.ready:
            return
        if not wait([self.proc.stdout], timeout=max(0.0, self.started + STARTUP_TIMEOUT - time.monotonic())):
            raise RuntimeError(f"a Math-Verify grading worker did not start in {STARTUP_TIMEOUT:g} s")
        try:
            kind, _ = self.recv()
        except (EOFError, OSError, ValueError):
            raise RuntimeError(f"a Math-Verify grading worker died at start (exit code {self.proc.wait(10)}); "
                               "its error is printed above") from None
        self.ready = kind == "ready"

    def send(self, pair: tuple[str, str], timeout: float) -> None:
        self.proc.stdin.write(json.dumps([*pair, 2 * timeout + 10]) + "\n")
        self.proc.stdin.flush()

    def recv(self) -> tuple[str, object]:
        line = self.proc.stdout.readline()
        if not line:
            raise EOFError
        kind, value = json.loads(line)
        return kind, value

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        self.drop()

    def drop(self) -> None:
        """Close this process's ends of the pipes (a forked child's copies; the worker keeps running)."""
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass


class VerifyPool:
    """Up to `workers` worker subprocesses running `mv_equal`, each comparison limited to `timeout` s of wall clock.

    Safe to call from many threads at once: a `concurrent.futures.ThreadPoolExecutor` with one thread per worker
    runs the comparisons, each thread taking an idle worker, sending it one pair and waiting at most `timeout` s
    from the send (worker start-up never counts). A worker past its deadline is killed and a fresh one started.
    A forked child forgets its parent's workers (`os.register_at_fork`) and starts its own.
    Not `ProcessPoolExecutor` (it cannot kill a running task) nor pebble (multiprocessing start methods, see
    `_Worker`).
    """

    def __init__(self, workers: int | None = None):
        self.n = workers if workers is not None else max(1, min(4, os.cpu_count() or 1))
        if self.n < 1:
            raise ValueError(f"grading workers={self.n} must be >= 1")
        self._reset()
        _POOLS.add(self)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._idle: list[_Worker] = []
        self._workers: set[_Worker] = set()  # idle and busy, for close()

    def run(self, pairs: Sequence[tuple[str, str]], timeout: float) -> list[tuple[str, bool, str | None]]:
        """(status, equal, error message) per (gold, pred) pair; status is ok, timeout or error."""
        if not pairs:
            return []
        _require_math_verify()
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.n, thread_name_prefix="priorlab-grading")
            executor = self._executor
        futures = [executor.submit(self._compare, pair, timeout) for pair in pairs]
        return [f.result() for f in futures]

    def _compare(self, pair: tuple[str, str], timeout: float) -> tuple[str, bool, str | None]:
        w = self._take()
        try:
            w.wait_ready()
            try:
                w.send(pair, timeout)
            except OSError:  # died while idle: one fresh worker
                self._discard(w)
                w = self._take(fresh=True)
                w.wait_ready()
                w.send(pair, timeout)
        except BaseException:
            self._discard(w)
            raise
        if not wait([w.proc.stdout], timeout=timeout):
            self._discard(w, replace=True)
            return "timeout", False, f"Math-Verify took longer than {timeout:g} s"
        try:
            kind, value = w.recv()
        except (EOFError, OSError, ValueError):
            code = w.proc.poll()
            self._discard(w, replace=True)
            return "error", False, f"grading worker died (exit code {code})"
        with self._lock:
            self._idle.append(w)
        return ("ok", bool(value), None) if kind == "ok" else ("error", False, str(value))

    def _take(self, fresh: bool = False) -> _Worker:
        with self._lock:
            if self._idle and not fresh:
                return self._idle.pop()
            w = _Worker()
            self._workers.add(w)
            return w

    def _discard(self, w: _Worker, replace: bool = False) -> None:
        """Kill `w`; with `replace`, start its successor now so that its start-up overlaps other work."""
        w.kill()
        with self._lock:
            self._workers.discard(w)
            if replace:
                new = _Worker()
                self._workers.add(new)
                self._idle.append(new)

    def close(self) -> None:
        """Kill every worker; a later `run` starts new ones."""
        with self._lock:
            workers, executor = list(self._workers), self._executor
            self._workers, self._idle, self._executor = set(), [], None
        for w in workers:
            w.kill()
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def _after_fork(self) -> None:
        for w in self._workers:
            w.drop()
        self._reset()


_POOLS: weakref.WeakSet[VerifyPool] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """A forked child owns no worker and no thread of its parent's pools; it starts its own when it grades."""
    global _SHARED_LOCK
    for pool in list(_POOLS):
        pool._after_fork()
    _SHARED_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


# -------------------------------------------------------------------------------------------- grading


@dataclass(frozen=True)
class Grade:
    """One completion's grade: `correct` only counts when `status == "ok"` (module doc)."""

    correct: bool
    status: str
    pred: str | None  # the extracted answer
    gold: str | None  # the gold answer compared with
    error: str | None = None

    def to_dict(self) -> dict:
        """The grade as plain data."""
        return asdict(self)


class Grader:
    """Grades completions against gold answers under one style; holds a `VerifyPool` and a result cache.

    Use as a context manager, or call `close()`; `shared_grader` keeps one per (style, timeout) alive for
    the reward integrations.
    """

    def __init__(self, style: str = "math", timeout: float = DEFAULT_TIMEOUT, workers: int | None = None):
        check_style(style)
        if not timeout > 0:
            raise ValueError(f"grading timeout={timeout} must be > 0 seconds")
        self.style, self.timeout = style, float(timeout)
        self.pool = VerifyPool(workers)
        self._cache: dict[tuple[str, str], tuple[str, bool, str | None]] = {}

    def __enter__(self) -> Grader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker pool."""
        self.pool.close()

    def equal(self, pairs: Sequence[tuple[str, str]]) -> list[tuple[str, bool, str | None]]:
        """(status, equal, error) for extracted (gold, pred) answers: integer fast path, else Math-Verify."""
        out: list[tuple[str, bool, str | None] | None] = [None] * len(pairs)
        slow: dict[tuple[str, str], list[int]] = {}
        for i, (gold, pred) in enumerate(pairs):
            g, p = plain_int(gold), plain_int(pred)
            if g is not None and p is not None:
                out[i] = ("ok", g == p, None)
            elif (gold, pred) in self._cache:
                out[i] = self._cache[(gold, pred)]
            else:
                slow.setdefault((gold, pred), []).append(i)
        keys = list(slow)
        for key, res in zip(keys, self.pool.run(keys, self.timeout)):
            if res[0] != "timeout":
                self._cache[key] = res
            for i in slow[key]:
                out[i] = res
        return out  # type: ignore[return-value]

    def grade(self, texts: Sequence[str], golds: Sequence[str]) -> list[Grade]:
        """Grade each completion `texts[i]` against the raw answer field `golds[i]` (parsed per style)."""
        if len(texts) != len(golds):
            raise ValueError(f"texts and golds differ in length: {len(texts)} vs {len(golds)}")
        grades: list[Grade | None] = [None] * len(texts)
        todo: list[tuple[int, str, str]] = []
        for i, (text, raw) in enumerate(zip(texts, golds)):
            try:
                gold = gold_answer(raw, self.style)
            except ValueError as e:
                grades[i] = Grade(False, "error", None, None, f"gold: {e}")
                continue
            pred = pred_answer(text, self.style) if isinstance(text, str) else None
            if pred is None:
                grades[i] = Grade(False, "no_answer", None, gold)
            else:
                todo.append((i, gold, pred))
        for (i, gold, pred), (status, eq, err) in zip(todo, self.equal([(g, p) for _, g, p in todo])):
            grades[i] = Grade(eq, status, pred, gold, err)
        return grades  # type: ignore[return-value]


_SHARED: dict[tuple[str, float], Grader] = {}
_SHARED_LOCK = threading.Lock()


def shared_grader(style: str = "math", timeout: float = DEFAULT_TIMEOUT) -> Grader:
    """A process-wide Grader per (style, timeout), closed at exit: reward functions are called every step
    (from several threads under verl and OpenRLHF) and should not pay for starting workers each time."""
    key = (style, float(timeout))
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = Grader(style, timeout)
        return _SHARED[key]


@atexit.register
def _close_shared() -> None:
    for g in _SHARED.values():
        g.close()
    _SHARED.clear()


def summarize(grades: Sequence[Grade]) -> dict:
    """Accuracy over all rows (failures count as wrong), accuracy over graded rows, and counts per status."""
    counts = {s: 0 for s in STATUSES}
    for g in grades:
        counts[g.status] += 1
    n, correct = len(grades), sum(g.correct for g in grades)
    graded = n - counts["timeout"] - counts["error"]
    return {"n": n, "correct": correct, "accuracy": correct / n if n else None,
            "accuracy_graded": correct / graded if graded else None, "status_counts": counts}
