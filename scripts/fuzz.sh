#!/usr/bin/env bash
# Fuzz adalens' readers of untrusted files with cargo-fuzz (libFuzzer), each target for
# FUZZ_SECONDS (default 600) in turn. cargo-fuzz needs nightly features: RUSTC_BOOTSTRAP=1 lets
# the stable toolchain build them; --sanitizer none because stable ships no ASan runtime (Rust
# code is memory-safe; the fuzzers look for panics, aborts, hangs and memory blow-ups).
# Findings land in fuzz/artifacts/<target>/; each becomes a regression test (docs/RELIABILITY.md).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${FUZZ_SECONDS:-600}
TARGETS=${FUZZ_TARGETS:-"torch_checkpoint safetensors_config calibration trace_json video parquet_run"}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1

seed() { # target, files...
    local dir="fuzz/corpus/$1"
    shift
    mkdir -p "$dir"
    for f in "$@"; do [ -f "$f" ] && cp -n "$f" "$dir/" || true; done
}
seed torch_checkpoint tests/fixtures/model/*.pth tests/fixtures/model/*.pth.tar tests/fixtures/model/*.pyth tests/fixtures/budget/*.pth
seed calibration models/*.adlcal models/demo/*.adlcal
seed trace_json tests/fixtures/*/*.json assets/demo/logged/*.json
seed parquet_run tests/fixtures/batch/*.parquet
mkdir -p fuzz/corpus/safetensors_config
for f in tests/fixtures/model/*.json; do
    printf '\001' | cat - "$f" > "fuzz/corpus/safetensors_config/$(basename "$f")"
done
mkdir -p fuzz/corpus/video
if command -v ffmpeg >/dev/null; then
    src=testsrc2=size=32x24:rate=10:duration=1
    for spec in "mp4 libx264" "mkv libx264" "ts mpeg2video" "avi mpeg4" "webm libvpx-vp9" "mov mjpeg"; do
        set -- $spec
        out="fuzz/corpus/video/seed_$2.$1"
        [ -f "$out" ] || ffmpeg -v error -y -f lavfi -i "$src" -c:v "$2" -pix_fmt yuv420p "$out" ||
            ffmpeg -v error -y -f lavfi -i "$src" -c:v "$2" "$out"
    done
fi

# FUZZ_TARGET_DIR: build elsewhere (e.g. when fuzzing a snapshot of the tree while editing it).
TARGET_DIR=${FUZZ_TARGET_DIR:-fuzz/target}
cargo fuzz build --sanitizer none --release --target-dir "$TARGET_DIR"
for t in $TARGETS; do
    mkdir -p "fuzz/artifacts/$t"
    echo "== $t for ${SECONDS_EACH}s"
    # -rss_limit_mb: a blow-up is a finding; -timeout: a hang is a finding.
    cargo fuzz run --sanitizer none --release --target-dir "$TARGET_DIR" "$t" "fuzz/corpus/$t" -- \
        -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -timeout=10 \
        -artifact_prefix="fuzz/artifacts/$t/" -print_final_stats=1 || echo "== $t: finding (see fuzz/artifacts/$t)"
done
