//! Which packets a decoder turns into a displayed picture, read from the bitstream without
//! decoding. The `ffmpeg` CLI numbers only the pictures its decoder outputs, so a packet that
//! shows none must get no frame number here either:
//! - a VP9 packet holding only an invisible frame (an alt-ref stored in a packet of its own
//!   rather than inside a superframe): decoded as a reference, never displayed;
//! - an H.264 or HEVC packet with no slice left in it (its picture data overwritten): the
//!   decoder reports "no frame" and outputs nothing;
//! - the last packet of a truncated file, cut short: the H.264, HEVC and VP9 decoders output
//!   nothing for it, while others (MPEG-4 Part 2, Motion JPEG) conceal the missing part.
//!
//! Anything that cannot be read with certainty counts as shown: the decoder then decides, as it
//! did before this check existed.

use ffmpeg_next::ffi;

/// How to tell shown pictures in one stream's packets.
pub(crate) enum Bitstream {
    Vp9,
    /// H.264 (`hevc` false) or HEVC NAL units, length-prefixed (`length_size` bytes, as MP4 and
    /// Matroska store them) or with Annex B start codes (`None`: MPEG-TS, raw streams).
    Nal {
        hevc: bool,
        length_size: Option<usize>,
    },
    Other,
}

impl Bitstream {
    /// The bitstream of a stream with codec `codec` and codec extradata `extradata`.
    pub(crate) fn of(codec: ffi::AVCodecID, extradata: &[u8]) -> Bitstream {
        let nal = |hevc: bool| {
            // avcC: version 1, then lengthSizeMinusOne in byte 4; hvcC: byte 21.
            let at = if hevc { 21 } else { 4 };
            let length_size = match extradata.first() {
                Some(1) => extradata.get(at).map(|b| (b & 3) as usize + 1),
                _ => None,
            };
            Bitstream::Nal { hevc, length_size }
        };
        match codec {
            ffi::AVCodecID::AV_CODEC_ID_VP9 => Bitstream::Vp9,
            ffi::AVCodecID::AV_CODEC_ID_H264 => nal(false),
            ffi::AVCodecID::AV_CODEC_ID_HEVC => nal(true),
            _ => Bitstream::Other,
        }
    }

    /// Whether the decoder still outputs a picture for a packet the file cuts short.
    pub(crate) fn shows_partial_packet(&self) -> bool {
        matches!(self, Bitstream::Other)
    }

    /// Whether the decoder will display a picture for a packet holding `data`.
    pub(crate) fn shows_picture(&self, data: &[u8]) -> bool {
        match *self {
            Bitstream::Vp9 => vp9_shows_frame(data),
            Bitstream::Nal { hevc, length_size } => {
                let units = match length_size {
                    Some(n) => length_prefixed(data, n),
                    None => Some(annex_b(data)),
                };
                // Lengths that do not add up: not certain, let the decoder decide.
                units.is_none_or(|units| units.iter().any(|u| is_slice(u, hevc)))
            }
            Bitstream::Other => true,
        }
    }
}

/// Whether a NAL unit is a coded slice (with its forbidden bit clear).
fn is_slice(unit: &[u8], hevc: bool) -> bool {
    let Some(&head) = unit.first() else {
        return false;
    };
    if head & 0x80 != 0 {
        return false;
    }
    if hevc {
        // nal_unit_type 0–31 are VCL (slice segments).
        (head >> 1) & 0x3f < 32
    } else {
        // 1–5: slices; 20 and 21: SVC/MVC extension slices.
        matches!(head & 0x1f, 1..=5 | 20 | 21)
    }
}

/// The NAL units of a length-prefixed packet, or `None` when the lengths do not add up.
fn length_prefixed(data: &[u8], size: usize) -> Option<Vec<&[u8]>> {
    let mut units = Vec::new();
    let mut at = 0usize;
    while at < data.len() {
        let field = data.get(at..at.checked_add(size)?)?;
        let len = field.iter().fold(0usize, |a, &b| (a << 8) | b as usize);
        let start = at + size;
        let end = start.checked_add(len).filter(|&e| e <= data.len())?;
        units.push(&data[start..end]);
        at = end;
    }
    Some(units)
}

/// The NAL units of an Annex B packet (each after a 00 00 01 start code).
fn annex_b(data: &[u8]) -> Vec<&[u8]> {
    let starts: Vec<usize> = data
        .windows(3)
        .enumerate()
        .filter(|(_, w)| *w == [0, 0, 1])
        .map(|(i, _)| i + 3)
        .collect();
    starts
        .iter()
        .enumerate()
        .map(|(k, &s)| {
            let end = starts.get(k + 1).map_or(data.len(), |&next| next - 3);
            &data[s..end.max(s)]
        })
        .collect()
}

