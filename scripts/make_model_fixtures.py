#!/usr/bin/env python3
"""Writes the PyTorch reference fixtures for the "Model I" work (issue 3) into tests/fixtures/model/.

Everything is seeded, float32, NCHW (2D) / NCTHW (3D), and small enough to commit. The Rust tests
(candle networks, checkpoint readers, FLOPs counter) compare against these files; see
tests/fixtures/model/README.md for the tensor names and conventions.

Files written:
  conv3d.safetensors             F.conv3d cases (input, weight, optional bias, output; params in metadata)
  grid_sample.safetensors        AdaFocus patch extraction (affine_grid + grid_sample, align_corners=False)
  policy_ops.safetensors         linear interpolation of the policy outputs + the deterministic quantile rule
  mobilenet_v2_w{W}.pth.tar      torchvision MobileNetV2, DataParallel-wrapped, torch.save({'epoch','state_dict'})
  mobilenet_v2_w{W}.safetensors  the same state_dict, plain names
  mobilenet_v2_w{W}_io.safetensors   input / features / pooled / logits
  mobilenet_v2_official_keys.json
                                 MobileNetV2 1.0: official AdaFocus/Uni-AdaFocus key (tonylins layout) ->
                                 torchvision key, with shapes (the official checkpoints use the former)
  mobilenet_v2_w{W}_official_names.pth.tar   (only with --official-names-pth)
                                 the same weights as mobilenet_v2_w{W} under the official key layout
  resnet_basic_base{B}.*, resnet_bottleneck_base{B}.*   the same three files for two reduced ResNets
                                 (B = stem channels = 64 * width)
  flops.json                     reference FLOPs (official figures reproduced + fixtures + per-layer tables)
  evil.pth                       torch-style zip whose data.pkl REDUCEs os.system (never loaded here)

Usage (CPU is enough; takes well under a minute):
  /opt/pyenv-budget/bin/python scripts/make_model_fixtures.py
Options: --out DIR, --mbv2-width 0.1, --resnet-width 0.09375 (= 6 stem channels); the defaults keep the
folder near 3 MB. --mbv2-width 0.5 gives the width first asked for, at about 2.9 MB per weight file.
Tested with torch 2.15.0 (CPU) + torchvision 0.29.2 + safetensors 0.8.0 + numpy 2.4.6 (Python 3.11).
"""

import argparse
import collections
import json
import math
import os
import pickletools
import struct
import sys
import zipfile

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from safetensors.torch import save as st_save
from torchvision.models.resnet import BasicBlock, Bottleneck

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.normpath(os.path.join(HERE, "..", "tests", "fixtures", "model"))
REGEN = "/opt/pyenv-budget/bin/python scripts/make_model_fixtures.py"


def save_file(tensors, path, metadata=None):
    """safetensors.torch.save_file with a byte-stable header: the library writes __metadata__ in hash-map
    order, so the header is re-serialised with sorted keys (offsets are relative to the data section,
    so they do not change). Regenerating then gives identical bytes."""
    blob = st_save(tensors, metadata=metadata)
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    if "__metadata__" in header:
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + blob[8 + n:])


def c32(t):
    return t.detach().to(torch.float32).contiguous().clone()


def meta_json(obj):
    return json.dumps(obj, sort_keys=True)


def shapes(tensors):
    return {k: list(v.shape) for k, v in tensors.items()}


# ----------------------------------------------------------------------------------------------
# 1. conv3d
# ----------------------------------------------------------------------------------------------

# (cin, cout, kernel (t,h,w), stride, padding, bias, input shape N,C,T,H,W, note)
CONV3D_CASES = [
    (3, 4, (3, 3, 3), (1, 1, 1), (1, 1, 1), True, (2, 3, 5, 9, 10), "3x3x3 same-like, bias"),
    (4, 5, (3, 3, 3), (1, 1, 1), (0, 0, 0), False, (1, 4, 5, 8, 7), "3x3x3 valid, no bias"),
    (4, 3, (3, 3, 3), (2, 2, 2), (1, 1, 1), False, (1, 4, 7, 11, 9), "3x3x3 stride 2 (odd sizes)"),
    (3, 4, (3, 3, 3), (1, 2, 2), (1, 1, 1), True, (2, 3, 4, 10, 12), "3x3x3 stride (1,2,2)"),
    (5, 4, (1, 7, 7), (1, 1, 1), (0, 0, 0), False, (2, 5, 4, 7, 7),
     "1x7x7 valid on a 7x7 map -> 1x1 (the spatial policy head)"),
    (3, 4, (1, 7, 7), (1, 2, 2), (0, 3, 3), True, (1, 3, 3, 16, 14), "1x7x7 stride (1,2,2) same-like, bias"),
    (4, 6, (3, 1, 1), (1, 1, 1), (1, 0, 0), True, (1, 4, 7, 6, 5), "3x1x1 temporal, same-like, bias"),
    (4, 4, (3, 1, 1), (2, 1, 1), (0, 0, 0), False, (2, 4, 8, 3, 4), "3x1x1 temporal, stride (2,1,1), valid"),
    (3, 4, (5, 7, 7), (1, 2, 2), (2, 3, 3), False, (1, 3, 6, 16, 14), "5x7x7 stride (1,2,2) same-like (I3D stem)"),
    (2, 3, (5, 7, 7), (2, 2, 2), (2, 3, 3), True, (1, 2, 7, 13, 11), "5x7x7 stride 2, bias"),
    (2, 3, (5, 7, 7), (1, 1, 1), (0, 0, 0), True, (1, 2, 6, 9, 8), "5x7x7 valid, bias"),
    (6, 5, (1, 1, 1), (1, 1, 1), (0, 0, 0), False, (2, 6, 4, 5, 5), "1x1x1 pointwise (spatial policy input)"),
]


