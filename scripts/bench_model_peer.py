#!/usr/bin/env python3
"""PyTorch eager peer of `adalens bench model`: torchvision MobileNetV2 1.0 features + pool on
16x224² and ResNet-50 (no fc) on 16x128², eval mode, no_grad, float32, median of N runs after a
warm-up, with the same thread count as adalens (torch.set_num_threads).

  /opt/pyenv-budget/bin/python scripts/bench_model_peer.py --threads 2
"""
import argparse
import json
import statistics
import time

import torch
import torchvision


def timed(fn, repeat):
    fn()
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--frames", type=int, default=16)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    mb = torchvision.models.mobilenet_v2().eval()
    r50 = torchvision.models.resnet50().eval()
    r50.fc = torch.nn.Identity()
    x = torch.randn(a.frames, 3, 224, 224)
    p = torch.randn(a.frames, 3, 128, 128)
    with torch.no_grad():
        g = timed(lambda: mb.features(x).mean([2, 3]), a.repeat)
        l = timed(lambda: r50(p), a.repeat)
    print(json.dumps({"torch": torch.__version__, "threads": a.threads, "glance_s": g, "local_s": l,
                      "total_s": g + l}))


if __name__ == "__main__":
    main()
