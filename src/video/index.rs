//! The frame index: every frame of the video stream in display order, built by demuxing packets
//! only. Frame number `n` is the `n`-th frame in display order, which is what
//! `ffmpeg -i FILE -vf "select=eq(n\,N)"` selects.

use std::collections::HashMap;

use ffmpeg_next::ffi;
use ffmpeg_next::format::context::Input;
use ffmpeg_next::packet::Ref as _;
use serde::{Deserialize, Serialize};

use super::probe::StreamFacts;
use super::shown::Bitstream;

/// One frame's packet as the demuxer gave it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FrameEntry {
    /// Presentation timestamp in stream time base units (reconstructed when the container
    /// stores none, see [`OrderSource`]).
    pub pts: i64,
    pub dts: Option<i64>,
    /// Position of the packet in decode (file) order among the frames of the stream.
    pub decode_pos: u32,
    pub key: bool,
}

/// How display order was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderSource {
    /// Every packet carries a presentation timestamp: display order is timestamp order.
    Timestamps,
    /// No reordering in this stream: display order is decode order (timestamps from dts).
    DecodeOrder,
    /// Timestamps are missing (e.g. MPEG-4 Part 2 with B-frames in AVI): the codec parser's
    /// picture types give display order by the one-reference-delay rule of MPEG-style B-frames.
    PictureTypes,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameIndex {
    pub time_base: (i32, i32),
    pub order: OrderSource,
    /// Frames in display order.
    pub frames: Vec<FrameEntry>,
    /// Display numbers of the keyframes, ascending.
    pub keyframes: Vec<usize>,
    /// For each display number, the display number of the keyframe decoding must start from.
    pub seek_from: Vec<usize>,
    /// Packets the demuxer reported as corrupt while indexing.
    pub corrupt_packets: usize,
    /// Decode position → display number.
    decode_to_display: Vec<u32>,
}

impl FrameIndex {
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Seconds of frame `n` on the stream's clock.
    pub fn seconds(&self, n: usize) -> Option<f64> {
        let (num, den) = self.time_base;
        self.frames
            .get(n)
            .map(|f| f.pts as f64 * num as f64 / den.max(1) as f64)
    }

    pub fn display_of_decode_pos(&self, pos: u32) -> Option<usize> {
        self.decode_to_display
            .get(pos as usize)
            .map(|d| *d as usize)
    }

    /// Map from presentation timestamp to display number (for matching decoded frames).
    pub fn pts_lookup(&self) -> HashMap<i64, usize> {
        self.frames
            .iter()
            .enumerate()
            .map(|(i, f)| (f.pts, i))
            .collect()
    }

    /// The frames a decoder outputs, in order, after starting at keyframe `key` (a display
    /// number): display order from `key` on, leaving out the frames stored after the keyframe
    /// that display before it (open-GOP leading pictures, which a decoder starting there drops).
    pub fn outputs_from(&self, key: usize) -> impl Iterator<Item = usize> + '_ {
        let kpos = self.frames[key].decode_pos;
        (key..self.frames.len()).filter(move |&n| self.frames[n].decode_pos >= kpos)
    }
}

struct RawPacket {
    pts: Option<i64>,
    dts: Option<i64>,
    key: bool,
    picture: Option<ffi::AVPictureType>,
    /// Place among the decoder's output pictures, when every packet was decoded.
    rank: Option<u32>,
}

/// Whether the demuxer marked the packet as cut off by an edit list: it comes before frame 0
/// and gets no frame number.
pub(super) fn is_discarded(packet: &ffmpeg_next::Packet) -> bool {
    // SAFETY: reading a plain field of a packet we own.
    unsafe { (*packet.as_ptr()).flags & ffi::AV_PKT_FLAG_DISCARD != 0 }
}

