//! Decoding a set of frame numbers: seek to the keyframe each frame needs, decode forward only
//! as far as needed, share the decoding between frames of one GOP, and spread independent GOPs
//! over worker threads (each with its own demuxer and decoder).

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use ffmpeg_next::ffi;
use serde::{Deserialize, Serialize};

use super::convert::{FrameConverter, Resize, RgbFrame};
use super::error::VideoError;
use super::index::{is_discarded, FrameIndex, OrderSource};
use super::open::open_input;
use super::probe::{Orientation, StreamFacts, MAX_PIXELS};

/// Cancellation and progress for a decode running in a worker thread.
#[derive(Default, Clone, Copy)]
pub struct Control<'a> {
    pub cancel: Option<&'a AtomicBool>,
    /// Called with (frames done, frames requested) from decoding threads.
    pub progress: Option<&'a (dyn Fn(usize, usize) + Sync)>,
    /// Worker threads to use; 0 = one per core.
    pub threads: usize,
}

impl Control<'_> {
    pub(super) fn cancelled(&self) -> bool {
        self.cancel.is_some_and(|c| c.load(Ordering::Relaxed))
    }
}

/// What a decode did, for the user and for benchmarks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DecodeStats {
    /// Distinct frame numbers decoded to RGB.
    pub unique_frames: usize,
    /// Packets sent to decoders (the decoding work actually done).
    pub packets_decoded: usize,
    pub seeks: usize,
    pub workers: usize,
    /// Packets the decoder rejected and frames it flagged as damaged.
    pub corrupt_packets: usize,
    pub corrupt_frames: usize,
    /// Requested frames that could not be decoded, each with the frame shown in its place.
    pub substituted: Vec<(usize, usize)>,
}

#[derive(Debug)]
pub struct Decoded {
    /// One picture per requested frame number, in the order requested.
    pub frames: Vec<RgbFrame>,
    pub stats: DecodeStats,
}

/// Packets past a missing frame to keep feeding before giving it up: the deepest reordering
/// H.264/HEVC allow, plus margin.
const REORDER_SLACK: u32 = 40;

pub(crate) fn decode_frames(
    path: &Path,
    facts: &StreamFacts,
    index: &FrameIndex,
    numbers: &[usize],
    resize: Resize,
    ctl: &Control,
) -> Result<Decoded, VideoError> {
    let unique = unique_in_range(path, index, numbers)?;
    check_resize(path, facts, resize)?;
    let chunks = split_by_gop(index, &unique, worker_count(ctl, &unique, index));
    let total = unique.len();
    let collected = Collected::new(total, ctl);
    let threads_each = (available_cores() / chunks.len().max(1)).max(1);
    let outcomes: Vec<Result<WorkerStats, VideoError>> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|chunk| {
                let collected = &collected;
                s.spawn(move || {
                    let sink = |n: usize, img: RgbFrame| collected.put(n, img);
                    decode_worker(path, facts, index, chunk, resize, ctl, threads_each, &sink)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(VideoError::Decode {
                        path: path.to_path_buf(),
                        detail: "decoder thread panicked".into(),
                    })
                })
            })
            .collect()
    });
    let mut stats = DecodeStats {
        unique_frames: total,
        workers: chunks.len(),
        ..Default::default()
    };
    let mut missing = Vec::new();
    for o in outcomes {
        let w = o?;
        stats.packets_decoded += w.packets;
        stats.seeks += w.seeks;
        stats.corrupt_packets += w.corrupt_packets;
        stats.corrupt_frames += w.corrupt_frames;
        missing.extend(w.missing);
    }
    let results = collected.into_frames();
    assemble(path, numbers, results, missing, stats)
}

/// The distinct frame numbers of a request, sorted; an error when one is past the video's end.
fn unique_in_range(
    path: &Path,
    index: &FrameIndex,
    numbers: &[usize],
) -> Result<Vec<usize>, VideoError> {
    if let Some(&bad) = numbers.iter().find(|&&n| n >= index.len()) {
        return Err(VideoError::FrameOutOfRange {
            path: path.to_path_buf(),
            frame: bad,
            count: index.len(),
        });
    }
    Ok(numbers
        .iter()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect())
}

