#!/usr/bin/env python3
"""Writes the PyTorch reference of the 3D backbone with Ada3D's adaptive stages (issue 4) into
tests/fixtures/model/.

The network is written here from PySlowFast's description (ResNet-50 with `BottleneckTransform`,
`stride_1x1=False`; SlowOnly and I3D temporal kernel bases; names s1.pathway0_stem.conv,
s{2..5}.pathway0_res{j}.branch1/branch1_bn/branch2.{a,a_bn,b,b_bn,c,c_bn}, head.projection) with
torch's own nn.Conv3d: it is the independent check of adalens' conv3d-as-2D-taps decomposition.
A stage switched to 2D runs each conv with its centre temporal slice weight[:, :, kt//2] (Ada3D §3.2);
dropped frames are removed from the clip before the network.

Files (tiny widths: stem 4 channels, layers [1, 2, 2, 2], 5 classes, clips of 8 frames of 48²):
  resnet3d_{slow_only,i3d}_tiny.pyth         torch.save({'model_state': state_dict}) (PySlowFast style)
  resnet3d_{slow_only,i3d}_tiny.safetensors  the same tensors, spec in the metadata (adalens.config)
  resnet3d_tiny_io.safetensors  input (2 x 3 x 8 x 48 x 48, N C T H W) and per case
                                {preset}_{case}_logits / _pooled; the cases (stage decisions, kept
                                frames) and their FLOPs (forward hooks) are in the metadata
  resnet3d_flops.json           FLOPs of full SlowOnly-R50 and I3D-R50 on 8 and 16 frames of 224²,
                                all stages 3D and all 2D, counted by the same hooks

FLOPs convention (docs/ARCHITECTURE.md §5): conv and linear multiply-adds plus one per BatchNorm channel.

Usage: /opt/pyenv-budget/bin/python scripts/make_resnet3d_fixture.py
"""

import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_model_fixtures import DEFAULT_OUT, c32, randomise_bn, save_file, seeded_init  # noqa: E402

BASIS = {
    "slow_only": {"stem": 1, "stages": [[1], [1], [3], [3]], "pool1": 1},
    "i3d": {"stem": 5, "stages": [[3], [3, 1], [3, 1], [1, 3]], "pool1": 2},
}


class AdaConv3d(nn.Conv3d):
    """nn.Conv3d that can run as 2D on its centre temporal slice."""
    full3d = True

    def forward(self, x):
        kt = self.kernel_size[0]
        if self.full3d or kt == 1:
            return super().forward(x)
        c = kt // 2
        return F.conv3d(x, self.weight[:, :, c:c + 1], None, self.stride,
                        (0, self.padding[1], self.padding[2]))


class Stem(nn.Module):
    def __init__(self, w, kt):
        super().__init__()
        self.conv = AdaConv3d(3, w, (kt, 7, 7), (1, 2, 2), (kt // 2, 3, 3), bias=False)
        self.bn = nn.BatchNorm3d(w)
        self.relu = nn.ReLU(inplace=True)
        self.pool_layer = nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))

    def forward(self, x):
        return self.pool_layer(self.relu(self.bn(self.conv(x))))