/// Whether a VP9 packet displays a frame: one of its frames (a superframe holds several, the
/// invisible alt-ref first) has `show_frame` or `show_existing_frame` set in its uncompressed
/// header (VP9 bitstream spec §6.2). Unreadable headers count as shown, as the decoder would try.
fn vp9_shows_frame(data: &[u8]) -> bool {
    let frames = vp9_superframe(data).unwrap_or_else(|| vec![data]);
    frames.into_iter().any(|f| {
        let bit = |i: usize| f.get(i / 8).map(|b| (b >> (7 - i % 8)) & 1);
        // frame_marker (2), profile_low_bit, profile_high_bit, [reserved_zero if profile 3]
        let profile = match (bit(2), bit(3)) {
            (Some(lo), Some(hi)) => (hi << 1) | lo,
            _ => return true,
        };
        let at = if profile == 3 { 5 } else { 4 };
        // show_existing_frame, else frame_type then show_frame
        match (bit(at), bit(at + 2)) {
            (Some(1), _) => true,
            (Some(0), Some(show)) => show == 1,
            _ => true,
        }
    })
}

/// The frames of a VP9 superframe (an index at the packet's end: a marker byte 0b110mmfff,
/// f+1 sizes of m+1 bytes each, the marker again), or `None` for a single frame.
fn vp9_superframe(data: &[u8]) -> Option<Vec<&[u8]>> {
    let &marker = data.last()?;
    if marker & 0xe0 != 0xc0 {
        return None;
    }
    let (count, width) = ((marker & 7) as usize + 1, ((marker >> 3) & 3) as usize + 1);
    let index_len = 2 + width * count;
    let start = data.len().checked_sub(index_len)?;
    if data[start] != marker {
        return None;
    }
    let mut frames = Vec::with_capacity(count);
    let mut at = 0usize;
    for k in 0..count {
        let field = &data[start + 1 + k * width..start + 1 + (k + 1) * width];
        let size = field
            .iter()
            .rev()
            .fold(0usize, |a, &b| (a << 8) | b as usize);
        let end = at.checked_add(size).filter(|&e| e <= start)?;
        frames.push(&data[at..end]);
        at = end;
    }
    Some(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h264_packets_without_slices_show_nothing() {
        let avcc = Bitstream::Nal {
            hevc: false,
            length_size: Some(4),
        };
        // An IDR slice (type 5) after an SEI (type 6).
        let good = [0, 0, 0, 2, 0x06, 0x05, 0, 0, 0, 3, 0x65, 0x88, 0x84];
        assert!(avcc.shows_picture(&good));
        // The slice overwritten with 0xff: forbidden bit set, type 31.
        let gone = [0, 0, 0, 2, 0x06, 0x05, 0, 0, 0, 3, 0xff, 0xff, 0xff];
        assert!(!avcc.shows_picture(&gone));
        // Lengths that run past the end: not certain, shown.
        assert!(avcc.shows_picture(&[0, 0, 9, 9, 0xff]));
        let annex = Bitstream::Nal {
            hevc: false,
            length_size: None,
        };
        assert!(annex.shows_picture(&[0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x41, 0x9a]));
        assert!(!annex.shows_picture(&[0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0xff, 0xff]));
        // HEVC: type 19 (IDR_W_RADL) is a slice, 35 (AUD) is not.
        let hevc = Bitstream::Nal {
            hevc: true,
            length_size: Some(4),
        };
        assert!(hevc.shows_picture(&[0, 0, 0, 2, 19 << 1, 1]));
        assert!(!hevc.shows_picture(&[0, 0, 0, 2, 35 << 1, 1]));
    }

    #[test]
    fn vp9_superframes_show_when_one_of_their_frames_does() {
        // frame_marker 10, profile 0, show_existing_frame 0, frame_type 0, show_frame 0/1.
        let hidden = [0b1000_0000u8, 0, 0];
        let shown = [0b1000_0010u8, 0, 0];
        assert!(!vp9_shows_frame(&hidden));
        assert!(vp9_shows_frame(&shown));
        // Superframe: hidden (3 bytes) + shown (3 bytes), index of two 1-byte sizes.
        let marker = 0b1100_0001u8;
        let mut sf = [hidden, shown].concat();
        sf.extend_from_slice(&[marker, 3, 3, marker]);
        assert!(vp9_shows_frame(&sf));
        // An index whose sizes overrun the data: read as one frame (here a hidden one).
        assert!(!vp9_shows_frame(&[0b1000_0000, marker, 200, 200, marker]));
    }
}