/// The pictures decoded so far by one or more decoding threads, with progress reported.
struct Collected<'a> {
    frames: Mutex<HashMap<usize, RgbFrame>>,
    done: AtomicUsize,
    total: usize,
    ctl: &'a Control<'a>,
}

impl<'a> Collected<'a> {
    fn new(total: usize, ctl: &'a Control<'a>) -> Self {
        Self {
            frames: Mutex::new(HashMap::new()),
            done: AtomicUsize::new(0),
            total,
            ctl,
        }
    }

    fn put(&self, n: usize, img: RgbFrame) {
        if let Ok(mut r) = self.frames.lock() {
            r.insert(n, img);
        }
        let d = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(p) = self.ctl.progress {
            p(d, self.total);
        }
    }

    fn into_frames(self) -> HashMap<usize, RgbFrame> {
        self.frames.into_inner().unwrap_or_default()
    }
}

/// The decoded pictures in the order requested; a frame that would not decode is shown as the
/// nearest frame that did, and reported.
fn assemble(
    path: &Path,
    numbers: &[usize],
    mut results: HashMap<usize, RgbFrame>,
    mut missing: Vec<usize>,
    mut stats: DecodeStats,
) -> Result<Decoded, VideoError> {
    if results.is_empty() {
        return Err(VideoError::Decode {
            path: path.to_path_buf(),
            detail: format!("{} frames requested, none decoded", stats.unique_frames),
        });
    }
    missing.sort_unstable();
    for m in missing {
        if let Some(&near) = results.keys().min_by_key(|&&k| (k.abs_diff(m), k)) {
            stats.substituted.push((m, near));
            let img = results[&near].clone();
            results.insert(m, img);
        }
    }
    let frames = numbers
        .iter()
        .map(|n| results.get(n).cloned())
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| VideoError::Decode {
            path: path.to_path_buf(),
            detail: "internal: a requested frame was lost".into(),
        })?;
    Ok(Decoded { frames, stats })
}

/// Decode `numbers` with one cursor kept open between calls (see [`Cursor`]).
pub(crate) fn decode_with_cursor(
    cursor: &mut Cursor,
    path: &Path,
    facts: &StreamFacts,
    index: &FrameIndex,
    numbers: &[usize],
    ctl: &Control,
) -> Result<Decoded, VideoError> {
    let unique = unique_in_range(path, index, numbers)?;
    let total = unique.len();
    let collected = Collected::new(total, ctl);
    let sink = |n: usize, img: RgbFrame| collected.put(n, img);
    let (packets, seeks) = (cursor.stats.packets, cursor.stats.seeks);
    let missed = cursor.stats.missing.len();
    let (bad_packets, bad_frames) = (cursor.stats.corrupt_packets, cursor.stats.corrupt_frames);
    cursor.decode(facts, index, &unique, ctl, &sink)?;
    let c = &cursor.stats;
    let stats = DecodeStats {
        unique_frames: total,
        packets_decoded: c.packets - packets,
        seeks: c.seeks - seeks,
        workers: 1,
        corrupt_packets: c.corrupt_packets - bad_packets,
        corrupt_frames: c.corrupt_frames - bad_frames,
        substituted: Vec::new(),
    };
    let missing = c.missing[missed..].to_vec();
    let results = collected.into_frames();
    assemble(path, numbers, results, missing, stats)
}

/// Validate the geometry once, up front, so a bad size is one clear error.
pub(crate) fn check_resize(
    path: &Path,
    facts: &StreamFacts,
    resize: Resize,
) -> Result<(), VideoError> {
    let (dw, dh) = if facts.orientation.swaps_sides() {
        (facts.height, facts.width)
    } else {
        (facts.width, facts.height)
    };
    resize
        .plan(dw.max(1), dh.max(1))
        .map(|_| ())
        .map_err(|e| match e {
            VideoError::InvalidRequest(m) => {
                VideoError::InvalidRequest(format!("{}: {m}", path.display()))
            }
            other => other,
        })
}

