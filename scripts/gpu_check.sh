#!/usr/bin/env bash
# GPU readiness check for a machine with an NVIDIA GPU and the CUDA toolkit, in under 10 minutes:
#
#   1. checks nvidia-smi, nvcc, cargo and python3 (clear error when one is missing), prints the GPU
#   2. scripts/bootstrap (system packages; skipped without apt-get, or with GPU_CHECK_BOOTSTRAP=0)
#   3. a Python with CUDA torch + torchvision + safetensors: $PYTHON, /opt/pyenv-budget, the venv
#      below, python3; when none has them, installs scripts/requirements-fixtures.txt into a venv
#      (in the background, while cargo builds)
#   4. cargo build --release --features cuda
#   5. the PyTorch parity tests of every arch on CUDA (ADALENS_TEST_DEVICE=cuda; same fixtures,
#      same bounds as on the CPU), and cli_inspect (the binary picks CUDA itself in a cuda build)
#   6. adalens bench model / bench model3d and PyTorch eager (scripts/bench_model*_peer.py
#      --device cuda: same networks, same batch, float32 with TF32 off) on the same GPU, and
#      `adalens inspect` of the demo video; one markdown table for BENCHMARKS.md
#
# Every step runs under `timeout`, its limit cut to what is left of the budget (GPU_CHECK_BUDGET_S,
# 560 s), so the whole run ends within 10 minutes; the time of each step is printed at the end.
# A first run on a fresh machine may spend its build step's share compiling (candle's CUDA kernels,
# the window's stack): run it again, target/ keeps what was built.
#
# On a GPU machine without Rust or a network, GPU_CHECK_PREBUILT=ARCHIVE (made elsewhere by
# scripts/gpu_prebuild.sh) replaces steps 2 and 4: the binaries and the FFmpeg libraries in it
# are used as they are, with the CUDA libraries of the machine's PyTorch or toolkit.
#
# Knobs: GPU_CHECK_BUDGET_S (560), GPU_CHECK_REPEAT (10 timed runs per bench after one warm-up),
# GPU_CHECK_INSPECT_RUNS (3, after one warm-up), GPU_CHECK_OUT (target/gpu_check: logs, summary.md),
# GPU_CHECK_VENV (target/gpu_check/venv), GPU_CHECK_BOOTSTRAP (1), PYTHON; pip honours
# PIP_INDEX_URL / PIP_EXTRA_INDEX_URL (e.g. a torch wheel index matching an older driver).
# Exit status: 0 when everything passed and ran on CUDA, 1 otherwise (the table is printed anyway).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

BUDGET_S=${GPU_CHECK_BUDGET_S:-560}
REPEAT=${GPU_CHECK_REPEAT:-10}
INSPECT_RUNS=${GPU_CHECK_INSPECT_RUNS:-3}
OUT_DIR=${GPU_CHECK_OUT:-target/gpu_check}
VENV=${GPU_CHECK_VENV:-$OUT_DIR/venv}
DEMO_VIDEO=assets/demo/synth/four_actions.mp4
DEMO_CK=models/ada3d_focus_synth.safetensors
BIN=target/release/adalens
PREBUILT=${GPU_CHECK_PREBUILT:-}
# The parity tests against the PyTorch fixtures (tests/fixtures/model), one binary per arch or
# part, and the binary run end to end (cli_inspect compares its raw logits with PyTorch's too).
PARITY_TESTS=(model_parity model_checkpoint model_conv3d model_patch model_resnet3d model_ada3d
  model_ada3d_focus model_uni_adafocus cli_inspect)

T0=$SECONDS
FAILURES=()
STEP_LINES=()
export CARGO_TERM_COLOR=never

die() {
  echo "gpu_check: error: $*" >&2
  exit 1
}
elapsed() { echo $((SECONDS - T0)); }
left() { echo $((BUDGET_S - (SECONDS - T0))); }
record() { STEP_LINES+=("$(printf '| %s | %s | %s s | %s s |' "$1" "$2" "$3" "$4")"); }

