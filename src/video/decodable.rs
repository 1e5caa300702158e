//! Which packets the decoder really turns into pictures, found by decoding every one of them
//! from the start of the file, as the `ffmpeg` CLI does before it numbers a frame.
//!
//! The packet index ([`super::index`]) predicts this from the bitstream alone, which is right
//! for every healthy file and for the damage it can see (a packet with no slice left, an
//! invisible VP9 frame, a file cut inside its last packet). Damage inside a picture is another
//! matter: a slice header the decoder refuses, a JPEG whose entropy data is broken, a VP9 frame
//! whose references are gone (the decoder then drops every frame up to the next keyframe). The
//! CLI numbers only what its decoder outputs, so after such a packet its frame *n* is our
//! *n + 1*. Only a full decode tells; [`shown_packets`] does one and says, for each packet of
//! the stream in file order, whether a picture came out of it.
//!
//! Each packet is tagged with its ordinal through the decoder's `reordered_opaque`, which
//! libavcodec copies onto the picture decoded from that packet (also across frame threads and
//! reordering), so pictures are traced to packets without trusting timestamps.

use std::path::Path;

use ffmpeg_next::ffi;

use super::decode::{open_stream, read_video_packet, Control};
use super::error::VideoError;
use super::probe::StreamFacts;

/// The outcome of decoding every packet.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ShownPackets {
    /// For each video packet in file order (edit-list cut-offs included), the place among the
    /// decoder's output pictures of the picture decoded from it, if one came out. The CLI's
    /// frame *n* is the *n*-th picture out, whatever the timestamps say.
    pub(crate) shown: Vec<Option<u32>>,
    /// Pictures the decoder output that could not be traced to a packet (a decoder that does
    /// not carry `reordered_opaque`, or two pictures from one packet).
    pub(crate) untraced: usize,
}

impl ShownPackets {
    pub(crate) fn pictures(&self) -> usize {
        self.shown.iter().filter(|s| s.is_some()).count() + self.untraced
    }
}

/// Decode every packet of the video stream of `path` (FFmpeg's own thread count, as the CLI
/// uses) and record which ones output a picture. `ctl` can cancel it; its progress is called
/// with (packets decoded, packets expected).
pub(crate) fn shown_packets(
    path: &Path,
    facts: &StreamFacts,
    expected_packets: usize,
    ctl: &Control,
) -> Result<ShownPackets, VideoError> {
    let mut st = open_stream(path, facts, 0)?;
    let mut packet = ffmpeg_next::Packet::empty();
    let mut frame = ffmpeg_next::frame::Video::empty();
    let mut out = ShownPackets {
        shown: Vec::new(),
        untraced: 0,
    };
    // Errors in a row from the output side: a decoder that keeps failing must not spin.
    let mut failures = 0usize;
    let mut traced = 0u32;
    loop {
        if ctl.cancelled() {
            return Err(VideoError::Cancelled);
        }
        let more = read_video_packet(&mut st, facts.index, &mut packet).is_some();
        if more {
            out.shown.push(None);
            // Ordinals from 1: a picture showing 0 (or anything out of range) carries no tag.
            // SAFETY: a plain field of the decoder context we own; libavcodec copies it onto
            // the picture decoded from the next packet sent.
            unsafe { (*st.decoder.as_mut_ptr()).reordered_opaque = out.shown.len() as i64 };
            // A packet the decoder refuses outputs nothing: that is what is being measured.
            let _ = st.decoder.send_packet(&packet);
            if let Some(p) = ctl.progress {
                if out.shown.len().is_multiple_of(64) {
                    p(out.shown.len().min(expected_packets), expected_packets);
                }
            }
        } else {
            let _ = st.decoder.send_eof();
        }
        loop {
            match st.decoder.receive_frame(&mut frame) {
                Ok(()) => {
                    failures = 0;
                    // SAFETY: reading a field of the frame just received.
                    let tag = unsafe { (*frame.as_ptr()).reordered_opaque };
                    match usize::try_from(tag)
                        .ok()
                        .and_then(|t| t.checked_sub(1))
                        .and_then(|i| out.shown.get_mut(i))
                    {
                        Some(s) if s.is_none() => {
                            *s = Some(traced);
                            traced += 1;
                        }
                        _ => out.untraced += 1,
                    }
                }
                Err(ffmpeg_next::Error::Other { errno }) if errno == ffi::EAGAIN => break,
                Err(ffmpeg_next::Error::Eof) => return Ok(out),
                // A picture the decoder gave up on: nothing comes out for it.
                Err(_) => {
                    failures += 1;
                    if failures > 10_000 {
                        break;
                    }
                }
            }
        }
        if !more {
            // The decoder must reach EOF after draining; one that does not is not trusted.
            return Ok(out);
        }
    }
}
