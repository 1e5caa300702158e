# adalens: two commands do everything on a fresh Debian 12 machine (as root, or with sudo).
#   make run    install what is missing, build (release), open the window on the demo video
#   make test   install what is missing, run the whole test suite

# Empty: the window opens the bundled demo (assets/demo/synth/four_actions.mp4 and
# models/ada3d_focus_synth); `make run VIDEO=clip.mp4` opens another video.
VIDEO ?=
CARGO ?= cargo

.PHONY: run test bootstrap build clippy check-lib gpu-check gpu-prebuild bench-video train-demo fuzz

bootstrap:
	@scripts/bootstrap

build: bootstrap
	$(CARGO) build --release

run: build
	./target/release/adalens $(VIDEO)

test: bootstrap
	$(CARGO) test
	scripts/python_test.sh

clippy: bootstrap
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# The library alone, as a program that embeds it builds it: no GTK, wgpu or font stack.
check-lib: bootstrap
	$(CARGO) build --lib --no-default-features

# Fuzz the readers of untrusted files (checkpoints, configs, calibration sets, traces, videos),
# FUZZ_SECONDS each (default 600); see docs/RELIABILITY.md.
fuzz: bootstrap
	scripts/fuzz.sh

# On a machine with an NVIDIA GPU and the CUDA toolkit (see BENCHMARKS.md): < 10 minutes.
# Where that machine has no Rust: `make gpu-prebuild` here, then
# GPU_CHECK_PREBUILT=target/gpu_prebuild/prebuilt.tar.xz scripts/gpu_check.sh there.
gpu-check:
	scripts/gpu_check.sh

gpu-prebuild: bootstrap
	scripts/gpu_prebuild.sh

# Side-by-side video benchmark (see BENCHMARKS.md); needs Python with av/decord for the peers.
bench-video: build
	scripts/bench_video.sh

# Regenerate the synthetic benchmark, retrain the demo checkpoint from scratch, evaluate it.
train-demo: build
	scripts/train_demo.sh
