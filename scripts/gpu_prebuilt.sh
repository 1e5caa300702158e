# Sourced by scripts/gpu_check.sh when GPU_CHECK_PREBUILT names an archive (or its unpacked
# folder) made by scripts/gpu_prebuild.sh: unpacks it, finds the CUDA libraries the binaries load,
# puts `adalens` where the test binaries look for it, and sets BIN and PREBUILT_TESTS.
# shellcheck shell=bash

PB=$OUT_DIR/prebuilt
if [ -d "$PREBUILT" ]; then
  PB=$PREBUILT
else
  [ -f "$PREBUILT" ] || die "GPU_CHECK_PREBUILT=$PREBUILT: no such archive"
  rm -rf "$PB"
  tar xJf "$PREBUILT" -C "$OUT_DIR" || die "GPU_CHECK_PREBUILT=$PREBUILT: cannot unpack it"
fi
[ -x "$PB/bin/adalens" ] && [ -f "$PB/root" ] ||
  die "$PB: not made by scripts/gpu_prebuild.sh (no bin/adalens or root)"

# The test binaries read fixtures below the folder they were built in: that path must lead here.
BUILT_ROOT=$(cat "$PB/root")
if [ "$(cd "$BUILT_ROOT" 2>/dev/null && pwd -P)" != "$(pwd -P)" ]; then
  if [ -e "$BUILT_ROOT" ] || [ -L "$BUILT_ROOT" ]; then
    die "the binaries were built in $BUILT_ROOT, which holds something else here: run from there"
  fi
  mkdir -p "$(dirname "$BUILT_ROOT")" && ln -s "$(pwd -P)" "$BUILT_ROOT" ||
    die "cannot link $BUILT_ROOT to this checkout"
  echo "    linked $BUILT_ROOT -> $(pwd -P) (where the prebuilt tests look for fixtures)"
fi

# cuBLAS, cuRAND and NVRTC 13: from PyTorch's wheels, a toolkit, or the loader's cache.
cuda_dirs=$(python3 - <<'EOF' 2>/dev/null || true
import glob, os, site, sys
roots = site.getsitepackages() + [site.getusersitepackages()] + sys.path
found = []
for r in roots:
    for lib in glob.glob(os.path.join(r, "nvidia", "*", "lib")):
        if lib not in found:
            found.append(lib)
print(":".join(found))
EOF
)
# The driver's libcuda.so.1: the loader's cache, or where container images mount it.
LD_LIBRARY_PATH="$PB/lib${cuda_dirs:+:$cuda_dirs}:/usr/local/cuda/lib64:/usr/local/nvidia/lib64:/usr/local/nvidia/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LD_LIBRARY_PATH
missing=$(ldd "$PB/bin/adalens" 2>&1 | awk '/not found/ {print $1}' | tr '\n' ' ')
[ -z "$missing" ] || die "the prebuilt adalens cannot load: ${missing}(LD_LIBRARY_PATH=$LD_LIBRARY_PATH)"
if [ -n "${CUDA_COMPUTE_CAP:-}" ] && [ -f "$PB/compute_cap" ] &&
  [ "$(cat "$PB/compute_cap")" != "$CUDA_COMPUTE_CAP" ]; then
  echo "    warning: built for sm_$(cat "$PB/compute_cap"), this GPU is sm_$CUDA_COMPUTE_CAP" >&2
fi

mkdir -p target/debug
cp "$PB/bin/adalens" target/debug/adalens
BIN=target/debug/adalens
PREBUILT_TESTS=()
for t in "${PARITY_TESTS[@]}"; do
  [ -x "$PB/bin/$t" ] && PREBUILT_TESTS+=("$PB/bin/$t")
done
echo "    prebuilt: $PB (${#PREBUILT_TESTS[@]} test binaries), libraries: $LD_LIBRARY_PATH"