# step SLUG TITLE CAP RESERVE CMD...: runs CMD under timeout, its limit the smaller of CAP and the
# budget left minus RESERVE (seconds kept for the steps after it); stdout to $OUT_DIR/SLUG.out,
# stderr to SLUG.err. Returns CMD's status (124/137: timed out).
step() {
  local slug=$1 title=$2 cap=$3 reserve=$4
  shift 4
  local limit
  limit=$(($(left) - reserve))
  ((limit > cap)) && limit=$cap
  if ((limit < 5)); then
    echo "==> [$(elapsed) s] $title: skipped, the time budget is spent"
    record "$title" "skipped (budget)" 0 0
    FAILURES+=("$title: skipped, time budget spent")
    return 124
  fi
  echo "==> [$(elapsed) s] $title (limit ${limit} s; log $OUT_DIR/$slug.{out,err})"
  local t=$SECONDS rc=0
  timeout --kill-after=10 "$limit" "$@" >"$OUT_DIR/$slug.out" 2>"$OUT_DIR/$slug.err" || rc=$?
  local dt=$((SECONDS - t)) status=ok
  if ((rc == 124 || rc == 137)); then
    status="timed out"
  elif ((rc != 0)); then
    status="failed ($rc)"
  fi
  record "$title" "$status" "$dt" "$limit"
  echo "    $status in $dt s"
  if ((rc != 0)); then
    FAILURES+=("$title: $status")
    tail -n 25 "$OUT_DIR/$slug.err" | sed 's/^/    | /' >&2 || true
  fi
  return "$rc"
}

