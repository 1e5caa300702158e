#!/usr/bin/env bash
# The window's demo checkpoint until the synthetic-benchmark issue bundles a trained one: the
# untrained ada3d_focus test fixture (random weights, from scripts/make_ada3d_focus_fixture.py),
# with a calibration set made by running it over 40 generated clips, each labelled with the
# model's own last-step prediction (so the budget slider trades GFLOPs for agreement with the
# full model). Deterministic: same ffmpeg, same clips, same set.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${ADALENS:-target/release/adalens}
OUT=models/demo
NAME=ada3d_focus_untrained
mkdir -p "$OUT"
cp tests/fixtures/model/ada3d_focus_tiny.safetensors "$OUT/$NAME.safetensors"
cp tests/fixtures/model/ada3d_focus_tiny.json "$OUT/$NAME.json"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sources=(
  "testsrc2=size=320x240:rate=25"
  "mandelbrot=size=320x240:rate=25"
  "life=size=320x240:rate=25:mold=10:ratio=0.2"
  "cellauto=size=320x240:rate=25:rule=110"
  "smptebars=size=320x240:rate=25"
  "rgbtestsrc=size=320x240:rate=25"
  "gradients=size=320x240:rate=25:speed=0.05"
  "testsrc=size=320x240:rate=25"
)
filters=("null" "hue=h=90" "negate" "boxblur=4" "noise=alls=40:allf=t" "transpose=1,scale=320:240")
echo "path" > "$tmp/list.csv"
i=0
for s in "${sources[@]}"; do
  for f in "${filters[@]:0:5}"; do
    seed=$((i * 7 % 5 + 2))
    ffmpeg -v error -f lavfi -i "$s" -t "$seed" -vf "$f" -pix_fmt yuv420p -c:v libx264 -g 25 "$tmp/c$i.mp4"
    echo "c$i.mp4" >> "$tmp/list.csv"
    i=$((i + 1))
  done
done
"$BIN" calibrate "$tmp/list.csv" --checkpoint "$OUT/$NAME.safetensors" --self-labels --cpu \
  --description "demo: untrained ada3d_focus fixture on $i generated lavfi clips, labels = its own last-step prediction" \
  -o "$OUT/$NAME.adlcal"
