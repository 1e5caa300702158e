#!/usr/bin/env bash
# Builds, on this machine, what scripts/gpu_check.sh runs on a GPU machine that has neither Rust
# nor a network: the CUDA build of the command line (`adalens` without the window) and the
# PyTorch parity test binaries, packed with the few shared libraries they need into one archive
# (GPU_CHECK_PREBUILT=that archive on the GPU machine). No GPU is needed here.
#
#   - the CUDA 13 toolkit from NVIDIA's PyPI wheels (nvcc, headers, cuBLAS, cuRAND, NVRTC) into
#     target/gpu_prebuild/cuda, and a link stub for the driver's libcuda.so.1 (the real one is on
#     the GPU machine; the stub only names the functions cudarc calls);
#   - a small FFmpeg 5.1 (the release Debian 12 ships, built from Debian's source tarball with
#     FFmpeg's own decoders only): Debian's libraries pull in 127 others (48 MB packed);
#   - `cargo build`/`cargo test --no-run` with `--no-default-features --features figure,cuda`,
#     our crate at opt-level 3 like its dependencies (the dev profile keeps target/ shared with
#     `make test`: only candle and adalens are compiled again).
#
# The test binaries find fixtures through the path they were built in (CARGO_MANIFEST_DIR,
# recorded in the archive's `root`); gpu_check.sh links that path to its checkout when it differs.
# Knobs: CUDA_COMPUTE_CAP (90: H100/H200), GPU_PREBUILD_DIR (target/gpu_prebuild).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CAP=${CUDA_COMPUTE_CAP:-90}
DIR=${GPU_PREBUILD_DIR:-target/gpu_prebuild}
ROOT=$PWD
PARITY_TESTS=(model_parity model_checkpoint model_conv3d model_patch model_resnet3d model_ada3d
  model_ada3d_focus model_uni_adafocus cli_inspect)
# The CUDA 13.0 wheels (the driver of the GPU machine must speak CUDA 13: 580 or newer).
WHEELS=("nvidia-cuda-nvcc==13.0.*" "nvidia-cuda-crt==13.0.*" "nvidia-nvvm==13.0.*"
  "nvidia-cuda-cccl==13.0.*" "nvidia-cuda-runtime==13.0.*" "nvidia-cuda-nvrtc==13.0.*"
  "nvidia-cublas==13.0.*" "nvidia-curand==10.4.*")
FFMPEG_DECODERS=h264,hevc,mpeg4,vp8,vp9,av1,aac,mjpeg
FFMPEG_DEMUXERS=mov,matroska,avi,h264,hevc,ivf

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
CUDA=$DIR/cuda/nvidia/cu13

