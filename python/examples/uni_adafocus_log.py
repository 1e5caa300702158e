"""Log the decisions of the official Uni-AdaFocus code's evaluation forward with adalens,
without editing that code: forward hooks on its modules record the glance, the temporal
policy's focus frames, the spatial policy's patch boxes and every step's logits.

    from uni_adafocus_log import UniAdaFocusLogger
    model = AdaFocus(args).eval()            # the official models/uni_adafocus.py
    logger = UniAdaFocusLogger(model, class_names, out_dir="traces/")
    for images, label, (video_path, frame_numbers) in loader:   # one video per batch
        with logger.video(video_path, frame_numbers):
            model(images)
    # then: adalens --trace traces/VIDEO.json, or adalens calibrate --traces traces/ labels.csv

What is read from the model (official names, as in its state_dict):
- `temporal_policy` returns (weights, weights_T); the focus frames are the deterministic
  quantiles of weights_T (the module's own `policy_sample_indices`, rand_sample=False);
- `spatial_policy`'s first call in a forward gives each glance frame's action (y, x, scale_y,
  scale_x), interpolated to every frame as the forward does; the patch box is the one
  `get_patch_grid_scalexy` cuts (sides from 96 to 224 pixels of the input, scaled);
- `classifier` returns (logits, last_out) with G glance heads then N local heads per video;
  adalens's step 0 is the last glance head, step k the local head after patch k.
GFLOPs per step are the official table (`get_flops` of the official
ops/early_exit_uni_adafocus.py, which `adalens budget --gflops-table uniadafocus:P` also uses):
G glance frames of MobileNetV2, one ResNet-50 patch per step, the classifier heads, and the
policies once the first patch is looked at. That table is written for 16 glance frames; the
policies' convolutions run over the G glance frames, so for another G their cost is scaled by
G/16 (what adalens's own FLOP count of such a model gives). Frames are 224 pixels, as the table's.

`python/tests/dev_uni_adafocus.py` checks a logged trace against `adalens inspect` on
the same checkpoint and frames (developer-run: it needs PyTorch and the official code).
"""

import contextlib
import sys
from pathlib import Path

import numpy as np

import adalens

# GFLOPs of the official figures: MobileNetV2 (no fc) per 224x224 frame, ResNet-50 (no fc) per
# patch of the given side.
MOBILENET_V2_224 = 0.299511328
RESNET50_PATCH = {96: 0.750725056, 128: 1.334601664, 160: 2.08530016, 192: 3.002820544}


def official_gflops(g, n, patch, side=224):
    """Cumulative GFLOPs after step k = 0..n, as the official get_flops counts them: the glance,
    k patches, the glance and local MLPs and heads, and the two policies once k > 0 (their
    16-glance-frame cost scaled to g frames)."""
    if side != 224 or patch not in RESNET50_PATCH:
        raise ValueError(f"the official GFLOPs table is for 224-pixel frames and patches of "
                         f"{sorted(RESNET50_PATCH)} pixels, not {side} and {patch}")
    out = []
    for k in range(n + 1):
        f = MOBILENET_V2_224 * g + RESNET50_PATCH[patch] * k
        f += (5.246976 * g + 8.392704 * k + 0.8192 * g + 1.6384 * k) * 1e-3
        if k > 0:
            f += (0.00412992 + 0.822485376) * g / 16
        out.append(f)
    return np.array(out)


class UniAdaFocusLogger:
    def __init__(self, model, class_names, out_dir, arch="uni_adafocus"):
        import torch  # noqa: F401  (the model is a torch module)

        self.model = model
        self.class_names = list(class_names)
        self.out = Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.arch = arch
        self.module = sys.modules[type(model).__module__]
        self._rec = None
        model.temporal_policy.register_forward_hook(self._temporal)
        model.spatial_policy.register_forward_hook(self._spatial)
        model.classifier.register_forward_hook(self._classifier)

    # -- hooks: record what the evaluation forward computed, change nothing --
    def _temporal(self, _m, _inp, out):
        if self._rec is not None:
            self._rec["weights_T"] = out[1].detach()

    def _spatial(self, _m, _inp, out):
        if self._rec is not None and "actions" not in self._rec:
            self._rec["actions"] = out.detach()

    def _classifier(self, _m, _inp, out):
        if self._rec is not None:
            self._rec["logits"] = out[0].detach()

    @contextlib.contextmanager
    def video(self, path, frame_numbers, name=None):
        """Record one forward of one video whose T input frames are `frame_numbers`."""
        self._rec = {}
        try:
            yield
            self._write(Path(path), list(frame_numbers), name)
        finally:
            self._rec = None

    def _write(self, path, frames, name):
        import torch
        import torch.nn.functional as F

        m = self.model
        t, g, n = m.num_segments, m.num_glance_segments, m.num_focus_segments
        s, p = m.input_size, m.patch_size
        if len(frames) != t:
            raise ValueError(f"{len(frames)} frame numbers for a model of {t} frames")
        glance = list(range(t))[1 :: t // g]
        focus = self.module.policy_sample_indices(
            self._rec["weights_T"], t, g, n, False, self._rec["weights_T"].device
        ).tolist()[:n]
        # Actions of the G glance frames, to every frame, as the forward interpolates them.
        a = self._rec["actions"].view(-1, g, 4).permute(0, 2, 1)
        a = F.interpolate(a, t, mode="linear", align_corners=False).permute(0, 2, 1)[0]
        regions = []
        for k in focus:
            y, x, sy, sx = a[k].tolist()
            scale_y = sy * (224 - 96) / p + 96 / p
            scale_x = sx * (224 - 96) / p + 96 / p
            x1 = x * (s - p * scale_x)
            y1 = y * (s - p * scale_y)
            # The box in input pixels; the trace's input geometry maps it to the video.
            regions.append({"frames": [frames[k]], "box": (x1, y1, x1 + p * scale_x, y1 + p * scale_y)})
        logits = self._rec["logits"].view(-1, g + n, len(self.class_names))[0]
        steps = logits[g - 1 :].float().cpu().numpy()
        gflops = official_gflops(g, n, p, s)
        log = adalens.TraceBuilder(path, self.class_names, arch=self.arch)
        kept = [i in glance or i in focus for i in range(t)]
        log.add_clip(frames, kept=kept, regions=_in_video(regions, path, s), logits=steps, gflops=gflops)
        log.save(self.out / f"{name or path.stem}.json")


def _in_video(regions, video, side):
    """Boxes from the model's square input (the video resized to side x side) to video pixels."""
    import subprocess

    w, h = map(int, subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
         "-of", "csv=p=0", str(video)], check=True, capture_output=True, text=True).stdout.split(",")[:2])
    out = []
    for r in regions:
        x1, y1, x2, y2 = r["box"]
        box = (max(x1, 0) * w / side, max(y1, 0) * h / side, min(x2, side) * w / side, min(y2, side) * h / side)
        out.append({"frames": r["frames"], "box": box})
    return out
