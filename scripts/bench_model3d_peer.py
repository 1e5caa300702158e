#!/usr/bin/env python3
"""PyTorch eager peer of `adalens bench model3d`: the same SlowOnly-R50 (PySlowFast layout, built by
scripts/make_resnet3d_fixture.py with torch's nn.Conv3d) on one clip of 8x224², all stages 3D,
all 2D (centre temporal slice) and half the frames; eval, no_grad, float32, median of N runs after a
warm-up, same thread count.

  /opt/pyenv-budget/bin/python scripts/bench_model3d_peer.py --threads 2
  python scripts/bench_model3d_peer.py --device cuda    # GPU 0 (scripts/gpu_check.sh)
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_model_peer import add_device_args, setup_device, timed  # noqa: E402
from make_resnet3d_fixture import ResNet3d  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--preset", default="slow_only")
    add_device_args(ap)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_grad_enabled(False)
    dev, sync, info = setup_device(a)
    net = ResNet3d(a.preset, 64, [3, 4, 6, 3], 400).eval().to(dev)
    k = len(net.adaptive)
    clip = torch.randn(1, 3, a.frames, a.size, a.size, device=dev)
    half = clip[:, :, : max(1, a.frames // 2)].contiguous()
    out = {}
    for name, x, stages in [("all_3d", clip, [1] * k), ("all_2d", clip, [0] * k),
                            ("half_frames", half, [1] * k)]:
        net.set_stages(stages)
        out[name] = {"s": timed(lambda: net(x), a.repeat, sync)}
    print(json.dumps({"torch": torch.__version__, "threads": a.threads, **info, "preset": a.preset,
                      "cases": out}))


if __name__ == "__main__":
    main()