fn available_cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn worker_count(ctl: &Control, unique: &[usize], index: &FrameIndex) -> usize {
    let gops = unique
        .iter()
        .map(|&n| index.seek_from[n])
        .collect::<BTreeSet<_>>()
        .len();
    let wanted = if ctl.threads == 0 {
        available_cores()
    } else {
        ctl.threads
    };
    wanted.clamp(1, gops.max(1))
}

/// Split the sorted frame numbers into `workers` runs of whole GOPs with about equal decoding
/// work (packets from each GOP's keyframe to its last needed frame).
fn split_by_gop(index: &FrameIndex, unique: &[usize], workers: usize) -> Vec<Vec<usize>> {
    let mut gops: Vec<(usize, Vec<usize>)> = Vec::new();
    for &n in unique {
        let key = index.seek_from[n];
        match gops.last_mut() {
            Some((k, v)) if *k == key => v.push(n),
            _ => gops.push((key, vec![n])),
        }
    }
    let cost = |(k, v): &(usize, Vec<usize>)| {
        let kp = index.frames[*k].decode_pos;
        v.iter()
            .map(|&n| index.frames[n].decode_pos.saturating_sub(kp) + 1)
            .max()
            .unwrap_or(1) as usize
    };
    let total: usize = gops.iter().map(cost).sum();
    let share = total.div_ceil(workers.max(1));
    let mut chunks: Vec<Vec<usize>> = vec![Vec::new()];
    let mut acc = 0;
    for g in &gops {
        let c = cost(g);
        if acc > 0 && acc + c / 2 > share && chunks.len() < workers {
            chunks.push(Vec::new());
            acc = 0;
        }
        acc += c;
        if let Some(last) = chunks.last_mut() {
            last.extend_from_slice(&g.1);
        }
    }
    chunks.retain(|c| !c.is_empty());
    chunks
}

#[derive(Default)]
struct WorkerStats {
    packets: usize,
    seeks: usize,
    corrupt_packets: usize,
    corrupt_frames: usize,
    missing: Vec<usize>,
}

/// How decoded frames are matched to frame numbers.
enum Matcher {
    /// By presentation timestamp.
    Pts(HashMap<i64, usize>),
    /// By position in the output sequence expected after the last seek
    /// ([`FrameIndex::outputs_from`]): the next display number to consider and the landing
    /// keyframe's decode position.
    Count { next: usize, key_pos: u32 },
}

impl Matcher {
    fn count_from(index: &FrameIndex, key: usize) -> Matcher {
        Matcher::Count {
            next: key,
            key_pos: index.frames.get(key).map_or(0, |f| f.decode_pos),
        }
    }

    /// The frame number of the next frame out of the decoder.
    fn next(&mut self, index: &FrameIndex, ts: i64) -> Option<usize> {
        match self {
            Matcher::Pts(map) => map.get(&ts).copied(),
            Matcher::Count { next, key_pos } => {
                // Frames stored after the keyframe that display before it are not output.
                while index.frames.get(*next)?.decode_pos < *key_pos {
                    *next += 1;
                }
                *next += 1;
                Some(*next - 1)
            }
        }
    }
}

pub(super) struct Stream {
    input: ffmpeg_next::format::context::Input,
    pub(super) decoder: ffmpeg_next::decoder::Video,
    path: std::path::PathBuf,
    /// Nothing read since the input was opened: it stands at the file's first packet.
    at_start: bool,
}

