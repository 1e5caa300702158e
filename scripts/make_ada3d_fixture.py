#!/usr/bin/env python3
"""Writes the PyTorch reference of the `ada3d` arch (issue 4) into tests/fixtures/model/.

Written from the Ada3D paper (§3.2, §4.1) and docs/ARCHITECTURE.md §1: a selection network (torchvision
MobileNetV2 on every frame of the clip, area-downscaled from the 3D network's input, pooled features
averaged over the frames, two linear heads with a sigmoid: m in [0,1]^T keep frame, n in [0,1]^K keep
stage 3D), greedy test-time actions (m >= tau_f, at least one frame; n >= tau_s), and the 3D ResNet of
make_resnet3d_fixture.py (torch's nn.Conv3d) on the kept frames with the chosen stages.

Names: selection.backbone.features.* (torchvision), selection.frame_head, selection.stage_head, and the
3D network at the root under PySlowFast names (s1..s5, head.projection).

Files (tiny: I3D layout width 4, layers [1,2,2,2]; MobileNetV2 0.1; clips of 8 frames of 48², selection
at 24²; 5 classes; 2 clips):
  ada3d_tiny.pyth          torch.save({'model_state': state_dict}) (PySlowFast style)
  ada3d_tiny.json          its config (sidecar)
  ada3d_tiny.safetensors   the same tensors, config in the metadata
  ada3d_tiny_io.safetensors
      frames  (C*T) x 3 x 48 x 48 normalised input (also usable as `adalens inspect --input`)
      m, n    policies per clip
      {case}_logits, {case}_kept (C x T, 0/1), {case}_stages (C x K, 0/1), {case}_video (mean softmax)
      for case a (tau_f 0.5, tau_s 0.5) and b (tau_f 0.3, tau_s 0.7); FLOPs per clip in the metadata

Usage: /opt/pyenv-budget/bin/python scripts/make_ada3d_fixture.py
"""

import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_model_fixtures import DEFAULT_OUT, c32, randomise_bn, save_file, seeded_init  # noqa: E402
from make_resnet3d_fixture import Holder, ResNet3d, count_flops  # noqa: E402

CONFIG = {
    "arch": "ada3d",
    "num_classes": 5,
    "class_names": ["archery", "bowling", "curling", "diving", "fencing"],
    "clip_frames": 8,
    "frame_stride": 2,
    "num_clips": 2,
    "input_size": 48,
    "selection_size": 24,
    "selection_width_mult": 0.1,
    "backbone": {"preset": "i3d", "width": 4, "layers": [1, 2, 2, 2]},
    "frame_threshold": 0.5,
    "stage_threshold": 0.5,
}
CASES = {"a": (0.5, 0.5), "b": (0.3, 0.7)}


class Ada3dRef(ResNet3d):
    def __init__(self, cfg):
        b = cfg["backbone"]
        super().__init__(b["preset"], b["width"], b["layers"], cfg["num_classes"])
        mb = torchvision.models.mobilenet_v2(width_mult=cfg["selection_width_mult"])
        self.selection = Holder()
        self.selection.backbone = Holder()
        self.selection.backbone.features = mb.features
        feat = mb.last_channel
        self.selection.frame_head = nn.Linear(feat, cfg["clip_frames"])
        self.selection.stage_head = nn.Linear(feat, len(self.adaptive))
        self.factor = cfg["input_size"] // cfg["selection_size"]

    def policies(self, clips):
        """clips: C x T x 3 x S x S -> m (C x T), n (C x K)."""
        c, t = clips.shape[:2]
        frames = clips.reshape(c * t, *clips.shape[2:])
        small = F.interpolate(frames, scale_factor=1 / self.factor, mode="area")
        feats = self.selection.backbone.features(small).mean((2, 3)).reshape(c, t, -1).mean(1)
        return (torch.sigmoid(self.selection.frame_head(feats)),
                torch.sigmoid(self.selection.stage_head(feats)))

    def run_clip(self, clip, kept, stages):
        """clip: T x 3 x S x S; the 3D network (N C T H W) on the kept frames."""
        self.set_stages(stages)
        x = clip[kept].permute(1, 0, 2, 3).unsqueeze(0)
        logits, _ = ResNet3d.forward(self, x)
        return logits[0], count_flops(self, x)


