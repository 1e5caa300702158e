#!/usr/bin/env python3
"""Peer baselines for the adalens frame-sampling benchmark.

    /opt/pyenv-bench/bin/python scripts/bench_video_peers.py FILE \
        [--frames 16] [--size 224] [--repeat 5] [--json] [--methods ...]

Task: sample K frames (TSN segment centres) of FILE as SIZE x SIZE RGB24.

Frame numbers are display-order frame numbers n, 0-based, exactly as
`ffmpeg -vf select=eq(n\\,N)` counts them. N is the exact frame count from
`ffprobe -count_packets` and the TSN centres are floor((N/K) * (i + 0.5)),
i in 0..K, computed here in exact integer arithmetic: (N * (2i+1)) // (2K).

Methods (each run is a fresh subprocess, so peak RSS is per method and per
run; it is GNU time's %M for that one child, in MiB; the Python workers also
report their own VmHWM from /proc/self/status as a cross-check):

  pyav           PyAV, stream.thread_type = "AUTO". For each target: seek to the
                 target's pts (backward=True, i.e. to the keyframe at or before
                 it), decode forward until frame.pts == target pts, then
                 frame.reformat(width=S, height=S, format="rgb24").to_ndarray().
                 pts of frame n = start_time + n * frame_duration (CFR formula,
                 frame_duration = 1 / (average_rate * time_base), must be an
                 integer number of ticks). Why that is exactly frame n: for a
                 constant-frame-rate stream the k-th frame in display order has
                 pts start + k*dur, and ffmpeg's select counts n over decoder
                 output in display order starting at the first presented
                 frame (start_time). The parent process checks this assumption
                 before timing anything, untimed, by demuxing every packet and
                 asserting sorted(pts)[n] == start + n*dur for every n; if it
                 does not hold the CFR methods are skipped. The only metadata
                 the timed run reads is what av.open() parses (the mp4 moov).
  pyav_pktindex  Same seek/decode loop, but the pts of frame n comes from a
                 packet-level index built inside the timed run: demux every
                 packet of the stream (no decoding), sort the pts; frame n is
                 the n-th smallest pts. Exact for VFR files too; costs one read
                 of the whole file.
  pyav_fwd       Like pyav, but does not seek when the next target lies after
                 the current position in the same GOP (keyframe positions come
                 from stream.index_entries, i.e. the container index); it just
                 keeps decoding. This is what a careful sampler (and decord)
                 does; it matters when targets are closer than the GOP.
  decord         decord.VideoReader(FILE, ctx=cpu(0), width=S, height=S)
                 .get_batch(indices).asnumpy()  (if decord is importable).
  ffmpeg         `ffmpeg -benchmark -i FILE -f null -`: full decode of every
                 frame, no scaling. Reports ffmpeg's own rtime / maxrss too.
  baseline_pyav  `import numpy, av` only / `import numpy, decord` only: the
  baseline_decord  interpreter + library RSS floor, to subtract mentally from
                 the Python peers' RSS (timed once, not --repeat times).

Timing: "work" is measured inside the worker from just before opening the
file to the last RGB ndarray (imports and interpreter start-up excluded);
"proc" is the wall time of the whole child process. Median over --repeat runs;
peak RSS is the max over runs. CPU = user+sys of the child (useful when the
machine is loaded: wall time is noisy, CPU time much less so).

Correctness: before timing, the frames returned by each Python peer (first
run, dumped after the timer stops) are compared with references produced by
the ffmpeg CLI:
    ffmpeg -i FILE -vf "select=eq(n\\,N),scale=S:S" -f rawvideo -pix_fmt rgb24 -
(one pass with a select expression covering N-1, N, N+1 for every target).
The mean absolute difference per pixel (over all RGB samples, 0..255) is
reported against frame N and its neighbours: a peer that picks the right frame
has its minimum at N; off-by-one shows up as a minimum at N-1 or N+1. A peer
that fails this is flagged in the results table (WRONG FRAMES).
"""

import argparse
import bisect
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction

HERE = os.path.abspath(__file__)
DEFAULT_METHODS = "baseline_pyav,baseline_decord,pyav,pyav_pktindex,pyav_fwd,decord,ffmpeg"


# ---------------------------------------------------------------------------
# shared helpers
# ---------------------------------------------------------------------------

def probe_frame_count(path):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets",
         "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", path],
        check=True, capture_output=True, text=True).stdout.strip()
    return int(out.split(",")[0])