pub(super) fn open_stream(
    path: &Path,
    facts: &StreamFacts,
    threads: usize,
) -> Result<Stream, VideoError> {
    let input = open_input(path)?;
    let stream = input
        .stream(facts.index)
        .ok_or_else(|| VideoError::NoVideoStream(path.to_path_buf()))?;
    let unsupported = || VideoError::UnsupportedCodec {
        path: path.to_path_buf(),
        codec: match ffmpeg_next::codec::Id::from(facts.codec_id).name() {
            // FFmpeg could not tell the codec at all: say so rather than "codec 'none'".
            "none" => "unknown (FFmpeg could not identify it: a damaged or unusual file?)".into(),
            name => name.to_string(),
        },
    };
    let mut ctx = ffmpeg_next::codec::Context::from_parameters(stream.parameters())
        .map_err(|_| unsupported())?;
    ctx.set_threading(ffmpeg_next::threading::Config {
        kind: ffmpeg_next::threading::Type::Frame,
        count: threads,
        ..Default::default()
    });
    // SAFETY: setting fields of an unopened context we own.
    unsafe {
        (*ctx.as_mut_ptr()).pkt_timebase = stream.time_base().into();
        // Every frame's size is checked, not only the first header's: a later header that
        // claims a huge picture fails that frame inside FFmpeg before its buffers exist.
        (*ctx.as_mut_ptr()).max_pixels = MAX_PIXELS as i64;
    }
    let decoder = ctx.decoder().video().map_err(|_| unsupported())?;
    Ok(Stream {
        input,
        decoder,
        path: path.to_path_buf(),
        at_start: true,
    })
}

/// A demuxer and a one-thread decoder for the decode-limit benchmark.
pub(crate) fn open_stream_for_limit(
    path: &Path,
    facts: &StreamFacts,
) -> Result<
    (
        ffmpeg_next::format::context::Input,
        ffmpeg_next::decoder::Video,
        usize,
    ),
    VideoError,
> {
    let st = open_stream(path, facts, 1)?;
    Ok((st.input, st.decoder, facts.index))
}

/// Check that the codec can be decoded at all (used when opening a video).
pub(crate) fn check_decoder(path: &Path, facts: &StreamFacts) -> Result<(), VideoError> {
    open_stream(path, facts, 1).map(|_| ())
}

#[allow(clippy::too_many_arguments)]
fn decode_worker(
    path: &Path,
    facts: &StreamFacts,
    index: &FrameIndex,
    wanted: &[usize],
    resize: Resize,
    ctl: &Control,
    threads: usize,
    sink: &dyn Fn(usize, RgbFrame),
) -> Result<WorkerStats, VideoError> {
    let mut cursor = Cursor::open(path, facts, index, resize, threads)?;
    cursor.decode(facts, index, wanted, ctl, sink)?;
    Ok(cursor.stats)
}

/// A demuxer and decoder kept open between requests. Requests for frames further on continue
/// from where the last one stopped instead of seeking back to a keyframe, so the sampled frames
/// of neighbouring clips share one decode run.
pub(crate) struct Cursor {
    st: Stream,
    /// Decode position of each packet, to know where the demuxer is.
    by_ts: HashMap<i64, u32>,
    /// Decode position of the last packet sent.
    position: Option<u32>,
    at_eof: bool,
    packet: ffmpeg_next::Packet,
    out: Output,
    /// H.264 with timestamps: pictures no other picture refers to are not decoded unless
    /// wanted (FFmpeg's `skip_frame`); nothing else is affected by skipping them.
    skip_unwanted: bool,
    stats: WorkerStats,
}

// SAFETY: a cursor owns its demuxer, decoder, frame and scaler outright (no FFmpeg object in
// it is shared), and `&mut self` methods mean one thread uses it at a time; moving it to
// another thread between calls is what FFmpeg allows of contexts.
unsafe impl Send for Cursor {}

