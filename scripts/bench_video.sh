#!/usr/bin/env bash
# The frame-sampling benchmark of BENCHMARKS.md, every contender side by side in one session:
# adalens (release build), PyAV, decord and the ffmpeg CLI on the same generated files.
#   scripts/bench_video.sh [OUTDIR=bench-data] [REPEAT=5]
# Peers need a Python with av, numpy and decord (scripts/requirements-bench.txt); set PY.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench-data}
repeat=${2:-5}
PY=${PY:-/opt/pyenv-bench/bin/python}
scripts/make_bench_videos.sh "$out"
[ -x target/release/adalens ] || cargo build --release
for f in "$out"/h264_720p_10min.mp4 "$out"/h264_1080p_60s.mp4; do
  echo "== $f"
  # One process per file, started through GNU time so its peak RSS is its own.
  timer=(); [ -x /usr/bin/time ] && timer=(/usr/bin/time -f "adalens process: peak RSS %M KiB, wall %e s")
  "${timer[@]}" target/release/adalens bench video "$f" --frames 16 --size 224 --repeat "$repeat"
  if [ -x "$PY" ]; then
    "$PY" scripts/bench_video_peers.py "$f" --frames 16 --size 224 --repeat "$repeat"
  else
    echo "(no $PY: skipping PyAV/decord; install scripts/requirements-bench.txt into a venv and set PY)"
  fi
done