def decide(probs, tau):
    keep = probs >= tau
    if not keep.any():
        keep[probs.argmax()] = True
    return keep


def main():
    torch.set_grad_enabled(False)
    g = torch.Generator().manual_seed(4101)
    cfg = CONFIG
    model = Ada3dRef(cfg)
    seeded_init(model, g)
    s, t = cfg["input_size"], cfg["clip_frames"]
    randomise_bn(model, [torch.randn(2, 3, t, s, s, generator=g)], g)
    # The selection network's BatchNorm statistics from frames at its own size.
    sel = [m for m in model.selection.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in sel:
        m.reset_running_stats()
        m.momentum = None
    model.selection.train()
    model.selection.backbone.features(torch.randn(32, 3, s // 2, s // 2, generator=g))
    model.eval()
    for m in sel:
        m.momentum = 0.1
    # Head weights large enough that m and n spread across the thresholds.
    for head in (model.selection.frame_head, model.selection.stage_head):
        head.weight.mul_(6.0)
    clips = (torch.rand(2, t, 3, s, s, generator=g) * 2 - 1)
    m, n = model.policies(clips)
    for tau_f, tau_s in CASES.values():
        margin = min((m - tau_f).abs().min().item(), (n - tau_s).abs().min().item())
        assert margin > 0.01, f"a policy within {margin} of a threshold: pick another seed"
    print("m", m.numpy().round(3), "\nn", n.numpy().round(3))
    io = {"frames": c32(clips.reshape(-1, 3, s, s)), "m": c32(m), "n": c32(n)}
    meta = {}
    for case, (tau_f, tau_s) in CASES.items():
        logits, kept, stages, flops = [], [], [], []
        for i in range(clips.shape[0]):
            k = decide(m[i], tau_f)
            st = (n[i] >= tau_s)
            idx = k.nonzero().flatten()
            lg, fl = model.run_clip(clips[i], idx, st.int().tolist())
            logits.append(lg)
            kept.append(k.float())
            stages.append(st.float())
            flops.append(fl)
        logits = torch.stack(logits)
        io[f"{case}_logits"] = c32(logits)
        io[f"{case}_kept"] = c32(torch.stack(kept))
        io[f"{case}_stages"] = c32(torch.stack(stages))
        io[f"{case}_video"] = c32(logits.softmax(-1).mean(0))
        meta[case] = {"frame_threshold": tau_f, "stage_threshold": tau_s,
                      "backbone_flops_per_clip": flops}
        print(case, "kept", torch.stack(kept).int().tolist(), "stages",
              torch.stack(stages).int().tolist(), "flops", flops)
    # Selection network FLOPs per clip by hooks (conv + BN channels + linear), for the total.
    sel_total = [0]

    def conv_hook(mod, inp, out):
        sel_total[0] += out[0].numel() * mod.in_channels // mod.groups * mod.kernel_size[0] * mod.kernel_size[1]

    hooks = [mod.register_forward_hook(conv_hook) for mod in model.selection.modules()
             if isinstance(mod, nn.Conv2d)]
    model.selection.backbone.features(torch.zeros(1, 3, s // 2, s // 2))
    for h in hooks:
        h.remove()
    bn = sum(mod.num_features for mod in model.selection.modules() if isinstance(mod, nn.BatchNorm2d))
    heads = sum(h.in_features * h.out_features
                for h in (model.selection.frame_head, model.selection.stage_head))
    meta["selection_flops_per_clip"] = (sel_total[0] + bn) * t + heads

    out = DEFAULT_OUT
    sd = dict(model.state_dict())
    torch.save({"model_state": sd, "cur_epoch": 1}, os.path.join(out, "ada3d_tiny.pyth"))
    with open(os.path.join(out, "ada3d_tiny.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    tensors = {k: c32(v) for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    save_file(tensors, os.path.join(out, "ada3d_tiny.safetensors"),
              {"adalens.config": json.dumps(cfg, sort_keys=True)})
    save_file(io, os.path.join(out, "ada3d_tiny_io.safetensors"),
              {"cases": json.dumps(meta, sort_keys=True)})


if __name__ == "__main__":
    main()