impl Cursor {
    pub(crate) fn open(
        path: &Path,
        facts: &StreamFacts,
        index: &FrameIndex,
        resize: Resize,
        threads: usize,
    ) -> Result<Cursor, VideoError> {
        let st = open_stream(path, facts, threads)?;
        let by_ts: HashMap<i64, u32> = match index.order {
            OrderSource::Timestamps => index.frames.iter().map(|f| (f.pts, f.decode_pos)).collect(),
            _ => index
                .frames
                .iter()
                .filter_map(|f| f.dts.map(|d| (d, f.decode_pos)))
                .collect(),
        };
        let timestamps = matches!(index.order, OrderSource::Timestamps);
        Ok(Cursor {
            st,
            by_ts,
            position: None,
            at_eof: false,
            packet: ffmpeg_next::Packet::empty(),
            out: Output {
                frame: ffmpeg_next::frame::Video::empty(),
                matcher: if timestamps {
                    Matcher::Pts(index.pts_lookup())
                } else {
                    Matcher::count_from(index, 0)
                },
                conv: FrameConverter::default(),
                orientation: facts.orientation,
                resize,
            },
            skip_unwanted: timestamps && facts.codec_id == ffi::AVCodecID::AV_CODEC_ID_H264,
            stats: WorkerStats::default(),
        })
    }

    /// Turn the skipping of unwanted unreferenced pictures off (to measure what it gains).
    pub(crate) fn never_skip(&mut self) {
        self.skip_unwanted = false;
    }

    /// Packets sent to the decoder so far.
    pub(crate) fn packets(&self) -> usize {
        self.stats.packets
    }

    /// Decode `wanted` (sorted, unique display numbers), handing each to `sink`; frames that
    /// cannot be reached are listed in the stats' `missing`.
    pub(crate) fn decode(
        &mut self,
        facts: &StreamFacts,
        index: &FrameIndex,
        wanted: &[usize],
        ctl: &Control,
        sink: &dyn Fn(usize, RgbFrame),
    ) -> Result<(), VideoError> {
        let mut pending: BTreeSet<usize> = wanted.iter().copied().collect();
        let wanted_pos: BTreeSet<u32> = wanted
            .iter()
            .filter_map(|&n| index.frames.get(n).map(|f| f.decode_pos))
            .collect();
        // Packets from this decode position on are sent while this request's frames are
        // pending: a frame among them comes out. One sent before (by an earlier request, which
        // did not want it) is gone: reaching it takes a seek.
        let mut fresh_from = self.position.map_or(0, |p| p + 1);
        while let Some(&next) = pending.first() {
            let key = index.seek_from[next];
            let key_pos = index.frames[key].decode_pos;
            let target_pos = index.frames[next].decode_pos;
            // Go on from here when the decoder has the frame's keyframe behind it and has not
            // gone past the frame in an earlier request.
            let continuing = self
                .position
                .is_some_and(|p| key_pos <= p + 1 && target_pos >= fresh_from)
                && !self.at_eof;
            if !continuing {
                self.set_skip(false);
                let landed = match seek(
                    &mut self.st,
                    facts,
                    index,
                    key,
                    &self.by_ts,
                    &mut self.packet,
                ) {
                    Ok(l) => l,
                    // This frame cannot be reached; the others may still be.
                    Err(_) => {
                        pending.remove(&next);
                        self.stats.missing.push(next);
                        self.position = None;
                        continue;
                    }
                };
                self.stats.seeks += 1;
                self.at_eof = false;
                fresh_from = index.frames[landed].decode_pos;
                if let Matcher::Count { .. } = self.out.matcher {
                    self.out.matcher = Matcher::count_from(index, landed);
                }
                // The packet read to check the landing is sent below.
                send(&mut self.st, &self.packet, &mut self.stats);
                self.position = by_ts_pos(&self.packet, index, &self.by_ts)
                    .or(Some(index.frames[landed].decode_pos));
                self.out
                    .drain(&mut self.st, index, &mut pending, &mut self.stats, sink)?;
            }
            // Feed packets until `next` comes out or is clearly not coming.
            while pending.contains(&next) {
                if ctl.cancelled() {
                    return Err(VideoError::Cancelled);
                }
                if self
                    .position
                    .is_some_and(|p| p > target_pos + REORDER_SLACK)
                    || self.at_eof
                {
                    pending.remove(&next);
                    self.stats.missing.push(next);
                    break;
                }
                match read_video_packet(&mut self.st, facts.index, &mut self.packet) {
                    Some(()) => {
                        let pos = by_ts_pos(&self.packet, index, &self.by_ts);
                        self.set_skip(pos.is_some_and(|p| !wanted_pos.contains(&p)));
                        send(&mut self.st, &self.packet, &mut self.stats);
                        // Packets an edit list cuts off come before frame 0 and have no decode
                        // position: a long cut-off stretch must not count as going past the frame.
                        if !is_discarded(&self.packet) {
                            self.position = Some(match pos {
                                Some(p) => p,
                                None => self.position.map_or(0, |p| p + 1),
                            });
                        }
                    }
                    None => {
                        let _ = self.st.decoder.send_eof();
                        self.at_eof = true;
                    }
                }
                self.out
                    .drain(&mut self.st, index, &mut pending, &mut self.stats, sink)?;
            }
        }
        Ok(())
    }

