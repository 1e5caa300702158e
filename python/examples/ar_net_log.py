"""Log an AR-Net-style model's decisions with adalens, from a few lines of numpy.

AR-Net (Meng et al., ECCV 2020) picks a resolution for every sampled frame, or skips it, with a
small policy network, and classifies from what it saw. This script stands in for such a
model: its "policy" picks the resolution from how much each frame moves (frame differences
of the decoded video, read with the ffmpeg command line), and its "classifier" grows surer
of a class as it sees more motion. The point is the logging: swap in your own model's
outputs and the rest stays.

    python python/examples/ar_net_log.py VIDEO... --labels LABELS.csv --out DIR
    adalens DIR/                     # the dataset view: every video, budget slider, figures
    adalens --trace DIR/VIDEO.json   # one video on the timeline (calibration.adlcal beside it)

With no arguments it logs the bundled synthetic demo videos into assets/demo/logged/.
"""

import argparse
import csv
import os
import subprocess
from pathlib import Path

import numpy as np

import adalens

ROOT = Path(__file__).resolve().parents[2]
RESOLUTIONS = {"224": 4.11, "168": 2.31, "112": 1.03, "skip": 0.0}  # GFLOPs per frame (ResNet-50)
CLIP_FRAMES = 16  # frames sampled per clip (one step each, AR-Net's per-frame recurrence)


def motion(video: Path) -> np.ndarray:
    """Mean absolute difference of each frame from the previous one, on a 32x24 grey decode."""
    raw = subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-i", str(video), "-vf", "scale=32:24,format=gray",
         "-f", "rawvideo", "-"],
        check=True, capture_output=True,
    ).stdout
    frames = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 24, 32).astype(np.float32)
    diff = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2))
    return np.concatenate([[0.0], diff])


def log(video: Path, classes, label: int, out: Path, rng) -> None:
    move = motion(video)
    n = len(move)
    log = adalens.TraceBuilder(video, classes, arch="ar_net")
    log.categorical("resolution", RESOLUTIONS)
    log.scalar("motion", unit="mean |diff|")
    for start in range(0, n - CLIP_FRAMES + 1, CLIP_FRAMES * 2):
        frames = np.arange(start, start + CLIP_FRAMES * 2, 2)
        m = move[frames]
        # The policy: more motion, more pixels; a still frame is skipped.
        cut = np.quantile(m, [0.25, 0.5, 0.75])
        choice = np.where(m < cut[0], "skip", np.where(m < cut[1], "112", np.where(m < cut[2], "168", "224")))
        cost = np.cumsum([RESOLUTIONS[c] for c in choice])
        # The classifier: evidence for the true class grows with what it saw, plus noise.
        evidence = np.cumsum(np.where(choice == "skip", 0.0, 0.4))
        logits = rng.normal(scale=1.0, size=(CLIP_FRAMES, len(classes)))
        logits[:, label] += evidence
        log.add_clip(frames, lanes={"resolution": list(choice), "motion": m}, logits=logits, gflops=cost)
    log.save(out / f"{video.stem}.json")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("videos", nargs="*", type=Path)
    ap.add_argument("--labels", type=Path, help="path,label lines (default: the demo's)")
    ap.add_argument("--out", type=Path, default=ROOT / "assets/demo/logged")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    if a.videos:
        rows = list(csv.reader(a.labels.open())) if a.labels else [[str(v), ""] for v in a.videos]
        labels = {Path(r[0]).name: r[1] for r in rows if r and r[0] != "path"}
        videos = a.videos
    else:
        videos = sorted((ROOT / "assets/demo/synth").glob("*.mp4"))
        videos = [v for v in videos if v.stem != "four_actions"] + [ROOT / "assets/demo/synth/four_actions.mp4"]
        labels = {v.name: v.stem for v in videos}
        labels["four_actions.mp4"] = "red_disc"
    classes = sorted({l for l in labels.values() if l})
    rng = np.random.default_rng(0)
    with (a.out / "labels.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "label"])
        for v in videos:
            label = labels.get(v.name, "")
            log(v, classes, classes.index(label) if label in classes else 0, a.out, rng)
            # Paths relative to the list's folder, so the folder can move with its videos.
            w.writerow([os.path.relpath(Path(v).resolve(), a.out.resolve()), label])
    r = adalens.calibrate(a.out, a.out / "calibration.adlcal", list=a.out / "labels.csv")
    print(f"{len(videos)} traces in {a.out}; calibration set of {r['samples']} clips "
          f"({r['steps']} steps); open with: adalens {a.out}/")


if __name__ == "__main__":
    main()
