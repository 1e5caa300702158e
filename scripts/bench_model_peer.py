#!/usr/bin/env python3
"""PyTorch eager peer of `adalens bench model`: torchvision MobileNetV2 1.0 features + pool on
16x224² and ResNet-50 (no fc) on 16x128², eval mode, no_grad, float32, median of N runs after a
warm-up, with the same thread count as adalens (torch.set_num_threads).

  /opt/pyenv-budget/bin/python scripts/bench_model_peer.py --threads 2
  python scripts/bench_model_peer.py --device cuda      # GPU 0 (scripts/gpu_check.sh)

On CUDA each run ends with torch.cuda.synchronize() (adalens reads a value back), and TF32 is off
unless --tf32: adalens' CUDA build multiplies in true float32.
"""
import argparse
import json
import statistics
import time

import torch
import torchvision


def timed(fn, repeat, sync=None):
    """Median seconds of `repeat` runs of fn after one warm-up; `sync` waits for the device."""
    def once():
        fn()
        if sync is not None:
            sync()

    once()
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        once()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def add_device_args(ap):
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda (GPU 0, or cuda:N)")
    ap.add_argument("--tf32", action="store_true", help="on CUDA: allow TF32 (off by default)")


def setup_device(a):
    """torch.device, a sync function (None on the CPU) and a description for the JSON."""
    device = torch.device(a.device)
    if device.type != "cuda":
        return device, None, {"device": str(device)}
    if not torch.cuda.is_available():
        raise SystemExit(f"--device {a.device}: this torch ({torch.__version__}) sees no CUDA GPU")
    prec = "tf32" if a.tf32 else "ieee"
    try:  # torch >= 2.9
        torch.backends.cuda.matmul.fp32_precision = prec
        torch.backends.cudnn.conv.fp32_precision = prec
    except AttributeError:
        torch.backends.cuda.matmul.allow_tf32 = a.tf32
        torch.backends.cudnn.allow_tf32 = a.tf32
    if device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    torch.cuda.set_device(device)
    return device, lambda: torch.cuda.synchronize(device), {
        "device": f"{device} ({torch.cuda.get_device_name(device)})",
        "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(), "tf32": a.tf32}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--frames", type=int, default=16)
    add_device_args(ap)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dev, sync, info = setup_device(a)
    mb = torchvision.models.mobilenet_v2().eval().to(dev)
    r50 = torchvision.models.resnet50().eval()
    r50.fc = torch.nn.Identity()
    r50 = r50.to(dev)
    x = torch.randn(a.frames, 3, 224, 224, device=dev)
    p = torch.randn(a.frames, 3, 128, 128, device=dev)
    with torch.no_grad():
        g = timed(lambda: mb.features(x).mean([2, 3]), a.repeat, sync)
        l = timed(lambda: r50(p), a.repeat, sync)
    print(json.dumps({"torch": torch.__version__, "threads": a.threads, **info, "glance_s": g,
                      "local_s": l, "total_s": g + l}))


if __name__ == "__main__":
    main()