# --- the CUDA toolkit from PyPI -------------------------------------------------------------------
if [ ! -x "$CUDA/bin/nvcc" ]; then
  echo "==> CUDA 13.0 wheels"
  python3 -m pip download -q --no-deps --only-binary=:all: --platform manylinux_2_27_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_12_x86_64 \
    --python-version 3.11 -d "$DIR/wheels" "${WHEELS[@]}"
  for w in "$DIR"/wheels/*.whl; do
    python3 -m zipfile -e "$w" "$DIR/cuda"
  done
  chmod +x "$CUDA"/bin/* "$CUDA"/nvvm/bin/* 2>/dev/null || true
fi
for l in cublas cublasLt nvrtc; do ln -sf "lib$l.so.13" "$CUDA/lib/lib$l.so"; done
ln -sf libcurand.so.10 "$CUDA/lib/libcurand.so"

# The driver stub: every cu* function cudarc's driver bindings declare, as empty bodies in a
# library whose soname is the driver's, so the binaries link here and load the real one there.
cargo fetch -q
CUDARC=$(cargo metadata --format-version 1 --features cuda 2>/dev/null |
  python3 -c 'import json,sys; print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"]=="cudarc"))')
CUDARC=$(dirname "$CUDARC")
mkdir -p "$CUDA/lib/stubs"
grep -ohE '^\s+fn (cu[A-Z][A-Za-z0-9_]*)\(' "$CUDARC/src/driver/sys/mod.rs" |
  sed -E 's/.*fn (cu[A-Za-z0-9_]+)\(/void \1(void) {}/' | sort -u >"$DIR/libcuda_stub.c"
gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$CUDA/lib/stubs/libcuda.so" "$DIR/libcuda_stub.c"

# --- FFmpeg 5.1 with its own decoders only ----------------------------------------------------
FF=$DIR/ffmpeg
if [ ! -f "$FF/lib/libavcodec.so.59" ]; then
  ver=$(dpkg-query -W -f '${Version}' libavcodec59 2>/dev/null | sed -E 's/^[0-9]+://; s/-.*//')
  [ -n "$ver" ] || ver=5.1.9
  echo "==> FFmpeg $ver (native decoders: $FFMPEG_DECODERS)"
  curl -sfL -o "$DIR/ffmpeg.tar.xz" "http://deb.debian.org/debian/pool/main/f/ffmpeg/ffmpeg_$ver.orig.tar.xz"
  rm -rf "$DIR/ffmpeg-src" && mkdir -p "$DIR/ffmpeg-src"
  tar xJf "$DIR/ffmpeg.tar.xz" -C "$DIR/ffmpeg-src" --strip-components=1
  (cd "$DIR/ffmpeg-src" && ./configure --prefix="$FF" --enable-shared --disable-static \
    --disable-programs --disable-doc --disable-everything --disable-avdevice --disable-avfilter \
    --disable-postproc --disable-network --disable-autodetect --enable-pthreads \
    --enable-decoder="$FFMPEG_DECODERS" --enable-demuxer="$FFMPEG_DEMUXERS" \
    --enable-parser=h264,hevc,mpeg4video,vp8,vp9,av1,aac --enable-protocol=file,pipe \
    --enable-swscale --enable-swresample >"$DIR/ffmpeg-configure.log" &&
    make -j"$(nproc)" >"$DIR/ffmpeg-make.log" && make install >>"$DIR/ffmpeg-make.log")
fi

# --- the CUDA build -------------------------------------------------------------------------------
echo "==> cargo: adalens and ${#PARITY_TESTS[@]} test binaries with --features figure,cuda (sm_$CAP)"
export PATH="$CUDA/bin:$PATH" CUDA_PATH="$CUDA" CUDA_COMPUTE_CAP=$CAP
export NVCC_PREPEND_FLAGS="-I$CUDA/include/cccl"
export CARGO_PROFILE_DEV_OPT_LEVEL=3
FEATURES=(--no-default-features --features figure,cuda)
TEST_ARGS=()
for t in "${PARITY_TESTS[@]}"; do TEST_ARGS+=(--test "$t"); done
cargo build "${FEATURES[@]}" --bin adalens
cargo test "${FEATURES[@]}" --no-run --message-format=json "${TEST_ARGS[@]}" >"$DIR/tests.json"

# --- the archive ----------------------------------------------------------------------------------
OUT=$DIR/prebuilt
rm -rf "$OUT" && mkdir -p "$OUT/bin" "$OUT/lib"
strip -o "$OUT/bin/adalens" target/debug/adalens
python3 - "$DIR/tests.json" "$OUT/bin" <<'EOF'
import json, subprocess, sys
for line in open(sys.argv[1]):
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and "test" in m["target"]["kind"]:
        subprocess.run(["strip", "-o", f"{sys.argv[2]}/{m['target']['name']}", m["executable"]], check=True)
EOF
for l in avcodec.so.59 avformat.so.59 avutil.so.57 swscale.so.6 swresample.so.4; do
  cp -L "$FF/lib/lib$l" "$OUT/lib/"
done
echo "$ROOT" >"$OUT/root"
echo "$CAP" >"$OUT/compute_cap"
# xz -9: its 64 MiB window finds the kernels every binary carries again in the next one.
tar cf - -C "$DIR" prebuilt | xz -9 -T2 >"$DIR/prebuilt.tar.xz"
# The CUDA build replaced target/debug/adalens (cargo's copy of the last binary it built):
# put the default build back for `make test` and the window.
env -u CUDA_PATH -u NVCC_PREPEND_FLAGS -u CARGO_PROFILE_DEV_OPT_LEVEL cargo build -q --bin adalens
ls -l "$OUT/bin" "$DIR/prebuilt.tar.xz"
echo "done: GPU_CHECK_PREBUILT=$DIR/prebuilt.tar.xz scripts/gpu_check.sh (on the GPU machine)"
