#!/usr/bin/env python3
"""The pandas peer of `adalens bench dataset`: the same run's Parquet files, the same work.

Usage: bench_dataset_pandas.py OUT THRESHOLDS_JSON [REPEAT]

Times (median of REPEAT): reading summary.parquet and steps.parquet; the filter
`correct == false && exit_step <= 1` on the summary; sorting it by gflops (descending); and
re-deciding every video's exit from steps.parquet for per-step entropy thresholds (a JSON list;
null = never exits there; the last step always does): each clip stops at its first step whose
entropy is at most its threshold, a video spends its clips' cumulative GFLOPs there, and its
exit step and correctness are its first clip's.
"""
import json
import sys
import time

import numpy as np
import pandas as pd


def median_ms(f, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append((time.perf_counter() - t) * 1e3)
    return sorted(times)[len(times) // 2]


def main():
    out, thresholds = sys.argv[1], json.loads(sys.argv[2])
    repeat = int(sys.argv[3]) if len(sys.argv) > 3 else 15
    t = time.perf_counter()
    summary = pd.read_parquet(f"{out}/summary.parquet")
    steps = pd.read_parquet(f"{out}/steps.parquet")
    open_ms = (time.perf_counter() - t) * 1e3
    thr = np.array([-np.inf if x is None else float(x) for x in thresholds], dtype=np.float64)

    def redecide():
        s = steps
        step_thr = thr[np.minimum(s["step"].to_numpy(), len(thr) - 1)]
        last = s.groupby(["index", "clip"], sort=False)["step"].transform("max").to_numpy()
        stop = (s["entropy"].to_numpy() <= step_thr) | (s["step"].to_numpy() == last)
        first = s[stop].groupby(["index", "clip"], sort=False).head(1)
        per_video = first.groupby("index", sort=False).agg(
            gflops=("cumulative_gflops", "sum"),
            exit_step=("step", "first"),
            correct=("correct", "first"),
        )
        return per_video["correct"].mean()

    def filt():
        return summary[(summary["correct"] == False) & (summary["exit_step"] <= 1)]  # noqa: E712

    def sort():
        return summary.sort_values("gflops", ascending=False, kind="stable")

    def sort_path():
        return summary.sort_values("path", kind="stable")

    print(json.dumps({
        "videos": len(summary),
        "steps_rows": len(steps),
        "open_ms": open_ms,
        "redecide_ms": median_ms(redecide, repeat),
        "filter_ms": median_ms(filt, repeat),
        "filter_rows": len(filt()),
        "sort_ms": median_ms(sort, repeat),
        "sort_path_ms": median_ms(sort_path, repeat),
    }))


if __name__ == "__main__":
    main()