def make_conv3d(out_dir):
    g = torch.Generator().manual_seed(1001)
    tensors, cases = {}, []
    for i, (cin, cout, k, stride, pad, bias, ishape, note) in enumerate(CONV3D_CASES):
        x = torch.randn(ishape, generator=g)
        fan_in = cin * k[0] * k[1] * k[2]
        w = torch.randn((cout, cin) + k, generator=g) / math.sqrt(fan_in)
        b = torch.randn(cout, generator=g) * 0.5 if bias else None
        y = F.conv3d(x, w, b, stride=stride, padding=pad, dilation=1, groups=1)
        tensors[f"case{i}.input"] = c32(x)
        tensors[f"case{i}.weight"] = c32(w)
        if b is not None:
            tensors[f"case{i}.bias"] = c32(b)
        tensors[f"case{i}.output"] = c32(y)
        cases.append({
            "name": f"case{i}", "note": note, "in_channels": cin, "out_channels": cout,
            "kernel": list(k), "stride": list(stride), "padding": list(pad), "dilation": [1, 1, 1],
            "groups": 1, "bias": bias, "input_shape": list(ishape), "output_shape": list(y.shape),
        })
    meta = {"cases": meta_json(cases), "num_cases": str(len(cases)),
            "layout": "input N,C,T,H,W; weight Cout,Cin,kT,kH,kW; float32",
            "op": "torch.nn.functional.conv3d(input, weight, bias, stride, padding, dilation=1, groups=1)"}
    save_file(tensors, os.path.join(out_dir, "conv3d.safetensors"), metadata=meta)
    return "conv3d.safetensors", shapes(tensors)


# ----------------------------------------------------------------------------------------------
# 2. grid_sample patch extraction
# ----------------------------------------------------------------------------------------------
#
# Official formula (LeapLabTHU/Uni-AdaFocus, models/uni_adafocus.py, get_patch_grid_scalexy; square
# frames of side S = image_size, patch P = patch_size = input_patch_size, actions a = sigmoid outputs):
#     scale  = a[:, 2:4] * (224 - 96) / P + 96 / P          # region side = P * scale, 96..224 px
#     coord  = a[:, 0:2] * (S - P * scale)                   # top-left corner of the region, px
#     x1, x2 = coord[:, 1], coord[:, 1] + P * scale[:, 1]    # horizontal extent  <- a[:,1], a[:,3]
#     y1, y2 = coord[:, 0], coord[:, 0] + P * scale[:, 0]    # vertical extent    <- a[:,0], a[:,2]
#     theta[:, 0, 0] = P * scale[:, 1] / S                   # row 0 of theta = x (width) axis
#     theta[:, 1, 1] = P * scale[:, 0] / S
#     theta[:, 0, 2] = -1 + (x1 + x2) / S
#     theta[:, 1, 2] = -1 + (y1 + y2) / S
#     grid    = F.affine_grid(theta, (B, 3, P, P))           # align_corners default False
#     patches = F.grid_sample(frames, grid)                  # bilinear, zeros, align_corners False
# So a[:,0] / a[:,2] drive the VERTICAL axis (rows, H) and a[:,1] / a[:,3] the HORIZONTAL axis (W).
# AdaFocusV2 (get_patches_frame) is the same with a fixed region side P (scale 1, 2 actions).
# The constants 96 and 224 are hard-coded pixel sides for the 224x224 input (not scaled with it).
#
# The fixture generalises to non-square frames (H != W) and configurable min/max region sides:
#     side_y = P * (a2 * (MAX - MIN) / P + MIN / P),  side_x = P * (a3 * (MAX - MIN) / P + MIN / P)
#     top    = a0 * (H - side_y),                     left   = a1 * (W - side_x)
#     theta  = [[side_x / W, 0, -1 + (2*left + side_x) / W],
#               [0, side_y / H, -1 + (2*top + side_y) / H]]
# which is exactly the official formula for H = W = S, MIN = 96, MAX = 224. With MAX larger than the
# frame the region is larger than the frame and the patch samples outside it (zero padding).

GS_N, GS_H, GS_W, GS_P = 8, 32, 48, 24
GS_MIN, GS_MAX = 12.0, 56.0


def theta_from_actions(a, height, width, patch, min_side, max_side):
    """Float32 tensor ops in the official order (see the comment above)."""
    scale = a[:, 2:4] * (max_side - min_side) / patch + min_side / patch  # (y, x)
    side_y = patch * scale[:, 0]
    side_x = patch * scale[:, 1]
    y1 = a[:, 0] * (height - side_y)
    x1 = a[:, 1] * (width - side_x)
    y2 = y1 + side_y
    x2 = x1 + side_x
    theta = torch.zeros((a.shape[0], 2, 3), dtype=torch.float32)
    theta[:, 0, 0] = side_x / width
    theta[:, 1, 1] = side_y / height
    theta[:, 0, 2] = -1 + (x1 + x2) / width
    theta[:, 1, 2] = -1 + (y1 + y2) / height
    return theta


