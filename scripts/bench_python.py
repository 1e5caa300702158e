#!/usr/bin/env python3
"""The Python package's speed goals (issue 30), side by side (BENCHMARKS.md, "Python package"):

1. logging 10,000 steps of 400-class probabilities with adalens.TraceBuilder (as 1,000 clips
   of 10 steps and as 10,000 clips of 1 step), and saving the trace, against the same numbers
   written by the json module from numpy (what a hand-written logger would do);
2. adalens.Checkpoint(...).inspect(demo) against the CLI's `adalens inspect demo --json`:
   the release binary (ADALENS_BIN) and the wheel's own `adalens` command, each as a process
   (load + decode + model + JSON), and in-process.

Run with the Python of a venv where `pip install .` was done (release build):
    venv/bin/python scripts/bench_python.py [--repeat 5]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import adalens

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "assets/demo/synth/four_actions.mp4"
CK = ROOT / "models/ada3d_focus_synth.safetensors"


def timed(f, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def logging(repeat, tmp):
    classes = [f"c{i}" for i in range(400)]
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(10_000, 400)).astype(np.float32)
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    rows = {}
    for clips, steps in [(1000, 10), (10_000, 1)]:
        def build():
            b = adalens.TraceBuilder(DEMO, classes, arch="bench")
            for c in range(clips):
                b.add_clip([c % 128], probs=probs[c * steps:(c + 1) * steps],
                           gflops=np.arange(1, steps + 1, dtype=np.float64))
            return b
        t_log = timed(build, repeat)
        b = build()
        t_save = timed(lambda: b.save(tmp / "t.json"), repeat)
        size = (tmp / "t.json").stat().st_size
        rows[f"{clips} clips x {steps} steps"] = (t_log, t_save, size)

    def peer():
        d = {"clips": [{"frames": [c % 128], "steps": [{"step": s, "probs": probs[c * 10 + s].tolist(),
                                                        "cumulative_gflops": s + 1.0} for s in range(10)]}
                       for c in range(1000)]}
        (tmp / "peer.json").write_text(json.dumps(d))
    rows["peer: json module, 1000 x 10"] = (timed(peer, repeat), 0.0, (tmp / "peer.json").stat().st_size)
    return rows


def inspect(repeat, bin_path):
    out = {}
    ck = adalens.Checkpoint(CK)
    out["in-process Checkpoint.inspect (model loaded)"] = timed(lambda: ck.inspect(DEMO), repeat)
    out["in-process Checkpoint(...) + inspect"] = timed(lambda: adalens.Checkpoint(CK).inspect(DEMO), repeat)
    cmd = ["inspect", str(DEMO), "--checkpoint", str(CK), "--json"]
    if bin_path:
        out["process: release binary `adalens inspect --json`"] = timed(
            lambda: subprocess.run([bin_path, *cmd], check=True, capture_output=True), repeat)
    out["process: the wheel's `adalens inspect --json`"] = timed(
        lambda: subprocess.run([sys.executable, "-m", "adalens", *cmd], check=True, capture_output=True), repeat)
    script = f"import adalens; print(adalens.Checkpoint({str(CK)!r}).inspect({str(DEMO)!r}).to_json())"
    out["process: python -c Checkpoint(...).inspect(...).to_json()"] = timed(
        lambda: subprocess.run([sys.executable, "-c", script], check=True, capture_output=True), repeat)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--bin", default=os.environ.get("ADALENS_BIN", str(ROOT / "target/release/adalens")))
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        for k, (t_log, t_save, size) in logging(a.repeat, Path(d)).items():
            print(f"log {k:32s} add_clip {t_log * 1e3:8.1f} ms  save {t_save * 1e3:7.1f} ms  {size / 1e6:6.1f} MB")
    for k, t in inspect(a.repeat, a.bin if Path(a.bin).is_file() else None).items():
        print(f"inspect {k:58s} {t * 1e3:8.1f} ms")


if __name__ == "__main__":
    main()