mkdir -p "$OUT_DIR"
rm -f "$OUT_DIR"/*.out "$OUT_DIR"/*.err "$OUT_DIR"/summary.md

# --- 1. what the machine has ------------------------------------------------------------------
echo "==> [0 s] checking the machine"
command -v nvidia-smi >/dev/null ||
  die "nvidia-smi not found: this script needs an NVIDIA GPU with its driver installed"
if ! command -v nvcc >/dev/null; then
  for d in "${CUDA_HOME:-}" "${CUDA_PATH:-}" /usr/local/cuda; do
    if [ -n "$d" ] && [ -x "$d/bin/nvcc" ]; then
      export PATH="$d/bin:$PATH"
      break
    fi
  done
fi
[ -n "$PREBUILT" ] || command -v nvcc >/dev/null ||
  die "nvcc not found (not on PATH, not in \$CUDA_HOME, \$CUDA_PATH or /usr/local/cuda/bin): install the CUDA toolkit; candle's cuda feature compiles its kernels with it"
if ! command -v cargo >/dev/null && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
command -v python3 >/dev/null || die "python3 not found (needed for the PyTorch peers and the table)"
command -v timeout >/dev/null || die "timeout (GNU coreutils) not found"
if [ ! -f "$DEMO_VIDEO" ] || [ ! -f "$DEMO_CK" ]; then
  die "the demo ($DEMO_VIDEO, $DEMO_CK) is missing"
fi

# nvidia-smi ignores CUDA_VISIBLE_DEVICES; candle's GPU 0 and torch's cuda:0 are its first entry.
GPU_INDEX=${CUDA_VISIBLE_DEVICES:-0}
GPU_INDEX=${GPU_INDEX%%,*}
GPU_LINE=$(timeout 30 nvidia-smi --query-gpu=name,driver_version --format=csv,noheader -i "$GPU_INDEX" 2>&1 | head -n 1) ||
  die "nvidia-smi cannot query GPU $GPU_INDEX: $GPU_LINE"
GPU_NAME=${GPU_LINE%%,*}
GPU_DRIVER=$(echo "${GPU_LINE#*,}" | tr -d ' ')
DRIVER_CUDA=$(timeout 30 nvidia-smi 2>/dev/null | grep -o 'CUDA Version: *[0-9.]*' | grep -o '[0-9.]*$' || true)
NVCC_CUDA=$(nvcc --version 2>/dev/null | grep -o 'release [0-9.]*' | grep -o '[0-9.]*$' || true)
echo "    GPU $GPU_INDEX: $GPU_NAME, driver $GPU_DRIVER (CUDA ${DRIVER_CUDA:-?}); nvcc ${NVCC_CUDA:-?}"
if [ -n "$DRIVER_CUDA" ] && [ -n "$NVCC_CUDA" ] &&
  [ "$(printf '%s\n%s\n' "$NVCC_CUDA" "$DRIVER_CUDA" | sort -V | tail -n 1)" != "$DRIVER_CUDA" ]; then
  echo "    warning: nvcc $NVCC_CUDA is newer than the driver's CUDA $DRIVER_CUDA: kernels may fail to load" >&2
fi
# candle's kernels are compiled for this compute capability (bindgen_cuda reads it, e.g. 90).
if [ -z "${CUDA_COMPUTE_CAP:-}" ]; then
  cap=$(timeout 30 nvidia-smi --query-gpu=compute_cap --format=csv,noheader -i "$GPU_INDEX" 2>/dev/null | head -n 1 | tr -d ' .' || true)
  if [[ "$cap" =~ ^[0-9]+$ ]]; then
    export CUDA_COMPUTE_CAP=$cap
  fi
fi
CANDLE_VERSION=$(awk '/^name = "candle-core"$/ {getline; gsub(/[^0-9.]/, ""); print; exit}' Cargo.lock)

# --- 2. system packages, or the prebuilt binaries --------------------------------------------------
if [ -n "$PREBUILT" ]; then
  # shellcheck source=scripts/gpu_prebuilt.sh
  . scripts/gpu_prebuilt.sh
else
  if [ "${GPU_CHECK_BOOTSTRAP:-1}" != 0 ] && command -v apt-get >/dev/null; then
    step bootstrap "scripts/bootstrap (system packages)" 150 420 scripts/bootstrap || true
  fi
  command -v cargo >/dev/null || die "cargo not found: install Rust 1.95 or newer (scripts/bootstrap does)"
fi

# --- 3. Python with CUDA torch (installed in the background only when missing) --------------------
PY=""
PY_NOTES=()
for cand in "${PYTHON:-}" /opt/pyenv-budget/bin/python "$VENV/bin/python" python3; do
  if [ -z "$cand" ] || ! command -v "$cand" >/dev/null; then
    continue
  fi
  if why=$(timeout 120 "$cand" -c '
import torch, torchvision, safetensors
assert torch.cuda.is_available(), "torch %s sees no CUDA GPU (CUDA build: %s)" % (torch.__version__, torch.version.cuda)
' 2>&1); then
    PY=$cand
    break
  fi
  PY_NOTES+=("$cand: $(echo "$why" | tail -n 1)")
done
PY_PID=""
if [ -n "$PY" ]; then
  echo "    PyTorch: $PY"
else
  printf '    no Python with CUDA torch, torchvision and safetensors:\n' >&2
  printf '      %s\n' "${PY_NOTES[@]}" >&2
  py_cap=$(($(left) - 150))
  ((py_cap > 420)) && py_cap=420
  ((py_cap < 30)) && die "too little time left to install torch"
  echo "==> [$(elapsed) s] installing scripts/requirements-fixtures.txt into $VENV, in the background (limit ${py_cap} s; log $OUT_DIR/python.{out,err})"
  PY_START=$SECONDS
  # shellcheck disable=SC2016 # expanded by the inner bash
  timeout --kill-after=10 "$py_cap" bash -euo pipefail -c '
    if ! "$1/bin/python" -m pip --version >/dev/null 2>&1; then
      # Debian ships venv without ensurepip: python3-venv adds it (as root).
      python3 -m venv "$1" || { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv && python3 -m venv "$1"; }
    fi
    "$1/bin/python" -m pip install --disable-pip-version-check -q -r scripts/requirements-fixtures.txt
    "$1/bin/python" -c "import torch; assert torch.cuda.is_available(), \"torch \" + torch.__version__ + \" sees no CUDA GPU\""
  ' _ "$VENV" >"$OUT_DIR/python.out" 2>"$OUT_DIR/python.err" &
  PY_PID=$!
  # Stop the install with the script (the build can end it early).
  trap '[ -n "$PY_PID" ] && kill "$PY_PID" 2>/dev/null' EXIT
fi

# --- 4. build -------------------------------------------------------------------------------------
if [ -z "$PREBUILT" ]; then
  step build "cargo build --release --features cuda" 420 240 \
    cargo build --release --features cuda ||
    die "the build failed or ran out of its time (see $OUT_DIR/build.err; a rerun continues where it stopped)"
fi

# --- 5. parity tests on CUDA ----------------------------------------------------------------------
TEST_ARGS=()
for t in "${PARITY_TESTS[@]}"; do
  [ -f "tests/$t.rs" ] && TEST_ARGS+=(--test "$t")
done
TEST_DEVICE="CUDA (ADALENS_TEST_DEVICE=cuda)"
[ -n "$PREBUILT" ] && TEST_DEVICE="CUDA (ADALENS_TEST_DEVICE=cuda), prebuilt binaries"
if ! grep -rqs ADALENS_TEST_DEVICE tests/; then
  TEST_DEVICE="CPU: the tests do not read ADALENS_TEST_DEVICE yet (only cli_inspect ran on CUDA)"
  FAILURES+=("parity tests: $TEST_DEVICE")
  echo "    warning: tests/ never reads ADALENS_TEST_DEVICE: the model_* parity tests will run on the CPU" >&2
fi
TESTS_OK=0
if [ -n "$PREBUILT" ]; then
  # shellcheck disable=SC2016 # expanded by the inner bash
  if step test "prebuilt test binaries (${#PREBUILT_TESTS[@]})" 150 110 \
    env ADALENS_TEST_DEVICE=cuda bash -c 'rc=0; for t in "$@"; do
      echo "     Running tests/${t##*/}.rs ($t)"; "$t" 2>&1 || rc=1; done; exit $rc' _ \
    "${PREBUILT_TESTS[@]}"; then
    TESTS_OK=1
  fi
