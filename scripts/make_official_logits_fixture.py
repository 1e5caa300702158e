#!/usr/bin/env python3
"""Writes tiny torch.save files shaped like the official Uni-AdaFocus early-exit logits file.

The official `test_early_exit_uni_adafocus.py` saves
    {'train_logits': N x 17 x C float32, 'train_targets': N x 3 int64 (labels, -1 padded),
     'val_logits': ..., 'val_targets': ...}
These fixtures keep that layout at toy size so the Rust importer (src/model/official_logits.rs)
can be tested without torch in CI:

* official_logits_small.pth: 6 train / 4 val samples, 3 steps, 5 classes, float32 logits,
  N x 3 int64 targets padded with -1 (one sample has two labels -> multi-label);
* official_logits_single.pth: 3 train / 2 val, 2 steps, 4 classes, float16 logits,
  1-D int64 targets (single-label).

Logit values follow a formula the Rust test re-computes:
    logits[i, t, c] = split_offset + i + 0.25 * t + 0.125 * c   (exact in float16 too)
with split_offset 0 for train and 100 for val (10 for the float16 file's val).

Usage: /opt/pyenv-budget/bin/python scripts/make_official_logits_fixture.py
"""

import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "tests", "fixtures", "budget"))


def logits(n, steps, classes, offset, dtype):
    i = torch.arange(n, dtype=torch.float64).view(n, 1, 1)
    t = torch.arange(steps, dtype=torch.float64).view(1, steps, 1)
    c = torch.arange(classes, dtype=torch.float64).view(1, 1, classes)
    return (offset + i + 0.25 * t + 0.125 * c).to(dtype).contiguous()


def main():
    os.makedirs(OUT, exist_ok=True)
    small = {
        "train_logits": logits(6, 3, 5, 0.0, torch.float32),
        "train_targets": torch.tensor(
            [[0, -1, -1], [1, 3, -1], [2, -1, -1], [3, -1, -1], [4, -1, -1], [0, -1, -1]],
            dtype=torch.int64),
        "val_logits": logits(4, 3, 5, 100.0, torch.float32),
        "val_targets": torch.tensor(
            [[4, -1, -1], [3, -1, -1], [2, -1, -1], [1, -1, -1]], dtype=torch.int64),
    }
    single = {
        "train_logits": logits(3, 2, 4, 0.0, torch.float16),
        "train_targets": torch.tensor([3, 2, 1], dtype=torch.int64),
        "val_logits": logits(2, 2, 4, 10.0, torch.float16),
        "val_targets": torch.tensor([0, 3], dtype=torch.int64),
    }
    for name, data in [("official_logits_small.pth", small), ("official_logits_single.pth", single)]:
        path = os.path.join(OUT, name)
        torch.save(data, path)
        print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