def make_grid_sample(out_dir):
    g = torch.Generator().manual_seed(1002)
    x = torch.randn((GS_N, 3, GS_H, GS_W), generator=g)
    hand = torch.tensor([
        [0.5, 0.5, 0.4, 0.4],    # centred 29.6x29.6 region
        [0.0, 0.0, 0.0, 0.0],    # top-left 12x12 region (smaller than the 24x24 patch: upsampling)
        [1.0, 1.0, 0.25, 0.75],  # bottom-right, 23 high x 45 wide
        [0.3, 0.7, 1.0, 1.0],    # 56x56 region: past all four edges (y -7.2..48.8, x -5.6..50.4)
        [0.0, 1.0, 0.9, 0.6],    # 51.6 high from top=0: past the bottom edge only
        [1.0, 0.0, 0.2, 0.95],   # 53.8 wide from left=0: past the right edge only
    ], dtype=torch.float32)
    rand = torch.sigmoid(torch.randn((GS_N - hand.shape[0], 4), generator=g) * 1.5)
    actions = torch.cat([hand, rand], 0)
    theta = theta_from_actions(actions, GS_H, GS_W, GS_P, GS_MIN, GS_MAX)
    grid = F.affine_grid(theta, [GS_N, 3, GS_P, GS_P], align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    # boxes in pixels (x1, y1, x2, y2) for readers that want them
    sx = theta[:, 0, 0] * GS_W
    sy = theta[:, 1, 1] * GS_H
    cx = (theta[:, 0, 2] + 1) * GS_W / 2
    cy = (theta[:, 1, 2] + 1) * GS_H / 2
    boxes = torch.stack([cx - sx / 2, cy - sy / 2, cx + sx / 2, cy + sy / 2], 1)
    tensors = {"input": c32(x), "actions": c32(actions), "theta": c32(theta), "grid": c32(grid),
               "boxes": c32(boxes), "output": c32(out)}
    meta = {
        "frames": f"{GS_N}x3x{GS_H}x{GS_W}", "patch_size": str(GS_P),
        "min_side": str(GS_MIN), "max_side": str(GS_MAX),
        "theta_formula": ("scale=a[:,2:4]*(MAX-MIN)/P+MIN/P; side_y=P*scale[:,0]; side_x=P*scale[:,1]; "
                          "y1=a0*(H-side_y); x1=a1*(W-side_x); theta=[[side_x/W,0,-1+(x1+x1+side_x)/W],"
                          "[0,side_y/H,-1+(y1+y1+side_y)/H]]; official: H=W=S, MIN=96, MAX=224"),
        "op": ("grid=F.affine_grid(theta,(N,3,P,P),align_corners=False); out=F.grid_sample(input,grid,"
               "mode='bilinear',padding_mode='zeros',align_corners=False)"),
        "source": "LeapLabTHU/Uni-AdaFocus models/uni_adafocus.py get_patch_grid_scalexy",
    }
    save_file(tensors, os.path.join(out_dir, "grid_sample.safetensors"), metadata=meta)
    return "grid_sample.safetensors", shapes(tensors)


# ----------------------------------------------------------------------------------------------
# 2b. policy ops: linear interpolation of the per-glance actions + deterministic quantile rule
# ----------------------------------------------------------------------------------------------

def quantile_indices(weights, num_segments, num_focus):
    """Deterministic focus-frame rule from the issue text: thresholds (i + 0.5) / N on the cumulative
    weights (with a leading 0, last entry forced to 1), linear interpolation inside the glance cell
    that crosses the threshold, position in [0,1] times num_segments, floor, then forced strictly
    increasing and clamped so that N indices always fit. Float32 throughout, like the official code.
    Returns (quantile positions B x N, float32) and (indices B x N, int64, per video, no batch offset)."""
    b, g = weights.shape
    cum = torch.cat([torch.zeros(b, 1), weights.cumsum(1)], 1)
    cum[:, -1] = 1.0
    thr = ((torch.arange(num_focus).float() + 0.5) / num_focus).repeat(b, 1)  # B x N
    reached = cum.unsqueeze(2) >= thr.unsqueeze(1)                           # B x (G+1) x N
    first = reached.int().argmax(1)                                          # first True (0 if none)
    j = first.clamp(1, g) - 1
    xa = j.float() / g
    xb = (j + 1).float() / g
    ya = cum.gather(1, j)
    yb = cum.gather(1, j + 1)
    q = (xb * (thr - ya) - xa * (thr - yb)) / (yb - ya)  # line through (xa,ya),(xb,yb) at y = thr
    idx = torch.floor(q * num_segments).long()
    for i in range(1, num_focus):
        idx[:, i] = torch.where(idx[:, i] > idx[:, i - 1], idx[:, i], idx[:, i - 1] + 1)
    lim = (num_segments - num_focus + torch.arange(num_focus)).unsqueeze(0)
    idx = torch.where(idx > lim, lim, idx)
    return q, idx


def make_policy_ops(out_dir):
    g = torch.Generator().manual_seed(1003)
    tensors, cases = {}, []
    # linear interpolation of the 4 spatial actions from the glance frames to all frames
    for name, (b, glance, total) in {"interp0": (2, 4, 12), "interp1": (1, 16, 48)}.items():
        a = torch.sigmoid(torch.randn((b, 4, glance), generator=g) * 2)
        y = F.interpolate(a, size=total, mode="linear", align_corners=False)
        tensors[f"{name}.input"] = c32(a)
        tensors[f"{name}.output"] = c32(y)
        cases.append({"name": name, "op": "F.interpolate(input, size=T, mode='linear', align_corners=False)",
                      "input_layout": "B x 4 x G", "output_layout": "B x 4 x T", "G": glance, "T": total})
    # quantile rule: softmax weights over the glance frames (with a temperature) -> focus indices
    specs = {
        "quantile0": (3, 16, 48, 16, 1.0, "softmax(randn), T=48, G=16, N=16 (the official config)"),
        "quantile1": (2, 16, 48, 16, 0.2, "peaked softmax (temperature 0.2): collisions, clamping"),
        "quantile2": (2, 8, 32, 6, 1.0, "T=32, G=8, N=6"),
    }
    for name, (b, glance, total, nfocus, temp, note) in specs.items():
        logits = torch.randn((b, glance), generator=g) * 2
        w = torch.softmax(logits / temp, dim=1)
        q, idx = quantile_indices(w, total, nfocus)
        tensors[f"{name}.weights"] = c32(w)
        tensors[f"{name}.quantile"] = c32(q)
        tensors[f"{name}.indices"] = idx.contiguous()
        cases.append({"name": name, "note": note, "B": b, "G": glance, "T": total, "N": nfocus,
                      "temperature": temp})
    meta = {"cases": meta_json(cases),
            "glance_indices": "arange(T)[1::T//G] (eval mode), e.g. T=48,G=16 -> 1,4,7,...,46",
            "quantile_rule": quantile_indices.__doc__.strip().replace("\n", " ")}
    save_file(tensors, os.path.join(out_dir, "policy_ops.safetensors"), metadata=meta)
    return "policy_ops.safetensors", shapes(tensors)


# ----------------------------------------------------------------------------------------------
# 3/4. networks
# ----------------------------------------------------------------------------------------------

class WidthResNet(nn.Module):
    """torchvision's ResNet (v1.5: stride on the 3x3 of the bottleneck) with every width scaled.

    base = int(64 * width): stem conv 7x7/2 (3 -> base) + BN + ReLU + maxpool 3x3/2 pad 1, then four
    stages of `layers[i]` blocks with planes base * (1, 2, 4, 8) and strides (1, 2, 2, 2), output
    channels planes * expansion (1 basic, 4 bottleneck), a 1x1-conv + BN downsample on the first block
    of a stage when the stride or the channel count changes, global average pool, fc. Module and
    state_dict names are torchvision's; width=1 with layers [2,2,2,2] / [3,4,6,3] IS resnet18/resnet50
    (checked in self_checks())."""

    def __init__(self, block, layers, width=1.0, num_classes=1000):
        super().__init__()
        base = int(64 * width)
        self.inplanes = base
        self.conv1 = nn.Conv2d(3, base, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(base)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._stage(block, base, layers[0], 1)
        self.layer2 = self._stage(block, base * 2, layers[1], 2)
        self.layer3 = self._stage(block, base * 4, layers[2], 2)
        self.layer4 = self._stage(block, base * 8, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(base * 8 * block.expansion, num_classes)
        self.feature_dim = base * 8 * block.expansion

    def _stage(self, block, planes, blocks, stride):
        out = planes * block.expansion
        down = None
        if stride != 1 or self.inplanes != out:
            down = nn.Sequential(nn.Conv2d(self.inplanes, out, kernel_size=1, stride=stride, bias=False),
                                 nn.BatchNorm2d(out))
        mods = [block(self.inplanes, planes, stride, down)]
        self.inplanes = out
        for _ in range(1, blocks):
            mods.append(block(self.inplanes, planes))
        return nn.Sequential(*mods)

    def featmap(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward(self, x):
        return self.fc(torch.flatten(self.avgpool(self.featmap(x)), 1))


class OfficialMobileNetV2(nn.Module):
    """The key layout of the MobileNetV2 used by the official AdaFocusV2 / Uni-AdaFocus code (adapted
    there from tonylins/pytorch-mobilenet-v2), written here from that layout at width 1.0 only, to check
    the key renaming below: features.0 = [conv3x3/2, BN, ReLU6]; an expand-1 block is
    conv = [dw3x3, BN, ReLU6, pw, BN] (keys conv.0, conv.1, conv.3, conv.4); the other blocks are
    conv = [pw, BN, ReLU6, dw3x3, BN, ReLU6, pw, BN] (keys conv.0,1,3,4,6,7); features.18 = [1x1, BN, ReLU6];
    classifier is a bare Linear (keys classifier.weight / classifier.bias)."""

    SETTING = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
               (6, 320, 1, 1)]

    def __init__(self, num_classes=1000):
        super().__init__()
        feats = [nn.Sequential(nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU6(True))]
        cin = 32
        for t, c, n, s in self.SETTING:
            for i in range(n):
                feats.append(_OfficialBlock(cin, c, s if i == 0 else 1, t))
                cin = c
        feats.append(nn.Sequential(nn.Conv2d(cin, 1280, 1, 1, 0, bias=False), nn.BatchNorm2d(1280),
                                   nn.ReLU6(True)))
        self.features = nn.Sequential(*feats)
        self.classifier = nn.Linear(1280, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x).mean([2, 3]))


class _OfficialBlock(nn.Module):
    def __init__(self, cin, cout, stride, t):
        super().__init__()
        hid = cin * t
        self.res = stride == 1 and cin == cout
        dw = [nn.Conv2d(hid, hid, 3, stride, 1, groups=hid, bias=False), nn.BatchNorm2d(hid), nn.ReLU6(True)]
        pw_lin = [nn.Conv2d(hid, cout, 1, 1, 0, bias=False), nn.BatchNorm2d(cout)]
        if t == 1:
            self.conv = nn.Sequential(*dw, *pw_lin)
        else:
            pw = [nn.Conv2d(cin, hid, 1, 1, 0, bias=False), nn.BatchNorm2d(hid), nn.ReLU6(True)]
            self.conv = nn.Sequential(*pw, *dw, *pw_lin)

    def forward(self, x):
        return x + self.conv(x) if self.res else self.conv(x)


def torchvision_to_official_mbv2_key(key):
    """torchvision MobileNetV2 state_dict key -> key in the official AdaFocus MobileNetV2."""
    p = key.split(".")
    if p[0] == "classifier":  # classifier.1.weight -> classifier.weight
        return "classifier." + p[2]
    if p[0] == "features" and len(p) > 3 and p[2] == "conv":
        expand1 = p[1] == "1"
        sub = p[3:]
        if expand1:  # conv.0.0 dw, conv.0.1 bn, conv.1 pw, conv.2 bn
            table = {("0", "0"): "0", ("0", "1"): "1", ("1",): "3", ("2",): "4"}
        else:  # conv.0.0 pw, conv.0.1 bn, conv.1.0 dw, conv.1.1 bn, conv.2 pw, conv.3 bn
            table = {("0", "0"): "0", ("0", "1"): "1", ("1", "0"): "3", ("1", "1"): "4", ("2",): "6",
                     ("3",): "7"}
        for prefix, new in table.items():
            if tuple(sub[:len(prefix)]) == prefix:
                return ".".join(p[:3] + [new] + sub[len(prefix):])
        raise KeyError(key)
    return key  # features.0.{0,1}.*, features.18.{0,1}.* are the same


@torch.no_grad()
def randomise_bn(model, calib_input, g):
    """Realistic but non-trivial BatchNorm: running stats are first measured on random input (so the
    activations stay O(1) through the depth), then perturbed; affine weight and bias are random."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    model.train()
    for chunk in calib_input:
        model(chunk)
    model.eval()
    for m in bns:
        c = m.num_features
        std = m.running_var.sqrt()
        m.running_mean += 0.2 * std * torch.randn(c, generator=g)
        m.running_var *= torch.exp(torch.empty(c).uniform_(-0.5, 0.5, generator=g))
        m.weight.copy_(torch.empty(c).uniform_(0.5, 1.5, generator=g))
        m.bias.copy_(0.2 * torch.randn(c, generator=g))
        m.momentum = 0.1


@torch.no_grad()
def seeded_init(model, g):
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Conv3d)):
            fan_in = m.weight[0].numel()
            m.weight.copy_(torch.randn(m.weight.shape, generator=g) * math.sqrt(2.0 / fan_in))
            if m.bias is not None:
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
        elif isinstance(m, nn.Linear):
            m.weight.copy_(torch.randn(m.weight.shape, generator=g) / math.sqrt(m.in_features))
            m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))


def pickle_globals(path):
    """Globals a .pth zip's data.pkl refers to (static scan with pickletools; nothing is executed)."""
    with zipfile.ZipFile(path) as z:
        name = [n for n in z.namelist() if n.endswith("/data.pkl")][0]
        data = z.read(name)
    found, strings = set(), []
    for op, arg, _ in pickletools.genops(data):
        if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8"):
            strings.append(arg)
        if op.name == "GLOBAL":
            found.add(arg.replace(" ", "."))
        elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
            found.add(f"{strings[-2]}.{strings[-1]}")
    return sorted(found)


def make_official_keys(out_dir):
    """Key map for the real (width 1.0) layout: official key -> torchvision key, shape."""
    sd = torchvision.models.mobilenet_v2(width_mult=1.0).state_dict()
    off = OfficialMobileNetV2().state_dict()
    rows = []
    for k, v in sd.items():
        o = torchvision_to_official_mbv2_key(k)
        assert off[o].shape == v.shape
        rows.append({"official": o, "torchvision": k, "shape": list(v.shape)})
    doc = {"note": ("MobileNetV2 width 1.0, 1000 classes. 'official' = state_dict keys of the MobileNetV2 in "
                    "LeapLabTHU/AdaFocusV2 and Uni-AdaFocus (models/mobilenet_v2.py, adapted from "
                    "tonylins/pytorch-mobilenet-v2), found under 'global_CNN.' in their checkpoints ('module.global_CNN.' "
                    "when saved from DataParallel); "
                    "'torchvision' = torchvision.models.mobilenet_v2 keys. Same tensors, same order. At width "
                    "1.0 the two networks are identical apart from the names."),
           "keys": rows}
    with open(os.path.join(out_dir, "mobilenet_v2_official_keys.json"), "w") as f:
        f.write('{"note": %s,\n "keys": [\n' % json.dumps(doc["note"]))
        f.write(",\n".join("  " + json.dumps(r) for r in rows))
        f.write("\n ]}\n")
    return "mobilenet_v2_official_keys.json"


def save_checkpoint_like_official(model, path):
    dp = nn.DataParallel(model)  # CPU-only: DataParallel just wraps; keys get the 'module.' prefix
    torch.save({"epoch": 3, "state_dict": dp.state_dict()}, path)


def stats_tensor(t):
    t = t.detach().double()
    return torch.tensor([t.mean().item(), t.std().item(), t.min().item(), t.max().item()],
                        dtype=torch.float32)


@torch.no_grad()
def run_and_record(name, model, featmap_fn, pooled_fn, logits_fn, x, stat_modules):
    stats = {}
    hooks = []
    for mod_name, mod in stat_modules:
        hooks.append(mod.register_forward_hook(
            lambda m, i, o, n=mod_name: stats.__setitem__(f"stats.{n}", stats_tensor(o))))
    feats = featmap_fn(x)
    for h in hooks:
        h.remove()
    pooled = pooled_fn(feats)
    logits = logits_fn(pooled)
    # float64 run of the same weights: how far float32 itself is from exact
    m64 = model.double()
    f64 = featmap_fn(x.double())
    p64 = pooled_fn(f64)
    l64 = logits_fn(p64)
    model.float()
    rel = lambda a, b: ((a.double() - b).abs().max() / b.abs().max()).item()
    precision = {"features": rel(feats, f64), "pooled": rel(pooled, p64), "logits": rel(logits, l64)}
    del m64
    io_tensors = {"input": c32(x), "features": c32(feats), "pooled": c32(pooled), "logits": c32(logits),
                  "logits_f64": l64.contiguous()}
    io_tensors.update(stats)
    return io_tensors, precision


def write_model_files(out_dir, stem, model, cfg, io_tensors, official_names_pth=False):
    model.eval()
    sd = model.state_dict()
    pth = os.path.join(out_dir, f"{stem}.pth.tar")
    save_checkpoint_like_official(model, pth)
    st = os.path.join(out_dir, f"{stem}.safetensors")
    save_file({k: v.contiguous() for k, v in sd.items()}, st,
              metadata={"fixture_config": meta_json(cfg), "format": "pt"})
    iof = os.path.join(out_dir, f"{stem}_io.safetensors")
    save_file(io_tensors, iof, metadata={"fixture_config": meta_json(cfg)})
    written = {f"{stem}.pth.tar": None, f"{stem}.safetensors": shapes(sd), f"{stem}_io.safetensors":
               shapes(io_tensors)}
    if official_names_pth:
        off = collections.OrderedDict(
            ("module." + torchvision_to_official_mbv2_key(k), v) for k, v in sd.items())
        p = os.path.join(out_dir, f"{stem}_official_names.pth.tar")
        torch.save({"epoch": 3, "state_dict": off}, p)
        written[f"{stem}_official_names.pth.tar"] = None
    return written


def make_mobilenet(out_dir, width, official_names_pth):
    torch.manual_seed(2001)
    g = torch.Generator().manual_seed(2002)
    model = torchvision.models.mobilenet_v2(width_mult=width, num_classes=10)
    seeded_init(model, g)
    calib = [torch.randn((4, 3, 96, 96), generator=g) for _ in range(4)]
    randomise_bn(model, calib, g)
    model.eval()
    x = torch.randn((2, 3, 96, 96), generator=g)
    stat_modules = [(f"features.{i}", m) for i, m in enumerate(model.features)]
    io_tensors, precision = run_and_record(
        "mbv2", model, lambda t: model.features(t), lambda f: f.mean([2, 3]),
        lambda p: model.classifier(p), x, stat_modules)
    # the module's own forward must agree with the decomposition above
    assert torch.allclose(model(x), io_tensors["logits"], rtol=0, atol=1e-6)
    stem = f"mobilenet_v2_w{int(round(width * 100)):03d}"
    cfg = {"arch": "mobilenet_v2", "width_mult": width, "num_classes": 10, "input": [2, 3, 96, 96],
           "round_nearest": 8, "last_channel": model.last_channel,
           "features_channels": int(io_tensors["features"].shape[1]), "dropout_eval": "identity",
           "layout": "torchvision"}
    written = write_model_files(out_dir, stem, model, cfg, io_tensors, official_names_pth)
    return stem, written, precision, model, cfg


def make_resnet(out_dir, kind, block, layers, width, size=64):
    seed = 3001 if kind == "basic" else 4001
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed + 1)
    model = WidthResNet(block, layers, width=width, num_classes=10)
    seeded_init(model, g)
    calib = [torch.randn((4, 3, size, size), generator=g) for _ in range(4)]
    randomise_bn(model, calib, g)
    model.eval()
    x = torch.randn((2, 3, size, size), generator=g)
    stat_modules = [("stem", model.maxpool)] + [
        (f"layer{s}.{i}", blk) for s in range(1, 5) for i, blk in enumerate(getattr(model, f"layer{s}"))]
    io_tensors, precision = run_and_record(
        kind, model, model.featmap, lambda f: f.mean([2, 3]), model.fc, x, stat_modules)
    assert torch.allclose(model(x), io_tensors["logits"], rtol=0, atol=1e-6)
    stem = f"resnet_{kind}_base{int(64 * width)}"
    cfg = {"arch": "resnet", "block": kind, "layers": layers, "width": width, "stem_channels": int(64 * width),
           "stage_planes": [int(64 * width) * k for k in (1, 2, 4, 8)],
           "expansion": block.expansion, "num_classes": 10, "input": [2, 3, size, size],
           "features_channels": model.feature_dim, "layout": "torchvision"}
    written = write_model_files(out_dir, stem, model, cfg, io_tensors)
    return stem, written, precision, model, cfg


# ----------------------------------------------------------------------------------------------
# 5. FLOPs
# ----------------------------------------------------------------------------------------------

class FlopCounter:
    """Convention of docs/ARCHITECTURE.md section 5 (= how the official Uni-AdaFocus figures come out):
      conv (1d/2d/3d): output elements per sample * (Cin / groups) * prod(kernel)   (bias not counted)
      linear:          in_features * out_features per sample (per row)              (bias not counted)
      batchnorm (1d/2d/3d): num_features, once per layer per sample (NOT per element / frame / pixel)
      everything else (ReLU, pooling, residual adds, sigmoid, softmax): 0
    Counts are per sample: module outputs are divided by the batch size N = output.shape[0]."""

    def __init__(self, model):
        self.rows = []
        self.hooks = []
        for name, m in model.named_modules():
            if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear, nn.modules.batchnorm._BatchNorm)):
                self.hooks.append(m.register_forward_hook(self._hook(name)))

    def _hook(self, name):
        def fn(m, inp, out):
            n = out.shape[0]
            if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
                k = 1
                for s in m.kernel_size:
                    k *= s
                per = out.numel() // n
                macs = per * (m.in_channels // m.groups) * k
                self.rows.append({"name": name, "type": type(m).__name__, "macs": macs,
                                  "in": list(inp[0].shape[1:]), "out": list(out.shape[1:]),
                                  "kernel": list(m.kernel_size), "stride": list(m.stride),
                                  "groups": m.groups})
            elif isinstance(m, nn.Linear):
                rows = out.numel() // out.shape[-1] // n if out.dim() > 2 else 1
                self.rows.append({"name": name, "type": "Linear",
                                  "macs": rows * m.in_features * m.out_features,
                                  "in": m.in_features, "out": m.out_features})
            else:
                self.rows.append({"name": name, "type": type(m).__name__, "macs": m.num_features,
                                  "channels": m.num_features})
        return fn

    def close(self):
        for h in self.hooks:
            h.remove()

    def totals(self):
        t = {"conv": 0, "linear": 0, "bn": 0}
        for r in self.rows:
            key = "linear" if r["type"] == "Linear" else ("bn" if "BatchNorm" in r["type"] else "conv")
            t[key] += r["macs"]
        t["total"] = t["conv"] + t["linear"] + t["bn"]
        return t


@torch.no_grad()
def count(model, shape):
    model.eval()
    fc = FlopCounter(model)
    model(torch.zeros(shape))
    fc.close()
    return fc.totals(), fc.rows


class SpatialPolicyShape(nn.Module):
    """Same layer shapes as the official spatial policy (Conv3d 1x1x1 -> 3x3x3 -> 3x3x3 -> 1x7x7, BN3d,
    ReLU, sigmoid), for counting only."""

    def __init__(self, cin, hidden):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv3d(cin, hidden, (1, 1, 1), bias=False), nn.BatchNorm3d(hidden), nn.ReLU(),
            nn.Conv3d(hidden, hidden, (3, 3, 3), padding=1, bias=False), nn.BatchNorm3d(hidden), nn.ReLU(),
            nn.Conv3d(hidden, hidden, (3, 3, 3), padding=1, bias=False), nn.BatchNorm3d(hidden), nn.ReLU(),
            nn.Conv3d(hidden, 4, (1, 7, 7), bias=False), nn.Sigmoid())

    def forward(self, x):
        return self.encoder(x)


