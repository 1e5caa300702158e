#!/usr/bin/env python3
"""Writes the PyTorch reference of the `ada3d_focus` arch (issue 4) into tests/fixtures/model/.

Written from docs/ARCHITECTURE.md section 1 and the issue text (there is no official code): a MobileNetV2
glance on all T frames (area-downscaled to glance_size) feeds Ada3D's frame and stage heads (features
averaged over frames, sigmoid), the temporal policy (Uni-AdaFocus Tconv, softmax with temperature over the
T frames) and the spatial policy (Uni-AdaFocus encoder, 4 sigmoid actions per frame). Kept frames:
m >= tau_f (at least one); 3D stages: n >= tau_s. Cube centres: the deterministic quantile rule on the
kept frames' renormalised temporal weights (discarded frames weigh zero), min(N, kept) cubes. A cube
spans cube_frames consecutive kept frames around its centre (clamped at the ends) and the box of the
centre frame's action (official get_patch_grid_scalexy formula, min = max = cube_size unless set), cut
with affine_grid + grid_sample; the 3D ResNet (make_resnet3d_fixture.py, torch's nn.Conv3d, no head)
gives its pooled features; the pooling classifier (make_uni_adafocus_fixture.py) gives T glance heads
and N cube heads. Step 0 = the last glance head, step k = cube head k.

Files (tiny: 8 frames of 96², glance 48² with MobileNetV2 0.1, SlowOnly layout width 4, layers
[1,1,1,1], cubes 40² x 3 frames, at most 3 cubes, 5 classes):
  ada3d_focus_tiny.safetensors   weights, config in the metadata
  ada3d_focus_tiny.pth.tar       torch.save({'epoch', 'state_dict'}) of the DataParallel model
  ada3d_focus_tiny.json          the config (sidecar)
  ada3d_focus_tiny_tap{.safetensors,.json,_io.safetensors}
      with argument `tap`: the same with "spatial_block": 6 (the spatial policy reads
      features.6, 6x6, instead of the last 2x2 map), no .pth.tar
  ada3d_focus_tiny_io.safetensors
      frames_u8 (T x 3 x 96 x 96; the input is (u8 / 255 - mean) / std), m, n, temporal_weights_t,
      actions, and per case a (tau 0.5 / 0.5) and b (0.3 / 0.7): {case}_kept (T, 0/1),
      {case}_stages, {case}_centres, {case}_cube_frames (N x T'), {case}_boxes (N x 4),
      {case}_step_logits ((1 + N) x classes)

Usage: /opt/pyenv-budget/bin/python scripts/make_ada3d_focus_fixture.py [tap]
"""

import copy
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_model_fixtures import (DEFAULT_OUT, c32, quantile_indices, randomise_bn,  # noqa: E402
                                 save_file, seeded_init, theta_from_actions)
from make_resnet3d_fixture import Holder, ResNet3d  # noqa: E402
from make_uni_adafocus_fixture import (MEAN, STD, Classifier, boxes_from_theta,  # noqa: E402
                                       policy_modules)

CONFIG = {
    "arch": "ada3d_focus",
    "num_classes": 5,
    "class_names": ["archery", "bowling", "curling", "diving", "fencing"],
    "num_segments": 8,
    "input_size": 96,
    "glance_size": 48,
    "glance_width_mult": 0.1,
    "cube_size": 40,
    "cube_frames": 3,
    "num_cubes": 3,
    "local": {"preset": "slow_only", "width": 4, "layers": [1, 1, 1, 1]},
    "mlp_hidden": 16,
    "spatial_hidden": 8,
    "temporal_hidden": 8,
    "temperature": 0.5,
    "frame_threshold": 0.5,
    "stage_threshold": 0.5,
    "mean": MEAN,
    "std": STD,
}
CASES = {"a": (0.5, 0.5), "b": (0.3, 0.7)}
HEAD_SCALE = float(os.environ.get("HEAD_SCALE", "0.3"))
TCONV_SCALE = float(os.environ.get("TCONV_SCALE", "0.05"))


