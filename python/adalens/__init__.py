"""adalens from Python: log any adaptive video model's decisions, run adalens's own models,
read batch runs, solve exit thresholds for a budget, and open it all in the adalens window.

The work is done in Rust (the same library the ``adalens`` command and window use); this
module converts arguments and results. Errors are :class:`AdalensError` with the library's
message, which names the file and the problem.

Log a model that adalens does not run itself::

    import adalens, numpy as np
    log = adalens.TraceBuilder("clip.mp4", class_names=["walk", "run"], arch="ar_net")
    log.categorical("resolution", {"224": 4.1, "168": 2.3, "112": 1.0, "skip": 0.0})
    log.add_clip(frames=[0, 8, 16, 24], lanes={"resolution": ["224", "skip", "112", "168"]},
                 probs=np.array([[0.6, 0.4], [0.9, 0.1]]), gflops=[4.1, 7.4])
    log.save("clip.trace.json")
    adalens.view("clip.trace.json")
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Union

import numpy as np

from . import _native
from ._native import TRACE_VERSION, AdalensError

__all__ = [
    "AdalensError",
    "Checkpoint",
    "Run",
    "TRACE_VERSION",
    "Trace",
    "TraceBuilder",
    "budget",
    "calibrate",
    "import_traces",
    "open_run",
    "schema",
    "view",
]

PathLike = Union[str, "os.PathLike[str]"]


def _pandas():
    try:
        import pandas
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("to_pandas / open_run(as_pandas=True) need pandas: pip install pandas") from e
    return pandas


class Trace:
    """Everything a model decided on one video (the DecisionTrace of docs/trace.schema.json)."""

    def __init__(self, native: "_native.Trace"):
        self._t = native

    @classmethod
    def open(cls, path: PathLike) -> "Trace":
        """Read and check a trace file."""
        return cls(_native.Trace.open(os.fspath(path)))

    @property
    def arch(self) -> str:
        return self._t.arch

    @property
    def video(self) -> str:
        return self._t.video

    @property
    def class_names(self) -> List[str]:
        return self._t.class_names

    @property
    def num_clips(self) -> int:
        return self._t.num_clips

    def prediction(self) -> List[tuple]:
        """(class, name, probability) where the clips stop, best first."""
        return self._t.prediction()

    def gflops(self) -> float:
        """GFLOPs the video spends where its clips stop."""
        return self._t.gflops()

    def to_json(self) -> str:
        return self._t.to_json()

    def to_dict(self) -> Dict[str, Any]:
        """The trace as plain Python data (the JSON format's fields)."""
        return json.loads(self._t.to_json())

    def save(self, path: PathLike) -> None:
        self._t.save(os.fspath(path))

    def to_pandas(self) -> Dict[str, Any]:
        """Three DataFrames: ``frames`` (one row per sampled frame, with a column per lane),
        ``steps`` (one row per step: top-1, entropy, confidence, cumulative GFLOPs, whether the
        clip stops there) and ``cubes`` (one row per region, in order)."""
        pd = _pandas()
        d = self.to_dict()
        frames, steps, cubes = [], [], []
        lanes = {l["name"]: l for l in d.get("lanes", [])}
        for ci, c in enumerate(d["clips"]):
            for fi, f in enumerate(c["frames"]):
                row = {"clip": ci, **{k: f.get(k) for k in ("frame", "seconds", "keep_prob", "kept", "role")}}
                for name, values in c.get("lanes", {}).items():
                    v = values[fi]
                    spec = lanes.get(name, {})
                    cats = spec.get("categories")
                    row[name] = cats[int(v)]["name"] if cats and v is not None else v
                frames.append(row)
            stop = (c.get("exit") or {}).get("exit_step", len(c["steps"]) - 1)
            for s in c["steps"]:
                top = s["top"][0] if s["top"] else {"class": None, "prob": None}
                steps.append(
                    {
                        "clip": ci,
                        "step": s["step"],
                        "top1": top["class"],
                        "top1_name": d["class_names"][top["class"]] if top["class"] is not None and top["class"] < len(d["class_names"]) else None,
                        "top1_prob": top["prob"],
                        "entropy": s["entropy"],
                        "confidence": s["confidence"],
                        "cumulative_gflops": s["cumulative_gflops"],
                        "stops_here": s["step"] == stop,
                    }
                )
            for q in c["cubes"]:
                cubes.append({"clip": ci, **{k: q.get(k) for k in ("order", "x", "y", "z", "w", "h", "t", "region")}})
        return {"frames": pd.DataFrame(frames), "steps": pd.DataFrame(steps), "cubes": pd.DataFrame(cubes)}

    def __repr__(self) -> str:
        return repr(self._t)


class TraceBuilder:
    """Log a model's decisions on one video, clip by clip, and save them as a trace adalens
    opens (``adalens VIDEO --trace T.json``, :func:`view`, the dataset view).

    ``video`` is opened here (its frame count, rate and size go into the trace: frame numbers
    are display order from 0, as ``ffmpeg`` decodes it). ``class_names`` are the model's
    classes; ``arch`` names the model (any name)."""

    def __init__(self, video: PathLike, class_names: Sequence[str], arch: str = "custom"):
        self._b = _native.TraceBuilder(os.fspath(video), [str(c) for c in class_names], arch)
        self._categories: Dict[str, List[str]] = {}
        self._classes = len(class_names)

    def categorical(self, name: str, categories: Union[Sequence[str], Mapping[str, Optional[float]]]) -> None:
        """Declare a per-frame categorical decision (a resolution, a modality, a bit-width):
        its categories in order, or a mapping of category name to what one frame costs in
        GFLOPs (0 for a skipped frame, drawn grey)."""
        if isinstance(categories, Mapping):
            cats = [(str(k), None if v is None else float(v)) for k, v in categories.items()]
        else:
            cats = [(str(k), None) for k in categories]
        self._b.declare_categorical(name, cats)
        self._categories[name] = [c for c, _ in cats]

    def scalar(self, name: str, unit: Optional[str] = None, range: Optional[tuple] = None) -> None:
        """Declare a per-frame number (e.g. the share of tokens kept), drawn as bars over
        ``range`` (default: the values' own range)."""
        self._b.declare_scalar(name, unit, None if range is None else (float(range[0]), float(range[1])))

    def _lane_values(self, name: str, values: Iterable[Any]) -> List[Optional[float]]:
        cats = self._categories.get(name)
        out: List[Optional[float]] = []
        for v in values:
            if v is None:
                out.append(None)
            elif cats is not None and isinstance(v, str):
                if v not in cats:
                    raise AdalensError(f"lane {name!r}: {v!r} is not one of its categories {cats}")
                out.append(float(cats.index(v)))
            else:
                out.append(float(v))
        return out

    @staticmethod
    def _rows(a: Any) -> Optional[tuple]:
        """(steps, classes, float32 bytes) of a (steps, classes) array: what the extension reads."""
        if a is None:
            return None
        a = np.asarray(a, dtype=np.float32)
        if a.ndim == 1:
            a = a[None, :]
        if a.ndim != 2:
            raise AdalensError(f"step outputs must be (steps, classes), got shape {a.shape}")
        a = np.ascontiguousarray(a)
        return (a.shape[0], a.shape[1], a.tobytes())

    def add_clip(
        self,
        frames: Sequence[int],
        *,
        keep_probs: Optional[Sequence[float]] = None,
        kept: Optional[Sequence[bool]] = None,
        lanes: Optional[Mapping[str, Sequence[Any]]] = None,
        stages: Optional[Sequence[tuple]] = None,
        regions: Optional[Sequence[Any]] = None,
        probs: Any = None,
        logits: Any = None,
        gflops: Optional[Sequence[float]] = None,
        exit_step: Optional[int] = None,
    ) -> int:
        """Add one clip; returns its index.

        - ``frames``: the sampled frame numbers.
        - ``keep_probs`` / ``kept``: a frame policy's keep probability and decision per frame
          (``kept`` defaults to ``keep_probs >= 0.5``, else every frame).
        - ``lanes``: ``{name: one value per frame}`` for declared lanes (a categorical lane
          takes category names or indices; ``None`` where nothing was decided).
        - ``stages``: ``(probability of 3D, ran 3D)`` per adaptive stage.
        - ``regions``: the regions looked at in order (region k feeds step k), each
          ``{"frames": [...], "box": (x1, y1, x2, y2)}`` in the video's pixels, or a
          ``(frames, box)`` pair.
        - ``probs`` or ``logits``: the prediction after each step, shape ``(steps, classes)``
          (step 0 first); ``gflops``: cumulative GFLOPs after each step.
        - ``exit_step``: where the model stopped (default: its last step).
        """
        lane_values = {k: self._lane_values(k, v) for k, v in (lanes or {}).items()}
        regs = []
        for r in regions or []:
            if isinstance(r, Mapping):
                fr, box = r["frames"], r["box"]
            else:
                fr, box = r
            regs.append(([int(f) for f in np.atleast_1d(fr)], tuple(float(b) for b in box)))
        return self._b.add_clip(
            [int(f) for f in frames],
            keep_probs=None if keep_probs is None else [float(p) for p in keep_probs],
            kept=None if kept is None else [bool(k) for k in kept],
            lanes=lane_values,
            stages=None if stages is None else [(float(p), bool(r)) for p, r in stages],
            regions=regs,
            probs=self._rows(probs),
            logits=self._rows(logits),
            gflops=None if gflops is None else [float(g) for g in np.atleast_1d(gflops)],
            exit_step=exit_step,
        )

    @property
    def num_clips(self) -> int:
        return self._b.num_clips

    def finish(self) -> Trace:
        return Trace(self._b.finish())

    def save(self, path: PathLike) -> Trace:
        """Write the trace (JSON, atomically) and return it."""
        return Trace(self._b.save(os.fspath(path)))


class Checkpoint:
    """A checkpoint adalens runs itself (safetensors, or a PyTorch zip read without pickle
    code): no PyTorch needed."""

    def __init__(self, path: PathLike, config: Optional[PathLike] = None):
        self._c = _native.Checkpoint(os.fspath(path), None if config is None else os.fspath(config))

    @property
    def arch(self) -> str:
        return self._c.arch

    @property
    def class_names(self) -> List[str]:
        return self._c.class_names

    def inspect(
        self,
        video: PathLike,
        budget: Optional[float] = None,
        tau_f: Optional[float] = None,
        tau_s: Optional[float] = None,
        max_cubes: Optional[int] = None,
        criterion: str = "entropy",
    ) -> Trace:
        """Run the model on ``video``; with ``budget`` (GFLOPs per video), the exits of the
        thresholds solved on the checkpoint's calibration set (``NAME.adlcal``)."""
        return Trace(self._c.inspect(os.fspath(video), budget, tau_f, tau_s, max_cubes, criterion))


def budget(calibration: PathLike, budget: float, criterion: str = "entropy") -> Dict[str, Any]:
    """Exit thresholds for a budget (AdaFocusV3 eq. 7): what ``adalens budget CALIBRATION
    --budget B --json`` prints (``steps[t]["threshold"]``, ``gflops``, ``top1``, ...)."""
    return json.loads(_native.budget_json(os.fspath(calibration), float(budget), criterion))


def calibrate(
    traces: PathLike, out: PathLike, list: Optional[PathLike] = None, self_labels: bool = False
) -> Dict[str, Any]:
    """A calibration set (``out``, ``.adlcal``) from a folder of logged traces whose steps carry
    probabilities, labelled by ``list`` (``path,label`` lines); as ``adalens calibrate --traces``."""
    n, steps, classes, skipped = _native.calibrate_traces(
        os.fspath(traces), os.fspath(out), None if list is None else os.fspath(list), self_labels
    )
    return {"path": os.fspath(out), "samples": n, "steps": steps, "classes": classes, "skipped": skipped}


def import_traces(traces: PathLike, out: PathLike, list: Optional[PathLike] = None) -> int:
    """A folder of logged traces as a batch run folder (``adalens import``); the traces used."""
    return _native.import_traces(os.fspath(traces), os.fspath(out), None if list is None else os.fspath(list))


class Run(NamedTuple):
    """A batch run's tables: one row per video, and one row per clip and step."""

    summary: Any
    steps: Any


def open_run(out: PathLike, as_pandas: bool = True) -> Run:
    """Read a batch run folder (``adalens batch --out``, ``adalens import``): its
    ``summary.parquet`` and ``steps.parquet`` as DataFrames (dicts of lists without pandas)."""
    out = Path(out)
    cols = [_native.read_parquet(os.fspath(out / f)) for f in ("summary.parquet", "steps.parquet")]
    if as_pandas:
        try:
            pd = _pandas()
        except ImportError:
            return Run(*cols)
        return Run(*(pd.DataFrame(c) for c in cols))
    return Run(*cols)


def schema() -> Dict[str, Any]:
    """The trace format's JSON Schema (docs/trace.schema.json)."""
    return json.loads(_native.trace_schema())


def view(
    trace: Union[Trace, PathLike],
    video: Optional[PathLike] = None,
    calibration: Optional[PathLike] = None,
    wait: bool = False,
) -> subprocess.Popen:
    """Open a trace in the adalens window (a process of its own): ``adalens [VIDEO] --trace T``.
    A :class:`Trace` not saved yet is written to a temporary file first."""
    if isinstance(trace, Trace):
        fd, path = tempfile.mkstemp(suffix=".trace.json", prefix="adalens-")
        os.close(fd)
        trace.save(path)
    else:
        path = os.fspath(trace)
    args = [sys.executable, "-m", "adalens"]
    if video is not None:
        args.append(os.fspath(video))
    args += ["--trace", path]
    if calibration is not None:
        args += ["--calibration", os.fspath(calibration)]
    p = subprocess.Popen(args)
    if wait:
        p.wait()
    return p
