//! What a video file is: container, codec, geometry, timing. Read from the headers and from the
//! frame index (the exact frame count comes from the index, not from the header's estimate).

use serde::{Deserialize, Serialize};

use ffmpeg_next::ffi;
use ffmpeg_next::format::context::Input;
use ffmpeg_next::media::Type as MediaType;

/// Largest frame adalens decodes: refusing bigger ones before allocating anything keeps a
/// malformed header from asking for gigabytes.
pub const MAX_SIDE: u32 = 16_384;
pub const MAX_PIXELS: u64 = 8_192 * 8_192;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    /// Short demuxer name as FFmpeg reports it, e.g. `mov,mp4,m4a,3gp,3g2,mj2`.
    pub container: String,
    pub container_long: String,
    pub codec: String,
    pub codec_long: String,
    pub pixel_format: String,
    /// Size of the decoded picture as stored (before display rotation).
    pub width: u32,
    pub height: u32,
    /// Clockwise rotation applied for display (0, 90, 180 or 270), from the display matrix.
    pub rotation: u32,
    /// Whether the display matrix also mirrors the picture (left-right, after the rotation).
    #[serde(default)]
    pub mirrored: bool,
    /// Size after display rotation: what the user sees and what adalens outputs.
    pub display_width: u32,
    pub display_height: u32,
    /// Container duration in seconds (FFmpeg's `format.duration`), if known.
    pub duration_s: Option<f64>,
    /// Nominal frame rate (`r_frame_rate`) and average frame rate (`avg_frame_rate`).
    pub frame_rate_nominal: Option<f64>,
    pub frame_rate_avg: Option<f64>,
    /// Start time of the video stream in seconds.
    pub start_time_s: f64,
    /// Frames counted by the frame index (exact).
    pub frame_count: usize,
    /// Frame count written in the header, when the container has one (may be wrong).
    pub header_frame_count: Option<u64>,
    pub keyframe_count: usize,
    pub has_audio: bool,
    pub bit_rate: Option<u64>,
}

pub(crate) struct StreamFacts {
    pub index: usize,
    pub time_base: (i32, i32),
    pub codec_id: ffi::AVCodecID,
    pub width: u32,
    pub height: u32,
    pub orientation: Orientation,
    /// Reordering depth declared by the stream (0 = display order equals decode order).
    pub video_delay: i32,
}

fn rational(r: ffmpeg_next::Rational) -> Option<f64> {
    (r.numerator() > 0 && r.denominator() > 0)
        .then(|| r.numerator() as f64 / r.denominator() as f64)
}

/// How a picture is turned for display, as the ffmpeg CLI's autorotate turns it: `turn`
/// degrees clockwise (0, 90, 180, 270), then mirrored left-right when `mirror`. These eight
/// cover every display matrix the CLI's transpose/hflip/vflip filters handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Orientation {
    pub turn: u32,
    pub mirror: bool,
}

impl Orientation {
    pub const UPRIGHT: Orientation = Orientation {
        turn: 0,
        mirror: false,
    };

    /// Whether width and height swap for display.
    pub fn swaps_sides(self) -> bool {
        self.turn % 180 == 90
    }

    /// The orientation the CLI gives a 3×3 16.16 fixed-point display matrix (FFmpeg 5.1's
    /// `configure_input_video_filter`): the angle `atan2(m1, m0)` rounded to a quarter turn
    /// picks transpose/hflip/vflip filters, and the signs of m3 and m4 pick the flipped
    /// variants. Angles that are not quarter turns round to the nearest one.
    pub(crate) fn from_display_matrix(bytes: &[u8]) -> Orientation {
        if bytes.len() < 36 {
            return Orientation::UPRIGHT;
        }
        let m: Vec<f64> = bytes
            .chunks_exact(4)
            .take(9)
            .map(|c| i32::from_ne_bytes([c[0], c[1], c[2], c[3]]) as f64 / 65536.0)
            .collect();
        let (s0, s1) = (m[0].hypot(m[3]), m[1].hypot(m[4]));
        if s0 == 0.0 || s1 == 0.0 {
            return Orientation::UPRIGHT;
        }
        // av_display_rotation_get is −atan2(m1, m0) (counter-clockwise); the CLI turns the
        // picture by its negation, clockwise: atan2(m1, m0).
        let cw = (m[1] / s1).atan2(m[0] / s0).to_degrees().rem_euclid(360.0);
        let (turn, mirror) = match ((cw / 90.0).round() as u32) % 4 {
            // transpose=cclock_flip when m3 > 0, else transpose=clock
            1 => (90, m[3] > 0.0),
            // hflip (m0 < 0 here), and vflip when m4 < 0: both together are a half turn
            2 if m[4] < 0.0 => (180, false),
            2 => (0, true),
            // transpose=clock_flip when m3 < 0, else transpose=cclock
            3 => (270, m[3] < 0.0),
            // vflip alone when m4 < 0: a half turn, mirrored
            _ if m[4] < 0.0 => (180, true),
            _ => (0, false),
        };
        Orientation { turn, mirror }
    }
}

pub(crate) fn best_video_stream(input: &Input) -> Option<StreamFacts> {
    let stream = input.streams().best(MediaType::Video)?;
    let params = stream.parameters();
    // SAFETY: the codec parameters belong to the stream, which outlives this call.
    let (codec_id, width, height, video_delay) = unsafe {
        let p = params.as_ptr();
        (
            (*p).codec_id,
            (*p).width.max(0) as u32,
            (*p).height.max(0) as u32,
            (*p).video_delay,
        )
    };
    let orientation = stream
        .side_data()
        .find(|sd| sd.kind() == ffmpeg_next::packet::side_data::Type::DisplayMatrix)
        .map(|sd| Orientation::from_display_matrix(sd.data()))
        .unwrap_or_default();
    let tb = stream.time_base();
    Some(StreamFacts {
        index: stream.index(),
        time_base: (tb.numerator(), tb.denominator()),
        codec_id,
        width,
        height,
        orientation,
        video_delay,
    })
}