class TinyAda3dFocus(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        t, c = cfg["num_segments"], cfg["num_classes"]
        mb = torchvision.models.mobilenet_v2(width_mult=cfg["glance_width_mult"])
        self.global_CNN = Holder()
        self.global_CNN.features = mb.features
        gdim = mb.last_channel
        loc = cfg["local"]
        self.local_CNN = ResNet3d(loc["preset"], loc["width"], loc["layers"], 1)
        del self.local_CNN.head  # features only: the pooling classifier is the head
        k = len(self.local_CNN.adaptive)
        self.selection = Holder()
        self.selection.frame_head = nn.Linear(gdim, t)
        self.selection.stage_head = nn.Linear(gdim, k)
        # The spatial policy reads features.{spatial_block} (the last block unless set).
        self.tap = cfg.get("spatial_block", len(mb.features) - 1)
        g = cfg["glance_size"]
        self.global_CNN.eval()  # the shape only: leave the BatchNorm statistics alone
        tapped = self.global_CNN.features[:self.tap + 1](torch.zeros(1, 3, g, g))
        self.global_CNN.train()
        self.spatial_policy, self.temporal_policy = policy_modules(
            gdim, cfg["spatial_hidden"], cfg["temporal_hidden"], tapped.shape[-1])
        if tapped.shape[1] != gdim:
            self.spatial_policy.encoder[0] = nn.Conv3d(tapped.shape[1], cfg["spatial_hidden"],
                                                       (1, 1, 1), bias=False)
        self.classifier = Classifier(gdim, loc["width"] * 32, cfg["mlp_hidden"], t, cfg["num_cubes"], c)

    def glance(self, frames):
        cfg = self.cfg
        small = F.interpolate(frames, scale_factor=cfg["glance_size"] / cfg["input_size"], mode="area")
        tapped = self.global_CNN.features[:self.tap + 1](small)
        fmap = self.global_CNN.features[self.tap + 1:](tapped)
        pooled = fmap.mean((2, 3))
        agg = pooled.mean(0, keepdim=True)
        m = torch.sigmoid(self.selection.frame_head(agg))[0]
        n = torch.sigmoid(self.selection.stage_head(agg))[0]
        tl = self.temporal_policy.Tconv(pooled.t().unsqueeze(0).unsqueeze(-1)).flatten()
        weights_t = torch.softmax(tl / cfg["temperature"], 0)
        actions = self.spatial_policy.encoder(tapped.permute(1, 0, 2, 3).unsqueeze(0)).flatten(2)[0].t()
        return pooled, m, n, weights_t, actions

    def run(self, frames, glance, tau_f, tau_s):
        cfg = self.cfg
        pooled, m, n, weights_t, actions = glance
        keep = m >= tau_f
        if not keep.any():
            keep[m.argmax()] = True
        kept = keep.nonzero().flatten()
        stages = (n >= tau_s)
        w = weights_t[kept]
        w = w / w.sum()
        kk = len(kept)
        ncubes = min(cfg["num_cubes"], kk)
        q, at = quantile_indices(w.unsqueeze(0), kk, ncubes)
        span = min(cfg["cube_frames"], kk)
        s, p = cfg["input_size"], cfg["cube_size"]
        cubes, centres, cube_frames, thetas = [], [], [], []
        for j in at[0].tolist():
            start = min(max(j - span // 2, 0), kk - span)
            idx = kept[start:start + span]
            centre = kept[j]
            theta = theta_from_actions(actions[centre].unsqueeze(0).float(), s, s, p, float(p),
                                       float(p)).to(frames.dtype)
            grid = F.affine_grid(theta.expand(span, 2, 3), (span, 3, p, p), align_corners=False)
            patch = F.grid_sample(frames[idx], grid, mode="bilinear", padding_mode="zeros",
                                  align_corners=False)
            cubes.append(patch.permute(1, 0, 2, 3))  # 3 x T' x P x P
            centres.append(int(centre))
            cube_frames.append(idx.tolist())
            thetas.append(theta[0])
        self.local_CNN.set_stages(stages.int().tolist())
        lfeat = self.local_CNN.features(torch.stack(cubes)).mean((2, 3, 4))
        logits = self.classifier(pooled.unsqueeze(0), lfeat.unsqueeze(0))[0]
        t = cfg["num_segments"]
        return {
            "kept": keep.float(), "stages": stages.float(), "positions": q[0],
            "centres": torch.tensor(centres, dtype=torch.float32),
            "cube_frames": torch.tensor(cube_frames, dtype=torch.float32),
            "boxes": boxes_from_theta(torch.stack(thetas), s),
            "step_logits": logits[t - 1:],
        }


def main():
    # `tap`: the variant whose spatial policy reads features.6 (6x6 at 48²), weights only.
    tap = sys.argv[1:] == ["tap"]
    name = "ada3d_focus_tiny_tap" if tap else "ada3d_focus_tiny"
    torch.set_grad_enabled(False)
    g = torch.Generator().manual_seed(4204 if tap else 4201)
    cfg = dict(CONFIG, spatial_block=6) if tap else CONFIG
    model = TinyAda3dFocus(cfg)
    seeded_init(model, g)
    t, s = cfg["num_segments"], cfg["input_size"]
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    # Smooth frames with structure (random low-resolution images, upsampled) as u8.
    low = torch.rand(t, 3, 12, 12, generator=g)
    u8 = (F.interpolate(low, size=(s, s), mode="bilinear", align_corners=False) * 255).round().to(torch.uint8)
    frames = (u8.float() / 255 - mean) / std

    def calib(_):
        pooled, m, n, wt, actions = model.glance(frames)
        model.run(frames, (pooled, m, n, wt, actions), 0.0, 0.0)
        return pooled

    # BatchNorm statistics measured on this input, then perturbed (randomise_bn calls model(x)).
    model.forward = calib
    randomise_bn(model, [None], g)
    model.eval()
    # Scales that keep m, n and the temporal weights away from saturation (random weights on
    # 1280 glance features give large scores): policies spread across the thresholds.
    for head in (model.selection.frame_head, model.selection.stage_head):
        head.weight.mul_(HEAD_SCALE)
        head.bias.zero_()
    model.temporal_policy.Tconv[6].weight.mul_(TCONV_SCALE)
    glance = model.glance(frames)
    pooled, m, n, weights_t, actions = glance
    print("m", m.numpy().round(3), "\nn", n.numpy().round(3), "\nw", weights_t.numpy().round(3))
    m64 = copy.deepcopy(model).double()
    frames64 = (u8.double() / 255 - mean.double()) / std.double()
    glance64 = m64.glance(frames64)
    io = {"frames_u8": u8.contiguous(), "m": c32(m), "n": c32(n),
          "temporal_weights_t": c32(weights_t), "actions": c32(actions)}
    for case, (tau_f, tau_s) in CASES.items():
        margin = min((m - tau_f).abs().min().item(), (n - tau_s).abs().min().item())
        assert margin > 0.01, f"case {case}: a policy within {margin} of a threshold"
        out = model.run(frames, glance, tau_f, tau_s)
        kk = int(out["kept"].sum())
        frac = (out["positions"] * kk) % 1
        assert ((frac > 1e-3) & (frac < 1 - 1e-3)).all(), f"case {case}: a quantile on a frame edge"
        for k, v in out.items():
            if k != "positions":
                io[f"{case}_{k}"] = c32(v)
        # The same in float64: the end-to-end bound is relative to it (float32 noise of the
        # glance reaches the classifier through its BatchNorm-folded MLP; see the fixtures README).
        out64 = m64.run(frames64, glance64, tau_f, tau_s)
        for k in ("kept", "stages", "centres", "cube_frames"):
            assert torch.equal(out64[k].float(), out[k].float()), f"case {case}: float64 decides {k} otherwise"
        io[f"{case}_step_logits_f64"] = out64["step_logits"].contiguous()
        print(case, "kept", out["kept"].int().tolist(), "stages", out["stages"].int().tolist(),
              "centres", out["centres"].int().tolist(), "cubes", out["cube_frames"].int().tolist())
    out_dir = DEFAULT_OUT
    del model.forward
    sd = dict(model.state_dict())
    dp = {"module." + k: v for k, v in sd.items()}
    if not tap:
        torch.save({"epoch": 1, "state_dict": dp}, os.path.join(out_dir, f"{name}.pth.tar"))
    with open(os.path.join(out_dir, f"{name}.json"), "w") as f:
        json.dump(cfg, f, indent=1)
    tensors = {k: c32(v) for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    save_file(tensors, os.path.join(out_dir, f"{name}.safetensors"),
              {"adalens.config": json.dumps(cfg, sort_keys=True)})
    save_file(io, os.path.join(out_dir, f"{name}_io.safetensors"))


if __name__ == "__main__":
    main()