elif step test_build "cargo test --release --features cuda --no-run" 300 150 \
  cargo test --release --features cuda --no-run "${TEST_ARGS[@]}"; then
  if step test "cargo test --release --features cuda ($((${#TEST_ARGS[@]} / 2)) test binaries)" 150 110 \
    env ADALENS_TEST_DEVICE=cuda bash -c '"$@" 2>&1' _ \
    cargo test --release --features cuda "${TEST_ARGS[@]}"; then
    TESTS_OK=1
  fi
fi

# --- 6. benches on the GPU: adalens, then PyTorch eager -------------------------------------------
if [ -n "$PY_PID" ]; then
  echo "==> [$(elapsed) s] waiting for the torch install"
  py_rc=0
  wait "$PY_PID" || py_rc=$?
  PY_PID=""
  if ((py_rc == 0)); then
    PY=$VENV/bin/python
    record "pip install torch (background)" ok $((SECONDS - PY_START)) "$py_cap"
  else
    record "pip install torch (background)" "failed ($py_rc)" $((SECONDS - PY_START)) "$py_cap"
    FAILURES+=("torch install: failed ($py_rc), see $OUT_DIR/python.err")
    tail -n 15 "$OUT_DIR/python.err" | sed 's/^/    | /' >&2 || true
  fi
fi

step adalens_model "adalens bench model (CUDA)" 90 75 \
  "$BIN" bench model --frames 16 --glance-size 224 --patch-size 128 --repeat "$REPEAT" --json || true
step adalens_model3d "adalens bench model3d (CUDA)" 90 60 \
  "$BIN" bench model3d --preset slow_only --frames 8 --size 224 --repeat "$REPEAT" --json || true