pub(crate) fn read_probe(input: &Input, facts: &StreamFacts) -> Probe {
    let fmt = input.format();
    let stream = input.stream(facts.index);
    let codec = ffmpeg_next::codec::Id::from(facts.codec_id);
    let decoder = ffmpeg_next::decoder::find(codec);
    let (pixel_format, bit_rate) = stream
        .as_ref()
        .map(|s| {
            // SAFETY: the stream's codec parameters live as long as the input context. The
            // format is a plain integer from the file: it is looked up among FFmpeg's own pixel
            // format descriptors (compared as integers), never cast into a Rust enum.
            unsafe {
                let p = s.parameters().as_ptr();
                let raw = (*p).format;
                let mut desc = std::ptr::null();
                let name = loop {
                    desc = ffi::av_pix_fmt_desc_next(desc);
                    if desc.is_null() {
                        break "none".to_string();
                    }
                    if ffi::av_pix_fmt_desc_get_id(desc) as i32 == raw && !(*desc).name.is_null() {
                        break std::ffi::CStr::from_ptr((*desc).name)
                            .to_string_lossy()
                            .into_owned();
                    }
                };
                (name, (*p).bit_rate)
            }
        })
        .unwrap_or_default();
    let (nominal, avg, start, header_frames) = stream
        .as_ref()
        .map(|s| {
            let tb = s.time_base();
            let start = if s.start_time() == ffi::AV_NOPTS_VALUE {
                0.0
            } else {
                s.start_time() as f64 * tb.numerator() as f64 / tb.denominator().max(1) as f64
            };
            (
                rational(s.rate()),
                rational(s.avg_frame_rate()),
                start,
                (s.frames() > 0).then_some(s.frames() as u64),
            )
        })
        .unwrap_or((None, None, 0.0, None));
    let duration = input.duration();
    let (display_width, display_height) = if facts.orientation.swaps_sides() {
        (facts.height, facts.width)
    } else {
        (facts.width, facts.height)
    };
    let container_bit_rate = input.bit_rate();
    Probe {
        container: fmt.name().to_string(),
        container_long: fmt.description().to_string(),
        codec: codec.name().to_string(),
        codec_long: decoder
            .map(|d| d.description().to_string())
            .unwrap_or_default(),
        pixel_format,
        width: facts.width,
        height: facts.height,
        rotation: facts.orientation.turn,
        mirrored: facts.orientation.mirror,
        display_width,
        display_height,
        duration_s: (duration > 0).then(|| duration as f64 / ffi::AV_TIME_BASE as f64),
        frame_rate_nominal: nominal,
        frame_rate_avg: avg,
        start_time_s: start,
        frame_count: 0,
        header_frame_count: header_frames,
        keyframe_count: 0,
        has_audio: input
            .streams()
            .any(|s| s.parameters().medium() == MediaType::Audio),
        bit_rate: [bit_rate, container_bit_rate]
            .into_iter()
            .find(|b| *b > 0)
            .map(|b| b as u64),
    }
}

#[cfg(test)]
mod tests {
    use super::Orientation;

    fn matrix(m: [i32; 9]) -> Vec<u8> {
        m.iter().flat_map(|v| v.to_ne_bytes()).collect()
    }

    fn of(m: [i32; 9]) -> (u32, bool) {
        let o = Orientation::from_display_matrix(&matrix(m));
        (o.turn, o.mirror)
    }

    #[test]
    fn rotation_angles_follow_the_cli() {
        // The matrix FFmpeg 5.1 stores for `-metadata:s:v rotate=90` (ffprobe: "rotation": 90);
        // the CLI shows it turned 90° counter-clockwise ("transpose=cclock"), i.e. 270° clockwise.
        let one = 65536;
        let w = 1 << 30;
        assert_eq!(of([0, -one, 0, one, 0, 0, 0, 0, w]), (270, false));
        assert_eq!(of([0, one, 0, -one, 0, 0, 0, 0, w]), (90, false));
        assert_eq!(of([-one, 0, 0, 0, -one, 0, 0, 0, w]), (180, false));
        assert_eq!(of([one, 0, 0, 0, one, 0, 0, 0, w]), (0, false));
        assert_eq!(
            Orientation::from_display_matrix(&[0u8; 8]),
            Orientation::UPRIGHT
        );
    }

    #[test]
    fn reflections_follow_the_cli() {
        let one = 65536;
        let w = 1 << 30;
        // The transpose [[0,1],[1,0]]: transpose=cclock_flip, a quarter turn then a mirror.
        assert_eq!(of([0, one, 0, one, 0, 0, 0, 0, w]), (90, true));
        // The anti-transpose: transpose=clock_flip.
        assert_eq!(of([0, -one, 0, -one, 0, 0, 0, 0, w]), (270, true));
        // hflip alone, vflip alone.
        // hflip alone; vflip alone (a half turn, then a mirror).
        assert_eq!(of([-one, 0, 0, 0, one, 0, 0, 0, w]), (0, true));
        assert_eq!(of([one, 0, 0, 0, -one, 0, 0, 0, w]), (180, true));
    }
}
