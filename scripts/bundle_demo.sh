#!/usr/bin/env bash
# Copies a trained checkpoint and a few test-split videos of the synthetic benchmark into the
# bundle `make run` opens: models/ada3d_focus_synth.* and assets/demo/synth/ (one video per
# class, and four_actions.mp4: four test videos in a row, two appearance and two motion, joined
# by the ffmpeg CLI without re-encoding, so the timeline shows four clips).
#   DATA: the benchmark (default data/synth); RUN: where the checkpoint is (default data/run).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-data/synth}
RUN=${RUN:-data/run}
CK="$RUN/ada3d_focus_synth"
for ext in safetensors json adlcal; do
    install -m 644 "$CK.$ext" "models/ada3d_focus_synth.$ext"
done
OUT=assets/demo/synth
mkdir -p "$OUT"
# The first test video of each class (test.csv lists the classes in turn).
# (sed reads the whole file: `tail | head` under pipefail fails when head closes the pipe early.)
sed -n '2,9p' "$DATA/test.csv" | while IFS=, read -r path label; do
    cp "$DATA/$path" "$OUT/$label.mp4"
done
# Four actions in a row: test videos 8 (red_disc), 13 (moves_left), 10 (blue_triangle), 15 (moves_up).
LIST=$(mktemp)
trap 'rm -f "$LIST"' EXIT
for n in 8 13 10 15; do
    path=$(sed -n "$((n + 2))p" "$DATA/test.csv" | cut -d, -f1)
    echo "file '$(realpath "$DATA/$path")'" >>"$LIST"
done
ffmpeg -v error -y -f concat -safe 0 -i "$LIST" -c copy "$OUT/four_actions.mp4"
ls -l models/ada3d_focus_synth.* "$OUT"