    /// Skip (or not) the pictures no other picture refers to, from the next packet on.
    fn set_skip(&mut self, skip: bool) {
        if !self.skip_unwanted {
            return;
        }
        let level = if skip {
            ffi::AVDiscard::AVDISCARD_NONREF
        } else {
            ffi::AVDiscard::AVDISCARD_DEFAULT
        };
        // SAFETY: a plain field of the decoder context we own; FFmpeg reads it per packet
        // (and copies it to its frame threads when a packet is submitted).
        unsafe { (*self.st.decoder.as_mut_ptr()).skip_frame = level };
    }
}

fn by_ts_pos(
    packet: &ffmpeg_next::Packet,
    index: &FrameIndex,
    by_ts: &HashMap<i64, u32>,
) -> Option<u32> {
    let ts = match index.order {
        OrderSource::Timestamps => packet.pts(),
        _ => packet.dts(),
    }?;
    by_ts.get(&ts).copied()
}

pub(super) fn read_video_packet(
    st: &mut Stream,
    stream: usize,
    packet: &mut ffmpeg_next::Packet,
) -> Option<()> {
    st.at_start = false;
    // Read errors that neither advance nor reach EOF must not spin forever.
    let mut errors = 0;
    loop {
        // av_read_frame writes over the packet without releasing what it held: release it
        // first, or every read (other streams' packets included) leaks a buffer.
        // SAFETY: unreferencing a packet we own leaves it blank and valid.
        unsafe { ffi::av_packet_unref(ffmpeg_next::packet::Mut::as_mut_ptr(packet)) };
        match packet.read(&mut st.input) {
            Ok(()) if packet.stream() == stream => return Some(()),
            Ok(()) => continue,
            Err(ffmpeg_next::Error::Eof) => return None,
            // A damaged stretch of the file: FFmpeg resynchronises on the next read.
            Err(_) => {
                errors += 1;
                // SAFETY: reading the I/O context's EOF latch.
                let eof = unsafe {
                    let pb = (*st.input.as_ptr()).pb;
                    pb.is_null() || (*pb).eof_reached != 0
                };
                if eof || errors > 1000 {
                    return None;
                }
            }
        }
    }
}

fn send(st: &mut Stream, packet: &ffmpeg_next::Packet, stats: &mut WorkerStats) {
    stats.packets += 1;
    if st.decoder.send_packet(packet).is_err() {
        stats.corrupt_packets += 1;
    }
}

