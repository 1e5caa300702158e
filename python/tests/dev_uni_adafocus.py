"""Developer-run check of python/examples/uni_adafocus_log.py against the official Uni-AdaFocus
code (not part of `make test`: it needs PyTorch, the official repository and a checkpoint).

    UNI_ADAFOCUS_CODE=".../Uni-AdaFocus with Experiments on ActivityNet, FCVID and Mini-Kinetics" \\
    UNI_ADAFOCUS_CHECKPOINT=model_best.pth.tar UNI_ADAFOCUS_VIDEO=clip.mp4 \\
    UNI_ADAFOCUS_ARGS="--dataset actnet --patch_size 128" \\
    python -m unittest python/tests/dev_uni_adafocus.py

UNI_ADAFOCUS_ARGS are the flags the model was trained with, parsed by the official `opts.py`
(the official checkpoints keep only `epoch`, `state_dict`, `optimizer` and `best_acc1`, so the
patch size and the frame count cannot come from the file; `args` is used when a checkpoint has
it). The same preprocessed frames go to the official forward (logged by the hooks) and to
`adalens inspect --input frames.safetensors` (adalens's own candle model of the checkpoint, told
the same geometry): the two traces must agree within the parity bound of
tests/model_uni_adafocus.rs (focus frames equal, patch boxes within 1e-3 of the input side,
per-step probabilities and entropies within 1e-3, GFLOPs within 1e-6).
"""

import json
import os
import shlex
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CODE = os.environ.get("UNI_ADAFOCUS_CODE")


def official_args(ck, state):
    """The training flags: the checkpoint's own `args`, else the official parser's defaults
    with UNI_ADAFOCUS_ARGS; the class count from the classifier's weights."""
    args = ck.get("args")
    if args is None:
        from opts import parser  # the official opts.py

        args = parser.parse_args(shlex.split(os.environ.get("UNI_ADAFOCUS_ARGS", "")))
    args.num_classes = state["classifier.global_classifiers.0.1.weight"].shape[0]
    args.device = "cpu"
    return args


@unittest.skipUnless(CODE and os.environ.get("UNI_ADAFOCUS_CHECKPOINT"), "needs the official code and a checkpoint")
class OfficialUniAdaFocus(unittest.TestCase):
    def test_hooked_trace_matches_adalens_inspect(self):
        import torch
        from safetensors.numpy import save_file

        sys.path.insert(0, CODE)
        sys.path.insert(0, str(HERE.parent / "examples"))
        from models.uni_adafocus import AdaFocus  # the official module
        from uni_adafocus_log import UniAdaFocusLogger

        import adalens

        ck_path = os.environ["UNI_ADAFOCUS_CHECKPOINT"]
        video = Path(os.environ["UNI_ADAFOCUS_VIDEO"])
        ck = torch.load(ck_path, map_location="cpu", weights_only=False)
        state = {k.removeprefix("module."): v for k, v in ck["state_dict"].items()}
        model = AdaFocus(official_args(ck, state)).eval()
        model.load_state_dict(state)
        t, s = model.num_segments, model.input_size
        count = int(subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
                                    "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", str(video)],
                                   check=True, capture_output=True, text=True).stdout)
        frames = [int((i + 0.5) * count / t) for i in range(t)]  # TSN segment centres
        raw = subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(video), "-vf",
                              f"scale={s}:{s},format=rgb24", "-f", "rawvideo", "-"],
                             check=True, capture_output=True).stdout
        rgb = np.frombuffer(raw, np.uint8).reshape(-1, s, s, 3)[frames]
        x = (rgb / 255.0 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
        # C order: safetensors writes the buffer as it lies, and a transposed view would reach
        # adalens scrambled while torch.from_numpy follows the strides.
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2), dtype=np.float32)
        names = [f"class {i}" for i in range(model.num_classes)]
        with tempfile.TemporaryDirectory() as d:
            logger = UniAdaFocusLogger(model, names, d)
            with torch.no_grad(), logger.video(video, frames, name="hooked"):
                model(torch.from_numpy(x).reshape(1, t * 3, s, s))
            hooked = adalens.Trace.open(Path(d) / "hooked.json").to_dict()
            save_file({"frames": x}, str(Path(d) / "frames.safetensors"))
            geometry = ["--num-segments", str(t), "--input-size", str(s), "--patch-size", str(model.patch_size),
                        "--num-glance", str(model.num_glance_segments), "--num-focus", str(model.num_focus_segments)]
            out = subprocess.run([sys.executable, "-m", "adalens", "inspect", "--input",
                                  str(Path(d) / "frames.safetensors"), "--checkpoint", ck_path, "--json", *geometry],
                                 check=True, capture_output=True, text=True).stdout
            ours = json.loads(out)
        h, o = hooked["clips"][0], ours["clips"][0]
        self.assertEqual(len(h["steps"]), len(o["steps"]))
        for a, b in zip(h["steps"], o["steps"]):
            self.assertEqual(a["top"][0]["class"], b["top"][0]["class"])
            self.assertAlmostEqual(a["top"][0]["prob"], b["top"][0]["prob"], delta=1e-3)
            self.assertAlmostEqual(a["entropy"], b["entropy"], delta=1e-3)
            self.assertAlmostEqual(a["cumulative_gflops"], b["cumulative_gflops"], delta=1e-6)
        # Focus frames: adalens numbers --input frames 0..T-1; the hooks name video frames.
        self.assertEqual([c["frames"] for c in h["cubes"]], [[frames[k] for k in c["frames"]] for c in o["cubes"]])
        w, hh = hooked["video"]["width"], hooked["video"]["height"]
        for a, b in zip(h["cubes"], o["cubes"]):
            x1, y1, x2, y2 = b["region"]
            want = [max(x1, 0) * w / s, max(y1, 0) * hh / s, min(x2, s) * w / s, min(y2, s) * hh / s]
            for u, v, side in zip(a["region"], want, [w, hh, w, hh]):
                self.assertAlmostEqual(u, v, delta=1e-3 * side)


if __name__ == "__main__":
    unittest.main()
