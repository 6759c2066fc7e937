"""Math-Verify grading throughput, as the trainers call it: one batch, one completion per call, and one completion
per call from 8 threads (verl's and OpenRLHF's reward loops). Prints one JSON object.

    .venv/bin/python bench/grading.py [--data ../shared/data/math500.jsonl] [--workers 2] [--threads 8]

Texts: each problem's solution against its own answer and against the next problem's (2 x 500 on MATH-500).
Each mode uses a fresh `Grader` (no cache hits) whose workers are started first; the results of every mode
must equal the batch's. `in_process_s` is the floor: `mv_equal` on the same non-integer pairs in this process.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from priorlab.math.grading import Grader, gold_answer, mv_equal, plain_int, pred_answer

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "math500.jsonl"


def warm_grader(workers: int) -> Grader:
    g = Grader("math", timeout=10, workers=workers)
    g.grade([f"\\boxed{{x_{i}}}" for i in range(workers)], [f"y_{i}" for i in range(workers)])  # start every worker
    g._cache.clear()
    return g


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=8)
    a = ap.parse_args()
    rows = [json.loads(line) for line in Path(a.data).read_text().splitlines() if line.strip()]
    sols, golds = [r["solution"] for r in rows], [r["answer"] for r in rows]
    texts, gs = sols + sols[1:] + sols[:1], golds + golds
    out: dict = {"data": a.data, "texts": len(texts), "workers": a.workers, "threads": a.threads}

    def timed(name, fn):
        g = warm_grader(a.workers)
        t, c = time.perf_counter(), time.process_time()
        res = fn(g)
        out[f"{name}_s"], out[f"{name}_parent_cpu_s"] = time.perf_counter() - t, time.process_time() - c
        g.close()
        return res

    ref = timed("batch", lambda g: g.grade(texts, gs))
    one = timed("one_per_call", lambda g: [g.grade([x], [y])[0] for x, y in zip(texts, gs)])
    thr = ref
    if a.threads:  # --threads 0 skips this mode (a pool that is not thread-safe crashes or hangs in it)
        with ThreadPoolExecutor(a.threads) as ex:
            thr = timed("threads", lambda g: list(ex.map(lambda p: g.grade([p[0]], [p[1]])[0], zip(texts, gs))))
    out["identical"] = one == ref and thr == ref
    out["correct"] = sum(x.correct for x in ref)

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    pairs = [(gold_answer(y, "math"), pred_answer(x, "math")) for x, y in zip(texts, gs)]
    pairs = [(g, p) for g, p in pairs if p is not None and (plain_int(g) is None or plain_int(p) is None)]
    mv_equal("1", "1")
    t = time.perf_counter()
    for g, p in pairs:
        try:
            mv_equal(g, p)
        except Exception:  # noqa: BLE001 -- counted as an error by the grader; only the time matters here
            pass
    out["math_verify_pairs"], out["in_process_s"] = len(pairs), time.perf_counter() - t
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}))


if __name__ == "__main__":
    main()
