//! The physical limit for decoding exact frames: the time one decoder thread needs for only the
//! packets from each target's keyframe up to the target, with every packet already in memory
//! (no demuxing, no seeking, no colour conversion). Benchmarks compare against it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ffmpeg_next::packet::Ref as _;

use super::decode::open_stream_for_limit;
use super::{Video, VideoError};

#[derive(Debug, Clone, serde::Serialize)]
pub struct LimitReport {
    pub packets_decoded: usize,
    pub gops: usize,
    pub time: Duration,
}

impl Video {
    /// Time to decode, on one thread, only the packets the frames `numbers` strictly need.
    pub fn decode_limit(&self, numbers: &[usize]) -> Result<LimitReport, VideoError> {
        let index = self.index();
        if let Some(&bad) = numbers.iter().find(|&&n| n >= index.len()) {
            return Err(VideoError::FrameOutOfRange {
                path: self.path().to_path_buf(),
                frame: bad,
                count: index.len(),
            });
        }
        // Per keyframe (decode position), the furthest decode position needed.
        let mut runs: BTreeMap<u32, u32> = BTreeMap::new();
        for &n in numbers {
            let k = index.frames[index.seek_from[n]].decode_pos;
            let t = index.frames[n].decode_pos;
            let e = runs.entry(k).or_insert(t);
            *e = (*e).max(t);
        }
        let (mut input, mut decoder, stream) =
            open_stream_for_limit(self.path(), &self.inner.facts)?;
        // All packets of the stream in decode order; those an edit list discards are kept (the
        // decoder needs them as references) but do not advance the frame position.
        let mut packets: Vec<(Option<u32>, ffmpeg_next::Packet)> = Vec::new();
        let mut pos = 0u32;
        for (s, p) in input.packets() {
            if s.index() != stream {
                continue;
            }
            // SAFETY: reading a packet field.
            let discard =
                unsafe { (*p.as_ptr()).flags } & ffmpeg_next::ffi::AV_PKT_FLAG_DISCARD != 0;
            packets.push(((!discard).then_some(pos), p));
            if !discard {
                pos += 1;
            }
        }
        let mut frame = ffmpeg_next::frame::Video::empty();
        let mut count = 0;
        let start = Instant::now();
        for (&k, &t) in &runs {
            decoder.flush();
            let first = packets.iter().position(|(p, _)| *p == Some(k)).unwrap_or(0);
            for (p, pkt) in &packets[first..] {
                if p.is_some_and(|p| p > t) {
                    break;
                }
                let _ = decoder.send_packet(pkt);
                count += 1;
                while decoder.receive_frame(&mut frame).is_ok() {}
            }
            let _ = decoder.send_eof();
            while decoder.receive_frame(&mut frame).is_ok() {}
        }
        Ok(LimitReport {
            packets_decoded: count,
            gops: runs.len(),
            time: start.elapsed(),
        })
    }
}