class Transform(nn.Module):
    def __init__(self, dim_in, inner, dim_out, kt, stride):
        super().__init__()
        self.a = AdaConv3d(dim_in, inner, (kt, 1, 1), 1, (kt // 2, 0, 0), bias=False)
        self.a_bn = nn.BatchNorm3d(inner)
        self.b = AdaConv3d(inner, inner, (1, 3, 3), (1, stride, stride), (0, 1, 1), bias=False)
        self.b_bn = nn.BatchNorm3d(inner)
        self.c = AdaConv3d(inner, dim_out, 1, 1, 0, bias=False)
        self.c_bn = nn.BatchNorm3d(dim_out)

    def forward(self, x):
        x = F.relu(self.a_bn(self.a(x)))
        x = F.relu(self.b_bn(self.b(x)))
        return self.c_bn(self.c(x))


class ResBlock(nn.Module):
    def __init__(self, dim_in, inner, dim_out, kt, stride):
        super().__init__()
        if dim_in != dim_out or stride != 1:
            self.branch1 = AdaConv3d(dim_in, dim_out, 1, (1, stride, stride), 0, bias=False)
            self.branch1_bn = nn.BatchNorm3d(dim_out)
        self.branch2 = Transform(dim_in, inner, dim_out, kt, stride)

    def forward(self, x):
        skip = self.branch1_bn(self.branch1(x)) if hasattr(self, "branch1") else x
        return F.relu(skip + self.branch2(x))


class Holder(nn.Module):
    pass


class ResNet3d(nn.Module):
    def __init__(self, preset, width, layers, num_classes):
        super().__init__()
        basis = BASIS[preset]
        self.s1 = Holder()
        self.s1.pathway0_stem = Stem(width, basis["stem"])
        dim_in = width
        self.stage_modules = []
        for s in range(4):
            inner, holder = width << s, Holder()
            for j in range(layers[s]):
                kt = basis["stages"][s][j % len(basis["stages"][s])]
                stride = 2 if j == 0 and s > 0 else 1
                setattr(holder, f"pathway0_res{j}", ResBlock(dim_in, inner, inner * 4, kt, stride))
                dim_in = inner * 4
            setattr(self, f"s{s + 2}", holder)
        self.pool1 = basis["pool1"]
        self.layers = layers
        self.head = Holder()
        self.head.projection = nn.Linear(dim_in, num_classes)
        # Ada3D's K adaptive stages: 0 = stem, 1..4 = res2..res5, those with a temporal kernel > 1.
        self.adaptive = ([0] if basis["stem"] > 1 else []) + [
            s + 1 for s in range(4) if any(basis["stages"][s][j % len(basis["stages"][s])] > 1
                                           for j in range(layers[s]))]

    def stage_modules_of(self, s):
        return [self.s1] if s == 0 else [getattr(self, f"s{s + 1}")]

    def set_stages(self, decisions):
        flags = [True] * 5
        for s, on in zip(self.adaptive, decisions):
            flags[s] = bool(on)
        for s in range(5):
            for holder in self.stage_modules_of(s):
                for m in holder.modules():
                    if isinstance(m, AdaConv3d):
                        m.full3d = flags[s]

    def features(self, x):
        x = self.s1.pathway0_stem(x)
        for s in range(4):
            holder = getattr(self, f"s{s + 2}")
            for j in range(self.layers[s]):
                x = getattr(holder, f"pathway0_res{j}")(x)
            if s == 0 and self.pool1 > 1:
                x = F.max_pool3d(x, (self.pool1, 1, 1), (self.pool1, 1, 1))
        return x

    def forward(self, x):
        pooled = self.features(x).mean(dim=(2, 3, 4))
        return self.head.projection(pooled), pooled


def count_flops(model, x):
    """Multiply-adds by forward hooks: Conv3d (as run: 3D or centre slice), BatchNorm3d channels,
    Linear."""
    total = [0]

    def conv_hook(m, inp, out):
        kt = m.kernel_size[0] if (m.full3d or m.kernel_size[0] == 1) else 1
        per_out = m.in_channels * kt * m.kernel_size[1] * m.kernel_size[2]
        total[0] += out[0].numel() * per_out

    def bn_hook(m, inp, out):
        total[0] += m.num_features

    def lin_hook(m, inp, out):
        total[0] += m.in_features * m.out_features

    hooks = []
    for m in model.modules():
        if isinstance(m, AdaConv3d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.BatchNorm3d):
            hooks.append(m.register_forward_hook(bn_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(lin_hook))
    with torch.no_grad():
        model(x[:1])
    for h in hooks:
        h.remove()
    return total[0]


CASES = {
    "slow_only": [("all3d", [1, 1], None), ("all2d", [0, 0], None), ("mixed", [1, 0], None),
                  ("dropped", [0, 1], [0, 2, 3, 6])],
    "i3d": [("all3d", [1] * 5, None), ("all2d", [0] * 5, None), ("mixed", [1, 0, 1, 0, 1], None),
            ("dropped", [0, 1, 1, 0, 1], [1, 2, 5, 6, 7])],
}


def main():
    out_dir = DEFAULT_OUT
    torch.set_grad_enabled(False)
    g = torch.Generator().manual_seed(4001)
    width, layers, classes, t, side = 4, [1, 2, 2, 2], 5, 8, 48
    x = torch.rand(2, 3, t, side, side, generator=g) * 2 - 1
    io = {"input": c32(x)}
    meta = {}
    for preset in ("slow_only", "i3d"):
        model = ResNet3d(preset, width, layers, classes)
        seeded_init(model, g)
        randomise_bn(model, [torch.randn(4, 3, t, side, side, generator=g)], g)
        spec = {"arch": "resnet3d", "num_classes": classes,
                "backbone": {"preset": preset, "width": width, "layers": layers}}
        sd = {k: v for k, v in model.state_dict().items()}
        base = os.path.join(out_dir, f"resnet3d_{preset}_tiny")
        torch.save({"model_state": sd, "cur_epoch": 1}, base + ".pyth")
        tensors = {k: (v if v.dtype == torch.int64 else c32(v)) for k, v in sd.items()
                   if not k.endswith("num_batches_tracked")}
        save_file(tensors, base + ".safetensors", {"adalens.config": json.dumps(spec, sort_keys=True)})
        cases = []
        for name, stages, kept in CASES[preset]:
            model.set_stages(stages)
            clip = x if kept is None else x[:, :, kept]
            logits, pooled = model(clip)
            io[f"{preset}_{name}_logits"] = c32(logits)
            io[f"{preset}_{name}_pooled"] = c32(pooled)
            cases.append({"name": name, "stages": stages, "kept": kept,
                          "flops": count_flops(model, clip)})
        meta[preset] = {"adaptive_stages": model.adaptive, "cases": cases}
        print(preset, "K =", len(model.adaptive), [(c["name"], c["flops"]) for c in cases])
    save_file(io, os.path.join(out_dir, "resnet3d_tiny_io.safetensors"),
              {"cases": json.dumps(meta, sort_keys=True)})

    flops = {}
    for preset in ("slow_only", "i3d"):
        model = ResNet3d(preset, 64, [3, 4, 6, 3], 400).eval()
        k = len(model.adaptive)
        for frames in (8, 16):
            clip = torch.zeros(1, 3, frames, 224, 224)
            for mode in ("all3d", "all2d"):
                model.set_stages([1 if mode == "all3d" else 0] * k)
                flops[f"{preset}_{frames}_{mode}"] = count_flops(model, clip)
    with open(os.path.join(out_dir, "resnet3d_flops.json"), "w") as f:
        json.dump({"convention": "conv3d + linear multiply-adds, + 1 per BatchNorm3d channel; "
                                 "400 classes; one clip of N frames of 224x224",
                   "flops": flops}, f, indent=1, sort_keys=True)
    print(json.dumps(flops, indent=1))


if __name__ == "__main__":
    main()