class TemporalPolicyShape(nn.Module):
    """Same layer shapes as the official temporal policy (Conv2d (3,1) x2 with BN + ReLU, 1x1 to 1)."""

    def __init__(self, cin, hidden):
        super().__init__()
        self.Tconv = nn.Sequential(
            nn.Conv2d(cin, hidden, (3, 1), padding=(1, 0), bias=False), nn.BatchNorm2d(hidden), nn.ReLU(),
            nn.Conv2d(hidden, hidden, (3, 1), padding=(1, 0), bias=False), nn.BatchNorm2d(hidden), nn.ReLU(),
            nn.Conv2d(hidden, 1, (1, 1), bias=False))

    def forward(self, x):
        return self.Tconv(x)


class MLPShape(nn.Module):
    def __init__(self, cin, cout=4096):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(cin, cout), nn.BatchNorm1d(cout), nn.ReLU())

    def forward(self, x):
        return self.layers(x)


# Official constants (LeapLabTHU/Uni-AdaFocus, ops/early_exit_uni_adafocus.py, ActivityNet config:
# 16 glance frames, 200 classes; "without fc" for the backbones).
OFFICIAL = {
    "mobilenet_v2_1.0_224_nofc": 0.299511328,
    "resnet50_nofc_96": 0.750725056,
    "resnet50_nofc_128": 1.334601664,
    "resnet50_nofc_160": 2.08530016,
    "resnet50_nofc_192": 3.002820544,
    "spatial_policy_16_glance_maps": 0.822485376,
    "temporal_policy_16_glance_vectors": 0.00412992,
    "global_mlp_per_frame": 5.246976e-3,
    "local_mlp_per_frame": 8.392704e-3,
    "global_classifier_per_frame_200cls": 0.8192e-3,
    "local_classifier_per_frame_200cls": 1.6384e-3,
}