/// Seek so that decoding starts at (or before) keyframe `key`, and leave the first keyframe
/// packet after the seek in `packet`. Returns the keyframe actually landed on. Demuxers index
/// by different clocks (MP4 by decode time, Matroska by presentation time), so the landing is
/// checked and the seek retried earlier when it overshoots.
fn seek(
    st: &mut Stream,
    facts: &StreamFacts,
    index: &FrameIndex,
    key: usize,
    by_ts: &HashMap<i64, u32>,
    packet: &mut ffmpeg_next::Packet,
) -> Result<usize, VideoError> {
    let want_pos = index.frames[key].decode_pos;
    let mut targets: Vec<i64> = Vec::new();
    let earlier = index
        .keyframes
        .iter()
        .rev()
        .copied()
        .filter(|&k| k <= key)
        .take(3);
    for k in earlier {
        let f = &index.frames[k];
        targets.push(f.pts);
        if let Some(d) = f.dts.filter(|d| *d != f.pts) {
            targets.push(d);
        }
    }
    targets.push(i64::MIN); // the start of the file
    for ts in targets {
        if ts == i64::MIN {
            // The start of the file: open it again rather than seek. Demuxers do not seek to
            // what an edit list cuts off (MP4's index search skips it), though decoding must
            // start there when the shown part begins without a keyframe; and some inputs
            // cannot seek at all.
            if !st.at_start {
                st.input = open_input(&st.path)?;
                st.at_start = true;
            }
        } else {
            // SAFETY: plain seek on the demuxer we own.
            let ret = unsafe {
                ffi::av_seek_frame(
                    st.input.as_mut_ptr(),
                    facts.index as i32,
                    ts,
                    ffi::AVSEEK_FLAG_BACKWARD,
                )
            };
            if ret < 0 {
                continue;
            }
        }
        st.decoder.flush();
        // Decoding must begin on a keyframe: skip whatever the demuxer returns before one.
        let mut found = false;
        for _ in 0..10_000 {
            if read_video_packet(st, facts.index, packet).is_none() {
                break;
            }
            if packet.is_key() {
                found = true;
                break;
            }
        }
        if !found {
            continue;
        }
        if is_discarded(packet) {
            // A keyframe before an edit list's start (a stream-copied cut): decoding from it
            // reaches every frame, and the decoder outputs none of the cut-off ones.
            return Ok(0);
        }
        match by_ts_pos(packet, index, by_ts) {
            Some(p) if p <= want_pos => {
                let landed = index.display_of_decode_pos(p).unwrap_or(key);
                return Ok(landed);
            }
            Some(_) => continue,
            // No timestamp to place the packet: only the start of the file is a known place.
            None if ts == i64::MIN => return Ok(index.keyframes.first().copied().unwrap_or(0)),
            None => continue,
        }
    }
    Err(VideoError::Decode {
        path: st.path.clone(),
        detail: format!("cannot seek to the keyframe of frame {key}"),
    })
}

/// The decoder's output side: matches frames to frame numbers and converts the wanted ones.
struct Output {
    frame: ffmpeg_next::frame::Video,
    matcher: Matcher,
    conv: FrameConverter,
    orientation: Orientation,
    resize: Resize,
}

impl Output {
    /// Take every frame the decoder has ready; convert and hand over those still pending.
    fn drain(
        &mut self,
        st: &mut Stream,
        index: &FrameIndex,
        pending: &mut BTreeSet<usize>,
        stats: &mut WorkerStats,
        sink: &dyn Fn(usize, RgbFrame),
    ) -> Result<(), VideoError> {
        loop {
            match st.decoder.receive_frame(&mut self.frame) {
                Ok(()) => {}
                Err(ffmpeg_next::Error::Other { errno }) if errno == ffi::EAGAIN => return Ok(()),
                Err(ffmpeg_next::Error::Eof) => return Ok(()),
                Err(_) => {
                    stats.corrupt_frames += 1;
                    continue;
                }
            }
            // SAFETY: reading fields of the frame just received.
            let (ts, flags, errs) = unsafe {
                let f = self.frame.as_ptr();
                (
                    (*f).best_effort_timestamp,
                    (*f).flags,
                    (*f).decode_error_flags,
                )
            };
            if flags & ffi::AV_FRAME_FLAG_CORRUPT != 0 || errs != 0 {
                stats.corrupt_frames += 1;
            }
            let n = self.matcher.next(index, ts);
            if let Some(n) = n.filter(|n| pending.remove(n)) {
                // SAFETY: the frame stays valid during the conversion.
                let img = self.conv.convert(
                    unsafe { self.frame.as_ptr() },
                    self.orientation,
                    self.resize,
                )?;
                sink(n, img);
            }
        }
    }
}
