# adalens: two commands do everything on a fresh Debian 12 machine (as root, or with sudo).
#   make run    install what is missing, build (release), open the window on the demo video
#   make test   install what is missing, run the whole test suite

VIDEO ?= assets/demo/demo_testsrc_320x240.mp4
CARGO ?= cargo

.PHONY: run test bootstrap build clippy bench-video train-demo

bootstrap:
	@scripts/bootstrap

build: bootstrap
	$(CARGO) build --release

run: build
	./target/release/adalens $(VIDEO)

test: bootstrap
	$(CARGO) test

clippy: bootstrap
	$(CARGO) clippy --all-targets -- -D warnings

# Side-by-side video benchmark (see BENCHMARKS.md); needs Python with av/decord for the peers.
bench-video: build
	scripts/bench_video.sh

# Regenerate the synthetic benchmark, retrain the demo checkpoint from scratch, evaluate it.
train-demo: build
	scripts/train_demo.sh