def official_step_table(patch):
    """show_flops()/get_flops() of the official code, with its constants (k = focus steps 0..16)."""
    ps_idx = [96, 128, 160, 192].index(patch)
    res = [OFFICIAL[f"resnet50_nofc_{s}"] for s in (96, 128, 160, 192)][ps_idx]
    out = []
    for k in range(17):
        glob = OFFICIAL["mobilenet_v2_1.0_224_nofc"] * 16
        local = res * k
        cls = (5.246976 * 16 + 8.392704 * k + 0.8192 * 16 + 1.6384 * k) * 1e-3
        pol = OFFICIAL["temporal_policy_16_glance_vectors"] + OFFICIAL["spatial_policy_16_glance_maps"] \
            if k > 0 else 0.0
        out.append(glob + local + cls + pol)
    return out


def make_flops(out_dir, mbv2_fixture, res_fixtures):
    result = {"convention": FlopCounter.__doc__.strip(),
              "units": "'macs'/'count' fields are integers per sample; 'gflops' = count / 1e9",
              "official": {}, "computed": {}, "fixtures": {}}
    computed = {}

    mb = torchvision.models.mobilenet_v2(width_mult=1.0)
    mb.classifier = nn.Identity()  # "no fc": features + global average pool
    t, mb_rows = count(mb, (1, 3, 224, 224))
    computed["mobilenet_v2_1.0_224_nofc"] = t
    r50 = torchvision.models.resnet50()
    r50.fc = nn.Identity()
    r50_rows = None
    for s in (96, 128, 160, 192):
        t, rows = count(r50, (1, 3, s, s))
        computed[f"resnet50_nofc_{s}"] = t
        if s == 128:
            r50_rows = rows
    t, _ = count(SpatialPolicyShape(1280, 128), (1, 1280, 16, 7, 7))
    computed["spatial_policy_16_glance_maps"] = t
    t, _ = count(TemporalPolicyShape(1280, 64), (1, 1280, 16, 1))
    computed["temporal_policy_16_glance_vectors"] = t
    computed["global_mlp_per_frame"], _ = count(MLPShape(1280), (2, 1280))
    computed["local_mlp_per_frame"], _ = count(MLPShape(2048), (2, 2048))
    computed["global_classifier_per_frame_200cls"], _ = count(nn.Linear(4096, 200), (1, 4096))
    computed["local_classifier_per_frame_200cls"], _ = count(nn.Linear(8192, 200), (1, 8192))

    all_exact = True
    for k, official in OFFICIAL.items():
        c = computed[k]
        exact = c["total"] == round(official * 1e9)
        all_exact &= exact
        result["official"][k] = official
        result["computed"][k] = dict(c, gflops=c["total"] / 1e9, matches_official_exactly=exact)
    result["all_official_figures_reproduced_exactly"] = all_exact

    # per-step totals, uni_adafocus ActivityNet config (16 glance frames at 224, k focus patches)
    steps = {}
    for patch in (96, 128, 160, 192):
        ours = []
        for k in range(17):
            total = 16 * computed["mobilenet_v2_1.0_224_nofc"]["total"] + k * computed[
                f"resnet50_nofc_{patch}"]["total"]
            total += 16 * (computed["global_mlp_per_frame"]["total"]
                           + computed["global_classifier_per_frame_200cls"]["total"])
            total += k * (computed["local_mlp_per_frame"]["total"]
                          + computed["local_classifier_per_frame_200cls"]["total"])
            if k > 0:
                total += computed["spatial_policy_16_glance_maps"]["total"] + computed[
                    "temporal_policy_16_glance_vectors"]["total"]
            ours.append(total)
        off = official_step_table(patch)
        steps[str(patch)] = {"count": ours, "gflops": [v / 1e9 for v in ours], "official_gflops": off,
                             "max_abs_diff_gflops": max(abs(a / 1e9 - b) for a, b in zip(ours, off))}
    result["uni_adafocus_per_step"] = {
        "config": ("ActivityNet config of the official code: 16 glance frames (MobileNetV2 1.0 at 224, no fc), "
                   "k = 0..16 focus patches (ResNet-50, no fc, at the patch size), spatial policy (hidden 128) and "
                   "temporal policy (hidden 64) counted once when k > 0, classifier: 16 x (global MLP 1280->4096 "
                   "+ BN1d, global head 4096->200) + k x (local MLP 2048->4096 + BN1d, local head 8192->200)"),
        "by_patch_size": steps}

    # fixtures
    stem, model, cfg = mbv2_fixture
    nofc, _ = count(model.features, (1, 3, 96, 96))
    full, _ = count(model, (1, 3, 96, 96))
    result["fixtures"][stem] = {"input": "96x96", "nofc": dict(nofc, gflops=nofc["total"] / 1e9),
                                "with_fc": dict(full, gflops=full["total"] / 1e9)}
    for stem, model, cfg in res_fixtures:
        size = cfg["input"][-1]
        full, _ = count(model, (1, 3, size, size))
        fc = model.fc
        model.fc = nn.Identity()
        nofc, _ = count(model, (1, 3, size, size))
        model.fc = fc
        result["fixtures"][stem] = {"input": f"{size}x{size}", "nofc": dict(nofc, gflops=nofc["total"] / 1e9),
                                    "with_fc": dict(full, gflops=full["total"] / 1e9)}

    result["per_layer"] = {
        "mobilenet_v2_1.0_224_nofc": {"note": "torchvision names", "layers": mb_rows},
        "resnet50_nofc_128": {"note": "torchvision names", "layers": r50_rows},
    }
    with open(os.path.join(out_dir, "flops.json"), "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    return result


# ----------------------------------------------------------------------------------------------
# 6. evil pickle
# ----------------------------------------------------------------------------------------------

def evil_pickle_bytes():
    """Protocol-2 pickle built opcode by opcode (nothing is pickled or unpickled):
        {'epoch': 3, 'state_dict': os.system('echo adalens-evil-pickle-was-executed')}
    i.e. PROTO 2, EMPTY_DICT, MARK, 'epoch', 3, 'state_dict', GLOBAL 'os system', 'echo ...', TUPLE1,
    REDUCE, SETITEMS, STOP. A loader that executes pickles would run the shell command."""
    def ustr(s):
        b = s.encode("utf-8")
        return b"X" + struct.pack("<I", len(b)) + b  # BINUNICODE
    out = bytearray()
    out += b"\x80\x02"          # PROTO 2
    out += b"}"                  # EMPTY_DICT
    out += b"("                  # MARK
    out += ustr("epoch") + b"K\x03"  # BININT1 3
    out += ustr("state_dict")
    out += b"cos\nsystem\n"      # GLOBAL os.system
    out += ustr("echo adalens-evil-pickle-was-executed")
    out += b"\x85"               # TUPLE1
    out += b"R"                  # REDUCE  -> os.system(...)
    out += b"u"                  # SETITEMS
    out += b"."                  # STOP
    return bytes(out)


def make_evil(out_dir):
    data = evil_pickle_bytes()
    ops = [(op.name, arg) for op, arg, _ in pickletools.genops(data)]  # static parse only
    assert ("GLOBAL", "os system") in ops and any(o == "REDUCE" for o, _ in ops)
    path = os.path.join(out_dir, "evil.pth")
    arc = "evil"
    records = [("data.pkl", data), (".format_version", b"1"), (".storage_alignment", b"64"),
               ("byteorder", b"little"), ("version", b"3\n"), (".data/serialization_id", b"0" * 40)]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        # same records as a torch.save zip (torch 2.x), with the malicious data.pkl; fixed timestamps
        for name, payload in records:
            info = zipfile.ZipInfo(f"{arc}/{name}", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            z.writestr(info, payload)
    return "evil.pth", [f"{o} {a!r}" if a is not None else o for o, a in ops]


# ----------------------------------------------------------------------------------------------
# self checks
# ----------------------------------------------------------------------------------------------

@torch.no_grad()
def self_checks():
    notes = []
    # WidthResNet at width 1 == torchvision resnet18 / resnet50 (names, shapes, outputs)
    for layers, block, ctor in ([2, 2, 2, 2], BasicBlock, torchvision.models.resnet18), \
                               ([3, 4, 6, 3], Bottleneck, torchvision.models.resnet50):
        torch.manual_seed(7)
        ours = WidthResNet(block, layers, width=1.0, num_classes=1000).eval()
        ref = ctor().eval()
        a, b = ours.state_dict(), ref.state_dict()
        assert list(a) == list(b), "key order/names differ from torchvision"
        assert all(a[k].shape == b[k].shape for k in a)
        ref.load_state_dict(a)
        x = torch.randn(1, 3, 64, 64)
        assert torch.allclose(ours(x), ref(x), atol=1e-5)
        notes.append(f"WidthResNet(width=1, {layers}) == torchvision {ctor.__name__}")
    # key renaming == the official MobileNetV2 layout (at width 1.0 the structures coincide)
    torch.manual_seed(8)
    tv = torchvision.models.mobilenet_v2(width_mult=1.0).eval()
    off = OfficialMobileNetV2().eval()
    renamed = collections.OrderedDict((torchvision_to_official_mbv2_key(k), v) for k, v in tv.state_dict().items())
    assert list(renamed) == list(off.state_dict()), "renamed keys differ from the official layout"
    off.load_state_dict(renamed, strict=True)
    x = torch.randn(1, 3, 64, 64)
    assert torch.allclose(off(x), tv(x), atol=1e-5)
    notes.append("torchvision MobileNetV2 1.0 renamed -> official layout: same keys, same outputs")
    # the generalised theta formula == the official one for square frames with MIN=96, MAX=224
    a = torch.rand(5, 4)
    s, p = 224, 128
    scale = a[:, 2:4] * (224 - 96) / p + 96 / p
    pc = a[:, :2] * (s - p * scale)
    x1, x2 = pc[:, 1], pc[:, 1] + p * scale[:, 1]
    y1, y2 = pc[:, 0], pc[:, 0] + p * scale[:, 0]
    th = torch.zeros(5, 2, 3)
    th[:, 0, 0], th[:, 1, 1] = p * scale[:, 1] / s, p * scale[:, 0] / s
    th[:, 0, 2], th[:, 1, 2] = -1 + (x1 + x2) / s, -1 + (y1 + y2) / s
    assert torch.allclose(th, theta_from_actions(a, s, s, p, 96.0, 224.0), atol=1e-6)
    notes.append("theta_from_actions(H=W=224, MIN=96, MAX=224) == official formula")
    return notes


# ----------------------------------------------------------------------------------------------

def human(n):
    return f"{n / 1024:.1f} KiB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.2f} MiB"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--mbv2-width", type=float, default=0.1)
    ap.add_argument("--resnet-width", type=float, default=0.09375)
    ap.add_argument("--official-names-pth", action="store_true",
                    help="also write mobilenet_v2_w{W}_official_names.pth.tar (same weights, official key "
                         "layout; about 0.5 MB at width 0.1, left out of the committed set for size)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)

    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, python {sys.version.split()[0]}")
    for n in self_checks():
        print("check ok:", n)

    summary = {}
    name, sh = make_conv3d(args.out)
    summary[name] = sh
    name, sh = make_grid_sample(args.out)
    summary[name] = sh
    name, sh = make_policy_ops(args.out)
    summary[name] = sh

    precisions = {}
    stem, written, prec, mbv2, mcfg = make_mobilenet(args.out, args.mbv2_width, args.official_names_pth)
    summary[make_official_keys(args.out)] = None
    summary.update(written)
    precisions[stem] = prec
    res = []
    for kind, block, layers in (("basic", BasicBlock, [1, 1, 1, 1]), ("bottleneck", Bottleneck, [2, 1, 1, 1])):
        rstem, written, prec, rmodel, rcfg = make_resnet(args.out, kind, block, layers, args.resnet_width)
        summary.update(written)
        precisions[rstem] = prec
        res.append((rstem, rmodel, rcfg))

    flops = make_flops(args.out, (stem, mbv2, mcfg), res)
    name, ops = make_evil(args.out)
    summary[name] = None

    print("\n== files ==")
    total = 0
    for fname in sorted(os.listdir(args.out)):
        path = os.path.join(args.out, fname)
        if not os.path.isfile(path):
            continue
        size = os.path.getsize(path)
        total += size
        os.chmod(path, 0o644)
        print(f"{fname:48s} {size:>9d} B  ({human(size)})")
        sh = summary.get(fname)
        is_weights = fname.startswith(("mobilenet", "resnet")) and not fname.endswith("_io.safetensors")
        if isinstance(sh, dict) and is_weights:
            n = sum(math.prod(v) for v in sh.values())
            print(f"    {len(sh)} tensors, {n} values (state_dict incl. BN buffers and num_batches_tracked)")
        elif isinstance(sh, dict):
            for k, v in sh.items():
                print(f"    {k:40s} {v}")
        if fname.endswith(".pth.tar"):
            print(f"    pickle globals: {', '.join(pickle_globals(path))}")
    print(f"{'TOTAL':48s} {total:>9d} B  ({human(total)})")
    print(f"regenerate with: {REGEN}")

    print("\n== float32 vs float64 (max |f32 - f64| / max |f64|) ==")
    for k, v in precisions.items():
        print(f"  {k}: " + ", ".join(f"{a}={b:.2e}" for a, b in v.items()))
    print("\n== FLOPs (GFLOPs; official figures) ==")
    for k, off in OFFICIAL.items():
        c = flops["computed"][k]
        print(f"  {k:40s} official {off:.9f}  ours {c['gflops']:.9f}  "
              f"{'EXACT' if c['matches_official_exactly'] else 'MISMATCH'}")
    for p, d in flops["uni_adafocus_per_step"]["by_patch_size"].items():
        print(f"  uni_adafocus per-step totals, patch {p}: max |ours - official| = {d['max_abs_diff_gflops']:.2e}"
              f" (k=16: {d['gflops'][-1]:.9f})")
    for k, d in flops["fixtures"].items():
        print(f"  fixture {k} ({d['input']}): nofc {d['nofc']['gflops']:.9f}, with fc {d['with_fc']['gflops']:.9f}")
    print("\n== evil.pth data.pkl opcodes ==\n  " + "\n  ".join(ops))
    if not flops["all_official_figures_reproduced_exactly"]:
        sys.exit("FLOPs counter does not reproduce the official figures")


if __name__ == "__main__":
    main()