def tsn_indices(n_frames, k):
    # floor((N/k) * (i + 0.5)) == (N * (2i + 1)) // (2k), exactly.
    return [(n_frames * (2 * i + 1)) // (2 * k) for i in range(k)]


def cfr_params(stream):
    """(start_pts, ticks_per_frame) for a CFR stream, from container metadata."""
    dur = 1 / (Fraction(stream.average_rate) * Fraction(stream.time_base))
    if dur.denominator != 1:
        raise RuntimeError(f"frame duration {dur} ticks is not an integer")
    start = stream.start_time if stream.start_time is not None else 0
    return int(start), int(dur)


# ---------------------------------------------------------------------------
# workers (run in a fresh interpreter each)
# ---------------------------------------------------------------------------

def _decode_until(it, t, stats):
    f = None
    while f is None or f.pts < t:
        f = next(it)
        stats["decoded"] += 1
    return f


def worker_pyav(path, indices, size, mode):
    import av  # noqa: F401  (import cost excluded from "work")
    import numpy as np  # noqa: F401

    t0 = time.perf_counter()
    container = av.open(path)
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"

    if mode == "pktindex":
        pts = sorted(p.pts for p in container.demux(stream) if p.pts is not None)
        targets = [pts[n] for n in indices]
        _, dur = cfr_params(stream)  # only used as a back-off step size
    else:
        start, dur = cfr_params(stream)
        targets = [start + n * dur for n in indices]
    # keyframe DTS from the container index (no I/O beyond av.open)
    kf_dts = [e.timestamp for e in stream.index_entries if e.is_keyframe]

    stats = {"seeks": 0, "reseeks": 0, "decoded": 0}
    out = []
    it = None
    cur = None
    for t in targets:
        same_gop = (
            mode == "fwd" and cur is not None and cur < t and kf_dts
            and bisect.bisect_right(kf_dts, cur) == bisect.bisect_right(kf_dts, t))
        if same_gop:
            f = _decode_until(it, t, stats)
        else:
            back = 0
            while True:
                container.seek(t - back, stream=stream, backward=True)
                stats["seeks"] += 1
                it = container.decode(stream)
                f = next(it)
                stats["decoded"] += 1
                if f.pts <= t:
                    break
                # Landed on a keyframe whose pts is after the target (mov seeks
                # on DTS; with B-frames a keyframe's DTS precedes its PTS).
                # Step further back.
                stats["reseeks"] += 1
                back = back * 2 if back else 8 * dur
            if f.pts < t:
                f = _decode_until(it, t, stats)
        if f.pts != t:
            raise RuntimeError(f"target pts {t} not found; got {f.pts}")
        cur = f.pts
        out.append(f.reformat(width=size, height=size, format="rgb24").to_ndarray())
    t1 = time.perf_counter()
    container.close()
    return t1 - t0, out, stats


def worker_decord(path, indices, size):
    from decord import VideoReader, cpu
    import numpy as np  # noqa: F401

    t0 = time.perf_counter()
    vr = VideoReader(path, ctx=cpu(0), width=size, height=size)
    n = len(vr)
    batch = vr.get_batch(indices).asnumpy()
    t1 = time.perf_counter()
    return t1 - t0, list(batch), {"len_vr": n}


def worker_baseline(which):
    t0 = time.perf_counter()
    import numpy  # noqa: F401
    if which == "pyav":
        import av  # noqa: F401
    else:
        import decord  # noqa: F401
    return time.perf_counter() - t0, [], {"imports": which}


def worker_main(args):
    indices = [int(x) for x in args.indices.split(",")] if args.indices else []
    if args.worker == "pyav":
        dt, frames, info = worker_pyav(args.file, indices, args.size, "cfr")
    elif args.worker == "pyav_pktindex":
        dt, frames, info = worker_pyav(args.file, indices, args.size, "pktindex")
    elif args.worker == "pyav_fwd":
        dt, frames, info = worker_pyav(args.file, indices, args.size, "fwd")
    elif args.worker == "decord":
        dt, frames, info = worker_decord(args.file, indices, args.size)
    elif args.worker == "baseline_pyav":
        dt, frames, info = worker_baseline("pyav")
    elif args.worker == "baseline_decord":
        dt, frames, info = worker_baseline("decord")
    else:
        raise SystemExit(f"unknown worker {args.worker}")
    if args.dump and frames:
        import numpy as np
        np.save(args.dump, np.stack(frames))
    try:
        with open("/proc/self/status") as fh:
            for ln in fh:
                if ln.startswith("VmHWM:"):
                    info["vmhwm_mb"] = round(int(ln.split()[1]) / 1024.0, 1)
    except OSError:
        pass
    print(json.dumps({"work_s": dt, "n_out": len(frames), "info": info}))


# ---------------------------------------------------------------------------
# parent
# ---------------------------------------------------------------------------

GNU_TIME = "/usr/bin/time"


def run_child(cmd):
    """Run cmd; return (rc, stdout, stderr, wall_s, {"rss_mb", "cpu_s"}).

    Peak RSS must not be read with os.wait4()/RUSAGE_CHILDREN on a child of
    *this* process: Linux carries the RSS high-water mark of the forked copy
    of the parent (here ~70 MB: numpy + av + decord + reference frames)
    across exec into the child's ru_maxrss, so every child would report at
    least the parent's RSS. Instead the command is started through GNU time
    (a ~1 MB process), whose %M is the clean peak RSS of its own child.
    """
    use_time = os.access(GNU_TIME, os.X_OK)
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe, \
            tempfile.NamedTemporaryFile("r") as ft:
        full = ([GNU_TIME, "-f", "%M %U %S", "-o", ft.name] + cmd) if use_time else cmd
        t0 = time.perf_counter()
        p = subprocess.Popen(full, stdout=fo, stderr=fe, stdin=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        fo.seek(0)
        fe.seek(0)
        usage = {"rss_mb": ru.ru_maxrss / 1024.0, "cpu_s": ru.ru_utime + ru.ru_stime,
                 "rss_source": "wait4 (includes parent RSS at fork!)"}
        if use_time:
            ft.seek(0)
            last = [ln for ln in ft.read().splitlines() if ln.strip()]
            try:
                kb, ut, st = last[-1].split()
                usage = {"rss_mb": int(kb) / 1024.0, "cpu_s": float(ut) + float(st),
                         "rss_source": "GNU time %M"}
            except (IndexError, ValueError):
                pass
        return (p.returncode, fo.read().decode(errors="replace"),
                fe.read().decode(errors="replace"), wall, usage)


def check_cfr(path, n_frames):
    """Untimed: does sorted packet pts equal start + n*dur for every n?"""
    import av
    with av.open(path) as c:
        s = c.streams.video[0]
        start, dur = cfr_params(s)
        pts = sorted(p.pts for p in c.demux(s) if p.pts is not None)
    bad = [n for n, p in enumerate(pts) if p != start + n * dur]
    return {
        "start_pts": start, "ticks_per_frame": dur,
        "time_base": str(s.time_base), "average_rate": str(s.average_rate),
        "n_packets": len(pts), "mismatches": len(bad),
        "ok": not bad and len(pts) == n_frames,
    }


def reference_frames(path, wanted, size):
    """{n: HxWx3 uint8} from the ffmpeg CLI select filter (one decode pass)."""
    import numpy as np
    wanted = sorted(set(wanted))
    expr = "+".join(f"eq(n\\,{n})" for n in wanted)
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-i", path,
           "-vf", f"select='{expr}',scale={size}:{size}",
           "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    raw = subprocess.run(cmd, check=True, capture_output=True).stdout
    fsz = size * size * 3
    if len(raw) != fsz * len(wanted):
        raise RuntimeError(f"reference: got {len(raw) // fsz} frames, "
                           f"expected {len(wanted)}")
    arr = np.frombuffer(raw, np.uint8).reshape(len(wanted), size, size, 3)
    return {n: arr[i] for i, n in enumerate(wanted)}


def mad(a, b):
    import numpy as np
    return float(np.mean(np.abs(a.astype(np.int16) - b.astype(np.int16))))


def verify(frames, indices, refs):
    """Per target: MAD vs refs n-1, n, n+1 and the offset that matches best."""
    rows = []
    for i, n in enumerate(indices):
        d = {}
        for off in (-1, 0, 1):
            if (n + off) in refs:
                d[off] = mad(frames[i], refs[n + off])
        best = min(d, key=d.get)
        rows.append({"i": i, "n": n, "mad": {str(k): v for k, v in d.items()},
                     "best_offset": best})
    ok = all(r["best_offset"] == 0 for r in rows)
    return {"ok": ok, "rows": rows,
            "max_mad_at_n": max(r["mad"]["0"] for r in rows)}


def ffmpeg_version():
    out = subprocess.run(["ffmpeg", "-version"], capture_output=True,
                         text=True).stdout
    return out.splitlines()[0] if out else "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", nargs="?")
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true",
                    help="print one JSON document instead of the tables")
    ap.add_argument("--methods", default=DEFAULT_METHODS)
    ap.add_argument("--no-verify", action="store_true")
    # worker mode (internal)
    ap.add_argument("--worker")
    ap.add_argument("--file", dest="wfile")
    ap.add_argument("--indices")
    ap.add_argument("--dump")
    args = ap.parse_args()

    if args.worker:
        args.file = args.wfile
        return worker_main(args)
    if not args.file:
        ap.error("FILE is required")

    path = os.path.abspath(args.file)
    log = (lambda *a: print(*a, file=sys.stderr, flush=True)) if args.json \
        else (lambda *a: print(*a, flush=True))
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]

    try:
        import decord  # noqa: F401
        decord_ok, decord_ver = True, getattr(decord, "__version__", "?")
    except Exception as e:  # pragma: no cover
        decord_ok, decord_ver = False, f"not importable: {e}"
    try:
        import av
        import numpy as np
    except ImportError as e:
        sys.exit(f"{e}: run with the bench venv, e.g. /opt/pyenv-bench/bin/python "
                 f"{sys.argv[0]} ... (see scripts/requirements-bench.txt)")

    n_frames = probe_frame_count(path)
    indices = tsn_indices(n_frames, args.frames)
    result = {
        "file": path, "file_bytes": os.path.getsize(path),
        "n_frames": n_frames, "indices": indices,
        "frames": args.frames, "size": args.size, "repeat": args.repeat,
        "env": {
            "python": sys.version.split()[0], "av": av.__version__,
            "av_libavcodec": ".".join(map(str, av.library_versions["libavcodec"])),
            "numpy": np.__version__, "decord": decord_ver,
            "ffmpeg": ffmpeg_version(), "nproc": os.cpu_count(),
            "loadavg_start": os.getloadavg(),
        },
        "methods": {},
    }
    log(f"file     {path}  ({os.path.getsize(path) / 1e6:.1f} MB)")
    log(f"frames   N={n_frames}; TSN centres ({args.frames}): {indices}")
    log(f"env      av {av.__version__} (libavcodec "
        f"{result['env']['av_libavcodec']}), numpy {np.__version__}, "
        f"decord {decord_ver}; {result['env']['ffmpeg']}")
    log(f"load     {os.getloadavg()} on {os.cpu_count()} CPUs")

    cfr = check_cfr(path, n_frames)
    result["cfr_check"] = cfr
    log(f"CFR      start_pts={cfr['start_pts']} ticks/frame={cfr['ticks_per_frame']}"
        f" tb={cfr['time_base']}: sorted packet pts == start + n*dur for "
        f"{cfr['n_packets'] - cfr['mismatches']}/{cfr['n_packets']} -> "
        f"{'OK' if cfr['ok'] else 'NOT CFR'}")

    tmpdir = tempfile.mkdtemp(prefix="peerbench.")
    refs = None
    try:
        if not args.no_verify:
            wanted = [m for n in indices for m in (n - 1, n, n + 1)
                      if 0 <= m < n_frames]
            log(f"refs     ffmpeg select for {len(set(wanted))} frames ...")
            t0 = time.perf_counter()
            refs = reference_frames(path, wanted, args.size)
            log(f"refs     done in {time.perf_counter() - t0:.1f} s")

        for m in methods:
            res = {"runs": []}
            result["methods"][m] = res
            if m in ("pyav", "pyav_fwd") and not cfr["ok"]:
                res["skipped"] = "file is not CFR; use pyav_pktindex"
                log(f"{m:16s} skipped: {res['skipped']}")
                continue
            if m in ("decord", "baseline_decord") and not decord_ok:
                res["skipped"] = f"decord {decord_ver}"
                log(f"{m:16s} skipped: {res['skipped']}")
                continue
            reps = 1 if m.startswith("baseline") else args.repeat
            for r in range(reps):
                if m == "ffmpeg":
                    cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-benchmark",
                           "-i", path, "-f", "null", "-"]
                else:
                    cmd = [sys.executable, HERE, "--worker", m, "--file", path,
                           "--indices", ",".join(map(str, indices)),
                           "--size", str(args.size)]
                    dump = os.path.join(tmpdir, f"{m}.npy")
                    if r == 0 and not m.startswith("baseline"):
                        cmd += ["--dump", dump]
                rc, out, err, wall, usage = run_child(cmd)
                run = {"proc_s": wall, "rc": rc, **usage}
                if rc != 0:
                    run["error"] = err.strip()[-2000:]
                    res["runs"].append(run)
                    log(f"{m:16s} run {r}: FAILED rc={rc}\n{run['error']}")
                    break
                if m == "ffmpeg":
                    mt = re.search(r"rtime=([\d.]+)s", err)
                    mr = re.search(r"maxrss=(\d+)kB", err)
                    run["work_s"] = float(mt.group(1)) if mt else wall
                    run["ffmpeg_rtime_s"] = float(mt.group(1)) if mt else None
                    run["ffmpeg_maxrss_mb"] = int(mr.group(1)) / 1024 if mr else None
                else:
                    w = json.loads(out.strip().splitlines()[-1])
                    run["work_s"] = w["work_s"]
                    run["info"] = w["info"]
                res["runs"].append(run)
                log(f"{m:16s} run {r}: work {run['work_s']:.3f} s, proc "
                    f"{wall:.3f} s, cpu {run['cpu_s']:.2f} s, "
                    f"rss {run['rss_mb']:.0f} MB"
                    + (f", {run.get('info')}" if run.get("info") else ""))
                if r == 0 and refs is not None and m != "ffmpeg" and not m.startswith("baseline"):
                    frames = np.load(dump)
                    res["verify"] = verify(frames, indices, refs)
            ok_runs = [x for x in res["runs"] if x["rc"] == 0]
            if ok_runs:
                res["median_work_s"] = statistics.median(x["work_s"] for x in ok_runs)
                res["min_work_s"] = min(x["work_s"] for x in ok_runs)
                res["median_proc_s"] = statistics.median(x["proc_s"] for x in ok_runs)
                res["median_cpu_s"] = statistics.median(x["cpu_s"] for x in ok_runs)
                res["peak_rss_mb"] = max(x["rss_mb"] for x in ok_runs)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)

    result["env"]["loadavg_end"] = os.getloadavg()

    if args.json:
        print(json.dumps(result, indent=1))
        return

    # ---- human-readable report ----
    print()
    print(f"== correctness (MAD per pixel vs ffmpeg select=eq(n\\,N),"
          f"scale={args.size}:{args.size}; columns N-1 / N / N+1) ==")
    show = sorted({0, len(indices) // 2, len(indices) - 1})
    for m, res in result["methods"].items():
        v = res.get("verify")
        if not v:
            continue
        status = ("OK: every target matches frame N best" if v["ok"] else
                  "WRONG FRAMES: " + ", ".join(
                      f"n={r['n']} best at {r['best_offset']:+d}"
                      for r in v["rows"] if r["best_offset"] != 0))
        print(f"{m:16s} {status}; max MAD at N over all "
              f"{len(indices)} = {v['max_mad_at_n']:.2f}")
        for i in show:
            r = v["rows"][i]
            d = r["mad"]
            print(f"{'':16s}  i={i:2d} n={r['n']:6d}: "
                  f"{d.get('-1', float('nan')):6.2f} / {d['0']:6.2f} / "
                  f"{d.get('1', float('nan')):6.2f}")
    print()
    print(f"== timing: {args.frames} frames @ {args.size}x{args.size} RGB, "
          f"median of {args.repeat} (load {result['env']['loadavg_start'][0]:.1f}"
          f" -> {result['env']['loadavg_end'][0]:.1f} on {os.cpu_count()} CPUs) ==")
    print(f"{'method':16s} {'work s':>8s} {'min s':>8s} {'proc s':>8s} "
          f"{'cpu s':>8s} {'peakRSS MB':>10s}  note")
    for m, res in result["methods"].items():
        if "skipped" in res:
            print(f"{m:16s} skipped: {res['skipped']}")
            continue
        if "median_work_s" not in res:
            print(f"{m:16s} FAILED")
            continue
        note = ""
        if "verify" in res and not res["verify"]["ok"]:
            note = "WRONG FRAMES (see above)"
        if m == "ffmpeg":
            note = (f"full decode of {n_frames} frames "
                    f"({n_frames / res['median_work_s']:.0f} fps); ffmpeg maxrss "
                    f"{max(x['ffmpeg_maxrss_mb'] or 0 for x in res['runs']):.0f} MB")
        if m.startswith("pyav"):
            info = res["runs"][0]["info"]
            note = (note + " " if note else "") + (
                f"seeks={info['seeks']} reseeks={info['reseeks']} "
                f"decoded={info['decoded']}")
        if m == "decord":
            note = (note + " " if note else "") + \
                f"len(vr)={res['runs'][0]['info']['len_vr']}"
        if m.startswith("baseline"):
            note = "imports only (RSS floor for the Python peers)"
        print(f"{m:16s} {res['median_work_s']:8.3f} {res['min_work_s']:8.3f} "
              f"{res['median_proc_s']:8.3f} {res['median_cpu_s']:8.2f} "
              f"{res['peak_rss_mb']:10.0f}  {note}")


if __name__ == "__main__":
    main()