/// The stream's codec extradata (H.264 `avcC`, HEVC `hvcC`, …), copied.
fn extradata(input: &Input, stream: usize) -> Vec<u8> {
    let Some(st) = input.stream(stream) else {
        return Vec::new();
    };
    // SAFETY: the parameters belong to the stream, which outlives this call; FFmpeg keeps
    // `extradata_size` bytes at `extradata` when it is not null.
    unsafe {
        let p = st.parameters().as_ptr();
        let (data, size) = ((*p).extradata, (*p).extradata_size);
        if data.is_null() || size <= 0 {
            return Vec::new();
        }
        std::slice::from_raw_parts(data, size as usize).to_vec()
    }
}

/// Read every packet of the video stream (no decoding) and order the frames for display.
/// `decoded`, when given, says for each video packet in file order where among the decoder's
/// output pictures the one decoded from it came ([`super::decodable`]), if any: it then decides
/// alone which packets are frames, and in what order.
pub(crate) fn build(
    input: &mut Input,
    facts: &StreamFacts,
    decoded: Option<&[Option<u32>]>,
) -> FrameIndex {
    let mut packets = Vec::new();
    let mut corrupt = 0usize;
    let mut last_corrupt = false;
    let bitstream = Bitstream::of(facts.codec_id, &extradata(input, facts.index));
    let parser = PictureTypeParser::new(facts.codec_id, input, facts.index);
    let mut parser = parser;
    let mut ordinal = 0usize;
    for (stream, packet) in input.packets() {
        if stream.index() != facts.index {
            continue;
        }
        ordinal += 1;
        let rank = decoded.and_then(|d| d.get(ordinal - 1).copied().flatten());
        if decoded.is_some() && rank.is_none() {
            continue;
        } else if decoded.is_none() && is_discarded(&packet) {
            // Edit lists mark packets before the start; the decoder decodes them as references
            // but outputs no frame for them, so they get no frame number.
            continue;
        }
        if decoded.is_none() && !packet.data().is_none_or(|d| bitstream.shows_picture(d)) {
            // A VP9 alt-ref frame in a packet of its own, or an H.264/HEVC packet whose
            // pictures are gone: the decoder shows nothing for it, so no frame number.
            continue;
        }
        if packet.is_corrupt() {
            corrupt += 1;
        }
        last_corrupt = packet.is_corrupt();
        let picture = parser.as_mut().and_then(|p| p.picture_type(&packet));
        packets.push(RawPacket {
            pts: packet.pts(),
            dts: packet.dts(),
            key: packet.is_key(),
            picture,
            rank,
        });
    }
    if last_corrupt && !bitstream.shows_partial_packet() && decoded.is_none() {
        // The file ends inside this packet (the demuxer marks a short read corrupt).
        packets.pop();
    }
    order(packets, facts, corrupt, parser.is_some())
}

fn order(packets: Vec<RawPacket>, facts: &StreamFacts, corrupt: usize, parsed: bool) -> FrameIndex {
    let n = packets.len();
    let all_pts = packets.iter().all(|p| p.pts.is_some());
    let (order_source, mut display): (OrderSource, Vec<usize>) = if all_pts {
        let mut d: Vec<usize> = (0..n).collect();
        d.sort_by_key(|&i| (packets[i].pts.unwrap_or(i64::MIN), i));
        (OrderSource::Timestamps, d)
    } else if facts.video_delay == 0 || !parsed {
        (OrderSource::DecodeOrder, (0..n).collect())
    } else {
        (OrderSource::PictureTypes, mpeg_reorder(&packets))
    };
    if packets.iter().all(|p| p.rank.is_some()) {
        // The decoder's own output order: the same as the timestamps' in any sound file, and
        // the CLI's numbering where a damaged timestamp disagrees.
        display.sort_by_key(|&i| packets[i].rank);
    }
    // Timestamps for frames that have none: the sorted decode timestamps (a constant-rate
    // stream shows its frames at the same instants it decodes them), else the position.
    let mut fallback: Vec<i64> = packets
        .iter()
        .enumerate()
        .map(|(i, p)| p.dts.unwrap_or(i as i64))
        .collect();
    fallback.sort_unstable();
    let frames: Vec<FrameEntry> = display
        .iter()
        .enumerate()
        .map(|(n, &pos)| {
            let p = &packets[pos];
            FrameEntry {
                pts: match order_source {
                    OrderSource::Timestamps => p.pts.unwrap_or_default(),
                    _ => fallback[n],
                },
                dts: p.dts,
                decode_pos: pos as u32,
                key: p.key,
            }
        })
        .collect();
    let mut decode_to_display = vec![0u32; n];
    for (d, f) in frames.iter().enumerate() {
        decode_to_display[f.decode_pos as usize] = d as u32;
    }
    let keyframes: Vec<usize> = (0..n).filter(|&d| frames[d].key).collect();
    let seek_from = seek_points(&frames, &decode_to_display);
    FrameIndex {
        time_base: facts.time_base,
        order: order_source,
        frames,
        keyframes,
        seek_from,
        corrupt_packets: corrupt,
        decode_to_display,
    }
}

