#!/usr/bin/env bash
# Regenerates the synthetic benchmark, retrains the demo's ada3d_focus checkpoint from scratch on
# the CPU, evaluates it on the test split (report in docs/) and bundles it with a few test videos
# (models/, assets/demo/synth/). The benchmark is the same bytes on any CPU; training writes the
# same bytes for one binary on one CPU model (gemm picks its kernels by CPU, and another CPU's
# sums round differently and drift).
#   DATA: where the benchmark goes (default data/synth); RUN: where the checkpoint goes.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${ADALENS:-target/release/adalens}
DATA=${DATA:-data/synth}
RUN=${RUN:-data/run}
mkdir -p "$RUN"
"$BIN" synth --out "$DATA" --seed 0 --train 3200 --calib 800 --test 1000
"$BIN" train --data "$DATA" -o "$RUN/ada3d_focus_synth.safetensors" --epochs 11,6,1 --cube-first 1 --policy-entropy 0.1 --seed 0 --whole-frame --cube-sigma 0.2
"$BIN" eval --checkpoint "$RUN/ada3d_focus_synth.safetensors" --data "$DATA" -o docs/eval_report
DATA="$DATA" RUN="$RUN" scripts/bundle_demo.sh
