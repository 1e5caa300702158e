#!/usr/bin/env bash
# Generate the H.264 test videos for the frame-sampling benchmark.
#
#   scripts/make_bench_videos.sh OUTDIR
#
# Produces
#   OUTDIR/h264_720p_10min.mp4   1280x720,  25 fps, 600 s (15000 frames)
#   OUTDIR/h264_1080p_60s.mp4    1920x1080, 25 fps,  60 s  (1500 frames)
#
# Content (all from lavfi, no external media): a 3200x1800 Mandelbrot still
# (smooth gradients next to very fine detail) that is panned like a slow
# camera move (integer-pixel translation, up to ~3 px/frame, two different
# sine periods so the path does not repeat within 10 min), a small moving
# testsrc2 inset in the bottom-right corner (it burns in the timestamp and
# the frame number n, handy to eyeball which frame a decoder returned), and
# temporal film-grain noise (noise=alls=14:allf=t+u, fixed default seed) so
# that P/B frames carry real residual. This lands at roughly 2.5 Mbit/s for
# 720p and ~5 Mbit/s for 1080p, i.e. in the range of ordinary web video.
#
# Encoder: libx264, CRF 23 (libx264 default), B-frames on (default 3, as
# chosen by the preset), CABAC, fixed GOP:
#   -g 250 -keyint_min 250 -sc_threshold 0 -pix_fmt yuv420p
# PRESET: "faster" (override with X264_PRESET=medium). Measured on the 2-core
# dev box while a cargo build was running: medium encoded 720p at ~12 fps,
# i.e. ~21 min for the 10-min file alone; "faster" runs at ~27 fps (~9 min).
# "faster" keeps B-frames (3), CABAC and 8x8dct; it differs from medium in
# ref=2 (vs 3), subme, me range and b-adapt=1, so the decode work per frame is
# representative of libx264 defaults. The preset actually used is recorded in
# the x264 SEI of each file (ffprobe/`strings FILE | grep x264`).
#
# Idempotent: an output that already exists with the expected number of video
# packets (counted with ffprobe -count_packets) is left alone. New files are
# written to a temporary name and renamed when complete. Encodes run one at a
# time with `nice -n 10`.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
OUTDIR=$1
PRESET=${X264_PRESET:-faster}
FPS=25
NICE=(nice -n 10)

mkdir -p "$OUTDIR"

count_frames() {
    ffprobe -v error -select_streams v:0 -count_packets \
        -show_entries stream=nb_read_packets -of csv=p=0 "$1" 2>/dev/null || true
}

TMPDIR_GEN=$(mktemp -d "${TMPDIR:-/tmp}/benchvid.XXXXXX")
trap 'rm -rf "$TMPDIR_GEN"' EXIT
TEX="$TMPDIR_GEN/mandelbrot_3200x1800.png"

make_texture() {
    [[ -f "$TEX" ]] && return 0
    echo ">> rendering Mandelbrot texture (3200x1800)"
    "${NICE[@]}" ffmpeg -hide_banner -loglevel error -y -f lavfi \
        -i "mandelbrot=s=3200x1800:start_x=-0.743643887037151:start_y=0.13182590420533:start_scale=0.02:maxiter=1024,trim=end_frame=1" \
        -frames:v 1 "$TEX"
}

# make_video NAME WIDTH HEIGHT SECONDS TEXTURE_SCALE INSET_W INSET_H
make_video() {
    local name=$1 w=$2 h=$3 secs=$4 texscale=$5 iw=$6 ih=$7
    local out="$OUTDIR/$name"
    local want=$((secs * FPS))
    if [[ -f "$out" ]]; then
        local have
        have=$(count_frames "$out")
        if [[ "$have" == "$want" ]]; then
            echo ">> $out exists with $have frames, skipping"
            return 0
        fi
        echo ">> $out has '$have' frames, expected $want: regenerating"
    fi
    make_texture
    local tmp="$OUTDIR/.${name%.mp4}.partial.mp4"
    local fg
    fg="[0:v]scale=${texscale}:flags=lanczos,loop=loop=-1:size=1,setpts=N/(${FPS}*TB),"
    fg+="crop=w=${w}:h=${h}:x='(iw-ow)/2*(1+sin(2*PI*t/37))':y='(ih-oh)/2*(1+sin(2*PI*t/23+1))'[bg];"
    fg+="testsrc2=s=${iw}x${ih}:r=${FPS}[ts];"
    fg+="[bg][ts]overlay=x=W-w-32:y=H-h-32:shortest=1,format=yuv420p,noise=alls=14:allf=t+u[v]"
    echo ">> encoding $out (${w}x${h}, ${FPS} fps, ${secs} s = $want frames, preset $PRESET)"
    local t0 t1
    t0=$(date +%s)
    "${NICE[@]}" ffmpeg -hide_banner -loglevel warning -stats -y \
        -i "$TEX" -filter_complex "$fg" -map "[v]" \
        -r "$FPS" -frames:v "$want" \
        -c:v libx264 -preset "$PRESET" \
        -g 250 -keyint_min 250 -sc_threshold 0 -pix_fmt yuv420p \
        "$tmp"
    t1=$(date +%s)
    local got
    got=$(count_frames "$tmp")
    if [[ "$got" != "$want" ]]; then
        echo "!! $tmp has '$got' frames, expected $want" >&2
        exit 1
    fi
    mv -f "$tmp" "$out"
    local br
    br=$(ffprobe -v error -show_entries format=bit_rate -of csv=p=0 "$out")
    echo ">> wrote $out: $got frames, $((br / 1000)) kbit/s, encode took $((t1 - t0)) s"
}

make_video h264_720p_10min.mp4 1280 720 600 2133:1200 384 216
make_video h264_1080p_60s.mp4 1920 1080 60 3200:1800 576 324