/// For each frame, the keyframe to start decoding from: the last keyframe in decode order that
/// is stored no later than the frame and displays no later than it. Walking decode order keeps
/// this linear; leading pictures of an open GOP fall back to the previous GOP's keyframe.
fn seek_points(frames: &[FrameEntry], decode_to_display: &[u32]) -> Vec<usize> {
    let mut out = vec![0usize; frames.len()];
    // Keyframes seen so far in decode order, as display numbers (their display order rises with
    // decode order in any stream we can seek in).
    let mut keys: Vec<usize> = Vec::new();
    for &d in decode_to_display {
        let d = d as usize;
        if frames[d].key {
            keys.push(d);
        }
        // Latest keyframe that displays at or before d.
        let k = keys.iter().rev().find(|&&k| k <= d).copied();
        out[d] = k.unwrap_or(0);
    }
    out
}

/// Display order for MPEG-style streams with one-frame reordering: a B picture shows at once;
/// an I or P picture shows when the next I or P picture arrives.
fn mpeg_reorder(packets: &[RawPacket]) -> Vec<usize> {
    let mut out = Vec::with_capacity(packets.len());
    let mut pending: Option<usize> = None;
    for (i, p) in packets.iter().enumerate() {
        if p.picture == Some(ffi::AVPictureType::AV_PICTURE_TYPE_B) {
            out.push(i);
        } else {
            if let Some(prev) = pending.replace(i) {
                out.push(prev);
            }
        }
    }
    out.extend(pending);
    out
}

/// libavcodec's bitstream parser, used only to read each packet's picture type when the
/// container stores no presentation timestamps.
struct PictureTypeParser {
    parser: *mut ffi::AVCodecParserContext,
    ctx: *mut ffi::AVCodecContext,
}

impl PictureTypeParser {
    fn new(codec_id: ffi::AVCodecID, input: &Input, stream: usize) -> Option<Self> {
        // SAFETY: both objects are created here and freed in Drop; parameters are copied in.
        unsafe {
            let parser = ffi::av_parser_init(codec_id as i32);
            if parser.is_null() {
                return None;
            }
            let ctx = ffi::avcodec_alloc_context3(std::ptr::null());
            if ctx.is_null() {
                ffi::av_parser_close(parser);
                return None;
            }
            if let Some(s) = input.stream(stream) {
                ffi::avcodec_parameters_to_context(ctx, s.parameters().as_ptr());
            }
            // Each packet holds whole frames already.
            (*parser).flags |= ffi::PARSER_FLAG_COMPLETE_FRAMES;
            Some(Self { parser, ctx })
        }
    }

    fn picture_type(&mut self, packet: &ffmpeg_next::Packet) -> Option<ffi::AVPictureType> {
        let data = packet.data()?;
        let mut out: *mut u8 = std::ptr::null_mut();
        let mut out_size = 0i32;
        // SAFETY: the parser reads `data` (owned by the packet, padded by FFmpeg) and writes
        // only its own state.
        unsafe {
            ffi::av_parser_parse2(
                self.parser,
                self.ctx,
                &mut out,
                &mut out_size,
                data.as_ptr(),
                data.len() as i32,
                ffi::AV_NOPTS_VALUE,
                ffi::AV_NOPTS_VALUE,
                0,
            );
            Some(picture_type_from((*self.parser).pict_type))
        }
    }
}