# One process per run (inspect has no repeat); the first run only warms the caches and the GPU.
# shellcheck disable=SC2016 # expanded by the inner bash
step inspect "adalens inspect demo (1 + $INSPECT_RUNS runs)" 90 45 \
  bash -c 'for _ in $(seq 0 "$1"); do "$2" inspect "$3" --checkpoint "$4" || exit; done' _ \
  "$INSPECT_RUNS" "$BIN" "$DEMO_VIDEO" "$DEMO_CK" || true
if [ -n "$PY" ]; then
  step torch_model "PyTorch bench_model_peer.py --device cuda" 90 20 \
    "$PY" scripts/bench_model_peer.py --device cuda --frames 16 --repeat "$REPEAT" || true
  step torch_model3d "PyTorch bench_model3d_peer.py --device cuda" 90 0 \
    "$PY" scripts/bench_model3d_peer.py --device cuda --preset slow_only --frames 8 --size 224 \
    --repeat "$REPEAT" || true
else
  FAILURES+=("PyTorch peers: no Python with CUDA torch")
fi

# --- the table ------------------------------------------------------------------------------------
TORCH_DESC=""
if [ -n "$PY" ]; then
  TORCH_DESC=$(timeout 60 "$PY" -c 'import torch; print("PyTorch %s (CUDA %s, cuDNN %s)" % (torch.__version__, torch.version.cuda, torch.backends.cudnn.version()))' 2>/dev/null || true)
fi
table_rc=0
BUILD_DESC='`--release --features cuda`'
[ -n "$PREBUILT" ] && BUILD_DESC='`--features figure,cuda` prebuilt by scripts/gpu_prebuild.sh (opt-level 3, no window)'
BUILD_DESC=$BUILD_DESC GPU_NAME=$GPU_NAME GPU_DRIVER=$GPU_DRIVER NVCC_CUDA=${NVCC_CUDA:-?} CANDLE_VERSION=$CANDLE_VERSION \
  TORCH_DESC=${TORCH_DESC:-PyTorch: not available} REPEAT=$REPEAT INSPECT_RUNS=$INSPECT_RUNS \
  python3 - "$OUT_DIR" >"$OUT_DIR/summary.md" <<'EOF' || table_rc=$?
import json, os, re, statistics, sys

out = sys.argv[1]
env = os.environ
bad = []


def text(name):
    try:
        with open(os.path.join(out, name + ".out")) as f:
            return f.read()
    except OSError:
        return ""