fn picture_type_from(v: i32) -> ffi::AVPictureType {
    use ffi::AVPictureType::*;
    [
        AV_PICTURE_TYPE_I,
        AV_PICTURE_TYPE_P,
        AV_PICTURE_TYPE_B,
        AV_PICTURE_TYPE_S,
        AV_PICTURE_TYPE_SI,
        AV_PICTURE_TYPE_SP,
        AV_PICTURE_TYPE_BI,
    ]
    .into_iter()
    .find(|t| *t as i32 == v)
    .unwrap_or(AV_PICTURE_TYPE_NONE)
}

impl Drop for PictureTypeParser {
    fn drop(&mut self) {
        // SAFETY: created in `new`, freed once.
        unsafe {
            ffi::av_parser_close(self.parser);
            ffi::avcodec_free_context(&mut self.ctx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pts: Option<i64>, dts: i64, key: bool, b: bool) -> RawPacket {
        RawPacket {
            pts,
            dts: Some(dts),
            key,
            picture: Some(if b {
                ffi::AVPictureType::AV_PICTURE_TYPE_B
            } else {
                ffi::AVPictureType::AV_PICTURE_TYPE_P
            }),
            rank: None,
        }
    }

    fn facts(delay: i32) -> StreamFacts {
        StreamFacts {
            index: 0,
            time_base: (1, 25),
            codec_id: ffi::AVCodecID::AV_CODEC_ID_MPEG4,
            width: 8,
            height: 8,
            orientation: Default::default(),
            video_delay: delay,
        }
    }

    #[test]
    fn timestamps_give_display_order_and_seek_points() {
        // I0 P3 B1 B2 | I6(key) B4 B5 (open GOP: B4, B5 display before I6)
        let pk = vec![
            raw(Some(0), 0, true, false),
            raw(Some(3), 1, false, false),
            raw(Some(1), 2, false, true),
            raw(Some(2), 3, false, true),
            raw(Some(6), 4, true, false),
            raw(Some(4), 5, false, true),
            raw(Some(5), 6, false, true),
        ];
        let idx = order(pk, &facts(2), 0, true);
        assert_eq!(idx.order, OrderSource::Timestamps);
        let pts: Vec<i64> = idx.frames.iter().map(|f| f.pts).collect();
        assert_eq!(pts, vec![0, 1, 2, 3, 4, 5, 6]);
        assert_eq!(idx.keyframes, vec![0, 6]);
        // Leading pictures 4 and 5 need the first GOP.
        assert_eq!(idx.seek_from, vec![0, 0, 0, 0, 0, 0, 6]);
        assert_eq!(idx.outputs_from(6).collect::<Vec<_>>(), vec![6]);
        assert_eq!(
            idx.outputs_from(0).collect::<Vec<_>>(),
            vec![0, 1, 2, 3, 4, 5, 6]
        );
    }

    #[test]
    fn picture_types_reorder_like_an_mpeg_decoder() {
        // Decode order I P B B P B: display I B B P B P
        let pk = vec![
            raw(None, 0, true, false),
            raw(None, 1, false, false),
            raw(Some(2), 2, false, true),
            raw(Some(3), 3, false, true),
            raw(None, 4, false, false),
            raw(Some(5), 5, false, true),
        ];
        let idx = order(pk, &facts(1), 0, true);
        assert_eq!(idx.order, OrderSource::PictureTypes);
        let pos: Vec<u32> = idx.frames.iter().map(|f| f.decode_pos).collect();
        assert_eq!(pos, vec![0, 2, 3, 1, 5, 4]);
        assert_eq!(
            idx.frames.iter().map(|f| f.pts).collect::<Vec<_>>(),
            vec![0, 1, 2, 3, 4, 5]
        );
    }

    #[test]
    fn no_reordering_keeps_decode_order() {
        let pk = vec![raw(None, 0, true, false), raw(None, 1, false, false)];
        let idx = order(pk, &facts(0), 0, true);
        assert_eq!(idx.order, OrderSource::DecodeOrder);
        assert_eq!(idx.frames[1].decode_pos, 1);
    }
}