def last_json(name):
    for line in reversed(text(name).splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                return None
    return None


def check(j, prefix, who):
    """The JSON, or None when missing or not run on CUDA (noted in `bad`)."""
    if j is None:
        bad.append(f"{who}: no result")
        return None
    if not str(j.get("device", "")).lower().startswith(prefix):
        bad.append(f"{who}: ran on {j.get('device')!r}, not CUDA")
        return None
    return j


am = check(last_json("adalens_model"), "cuda", "adalens bench model")
a3 = check(last_json("adalens_model3d"), "cuda", "adalens bench model3d")
tm = check(last_json("torch_model"), "cuda", "PyTorch bench_model_peer.py")
t3 = check(last_json("torch_model3d"), "cuda", "PyTorch bench_model3d_peer.py")

# inspect: "time        frames 0.12 s, model 0.34 s on CUDA", one line per process.
runs = re.findall(r"time\s+frames ([0-9.]+) s, model ([0-9.]+) s on (\S+)", text("inspect"))
if runs and any(dev != "CUDA" for _, _, dev in runs):
    bad.append("adalens inspect: ran on " + ", ".join(sorted({d for _, _, d in runs})))
    runs = []
timed = runs[1:] if len(runs) > 1 else runs
if not runs:
    bad.append("adalens inspect: no result")
decimals = min((len(m.split(".")[1]) if "." in m else 0 for _, m, _ in timed), default=3)


def ms(v):
    if v is None:
        return "—"
    v *= 1000
    return f"{v:.2f}" if v < 10 else f"{v:.1f}"


def row(label, a, t, t_text=None):
    ratio = f"{a / t:.2f}×" if a is not None and t else "—"
    if t_text is not None:
        ratio = "n/a"
    print(f"| {label} | {ms(a)} | {t_text if t_text is not None else ms(t)} | {ratio} |")


def get(j, *keys):
    for k in keys:
        if j is None:
            return None
        j = j.get(k)
    return j


cases3d = [("all_3d", "all stages 3D"), ("all_2d", "all stages 2D"), ("half_frames", "half the frames")]


def sum3d(j):
    vals = [get(j, "cases", c, "s") for c, _ in cases3d]
    return None if any(v is None for v in vals) else sum(vals)


print(f"### GPU: {env['GPU_NAME']} (driver {env['GPU_DRIVER']}, nvcc {env['NVCC_CUDA']})")
print()
print(f"adalens {env['BUILD_DESC']} (candle {env['CANDLE_VERSION']}, no cuDNN) against {env['TORCH_DESC']} "
      f"eager on the same GPU: same networks, same batch, random weights, float32 with TF32 off, "
      f"no_grad; median of {env['REPEAT']} runs after a warm-up, each ending when the result is "
      f"on the host. `inspect`: its own `model` time, median of {env['INSPECT_RUNS']} processes "
      f"after a warm-up one (CUDA set-up and weights upload excluded, first kernel loads included).")
print()
print("| run | adalens CUDA (ms) | PyTorch CUDA (ms) | adalens / PyTorch |")
print("|---|---|---|---|")
row("**bench model**: MobileNetV2 1.0 16×224² + ResNet-50 16×128²", get(am, "total_s"), get(tm, "total_s"))
row("↳ glance: MobileNetV2 1.0, 16×224²", get(am, "glance_s"), get(tm, "glance_s"))
row("↳ local: ResNet-50, 16×128²", get(am, "local_s"), get(tm, "local_s"))
row("**bench model3d**: SlowOnly-R50, 1 clip of 8×224², sum of the 3 cases", sum3d(a3), sum3d(t3))
for c, label in cases3d:
    row(f"↳ {label}", get(a3, "cases", c, "s"), get(t3, "cases", c, "s"))
model = statistics.median(float(m) for _, m, _ in timed) if timed else None
frames = statistics.median(float(f) for f, _, _ in timed) if timed else None
res = f", printed to {10 ** (3 - decimals):g} ms" if decimals < 3 else ""
row(f"**inspect demo**: `four_actions.mp4`, `ada3d_focus_synth` (model time{res})", model, None,
    "n/a (no PyTorch inspect pipeline)")
row("↳ frames: decode + sampling (CPU)", frames, None, "n/a")
for b in bad:
    print(f"\n> not valid: {b}")
sys.exit(1 if bad else 0)
EOF
if ((table_rc != 0)); then
  FAILURES+=("bench table: some results missing or not on CUDA (see the notes under the table)")
fi

echo
echo "==================== GPU check: $GPU_NAME, driver $GPU_DRIVER ===================="
echo
cat "$OUT_DIR/summary.md"
echo
echo "Parity tests on $TEST_DEVICE:"
if [ -f "$OUT_DIR/test.out" ]; then
  awk '/Running (tests|unittests)\// {name=$2} /^test result:/ {print "  " name ": " $0}' "$OUT_DIR/test.out"
  grep -E '^test .* FAILED$' "$OUT_DIR/test.out" | sed 's/^/  /' || true
  ((TESTS_OK)) || echo "  (not all passed; full log $OUT_DIR/test.out)"
else
  echo "  not run"
fi
echo
echo "| step | status | took | limit |"
echo "|---|---|---|---|"
printf '%s\n' "${STEP_LINES[@]}"
echo
echo "total $(elapsed) s of a ${BUDGET_S} s budget; logs and summary.md in $OUT_DIR"
if ((${#FAILURES[@]})); then
  echo
  echo "NOT READY:"
  printf '  - %s\n' "${FAILURES[@]}"
  exit 1
fi
echo "GPU ready: build, parity tests on CUDA and benches all passed."
