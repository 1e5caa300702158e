//! Writing videos: RGB frames → H.264 (libx264, yuv420p) in MP4 through FFmpeg, as a camera or
//! a dataset would store them. Used by the synthetic benchmark (`adalens synth`).
//!
//! The same frames give the same bytes on any x86-64 CPU, not only on one machine: one encoder
//! thread; swscale's RGB→YUV in its bit-exact mode; and x264's `cpu-independent`, which keeps
//! the float kernels x264 picks by CPU (its macroblock-tree cost with AVX, FMA or AVX-512)
//! on their C versions. Without the last two, a benchmark made on an AVX-512 CPU and one made
//! on an AVX2 CPU from the same seed differed in a few videos.

use std::path::Path;

use ffmpeg_next::{codec, encoder, format, frame, software, Dictionary, Packet, Rational};

use super::convert::RgbFrame;
use super::error::VideoError;

/// Encode `frames` (all `width × height`, even sizes) at `fps` frames per second into `path`
/// (its extension picks the container; `.mp4` for the benchmark). `crf`: x264's constant rate
/// factor (18 ≈ visually lossless).
pub fn write_h264(path: &Path, frames: &[RgbFrame], fps: u32, crf: u32) -> Result<(), VideoError> {
    super::open::init();
    let err = |detail: String| VideoError::Encode {
        path: path.to_path_buf(),
        detail,
    };
    let Some(first) = frames.first() else {
        return Err(err("no frames to write".into()));
    };
    let (w, h) = (first.width, first.height);
    if w % 2 != 0 || h % 2 != 0 || w == 0 || h == 0 {
        return Err(err(format!("{w}×{h}: H.264 in yuv420p needs even sizes")));
    }
    if let Some(f) = frames
        .iter()
        .find(|f| (f.width, f.height) != (w, h) || f.data.len() != (w * h * 3) as usize)
    {
        return Err(err(format!(
            "frames of different sizes ({w}×{h} and {}×{}) or short of pixels",
            f.width, f.height
        )));
    }
    let fail = |what: &str| {
        let what = what.to_string();
        move |e: ffmpeg_next::Error| err(format!("{what}: {e}"))
    };
    let codec = encoder::find_by_name("libx264")
        .ok_or_else(|| err("this FFmpeg build has no libx264 encoder".into()))?;
    let mut octx = format::output(&path).map_err(fail("opening the output"))?;
    let global_header = octx.format().flags().contains(format::Flags::GLOBAL_HEADER);
    let mut enc = codec::context::Context::new_with_codec(codec)
        .encoder()
        .video()
        .map_err(fail("the encoder"))?;
    let time_base = Rational(1, fps.max(1) as i32);
    enc.set_width(w);
    enc.set_height(h);
    enc.set_format(format::Pixel::YUV420P);
    enc.set_time_base(time_base);
    enc.set_frame_rate(Some(Rational(fps.max(1) as i32, 1)));
    if global_header {
        enc.set_flags(codec::Flags::GLOBAL_HEADER);
    }
    let mut opts = Dictionary::new();
    opts.set("preset", "veryfast");
    opts.set("crf", &crf.to_string());
    opts.set("threads", "1");
    opts.set("x264-params", "cpu-independent=1");
    let mut enc = enc.open_with(opts).map_err(fail("opening libx264"))?;
    let stream_index = {
        let mut ost = octx.add_stream(codec).map_err(fail("adding the stream"))?;
        ost.set_parameters(&enc);
        ost.set_time_base(time_base);
        ost.index()
    };
    octx.write_header().map_err(fail("writing the header"))?;
    let ost_time_base = octx
        .stream(stream_index)
        .map(|s| s.time_base())
        .unwrap_or(time_base);
    let mut scaler = software::scaling::Context::get(
        format::Pixel::RGB24,
        w,
        h,
        format::Pixel::YUV420P,
        w,
        h,
        software::scaling::Flags::BICUBIC
            | software::scaling::Flags::ACCURATE_RND
            | software::scaling::Flags::BITEXACT,
    )
    .map_err(fail("the RGB→YUV converter"))?;
    let mut rgb = frame::Video::new(format::Pixel::RGB24, w, h);
    let mut yuv = frame::Video::new(format::Pixel::YUV420P, w, h);
    let drain = |enc: &mut encoder::Video, octx: &mut format::context::Output| {
        let mut packet = Packet::empty();
        while enc.receive_packet(&mut packet).is_ok() {
            packet.set_stream(stream_index);
            packet.rescale_ts(time_base, ost_time_base);
            packet
                .write_interleaved(octx)
                .map_err(fail("writing a packet"))?;
        }
        Ok::<(), VideoError>(())
    };
    let row = w as usize * 3;
    for (i, f) in frames.iter().enumerate() {
        let stride = rgb.stride(0);
        let data = rgb.data_mut(0);
        for y in 0..h as usize {
            data[y * stride..y * stride + row].copy_from_slice(&f.data[y * row..(y + 1) * row]);
        }
        scaler
            .run(&rgb, &mut yuv)
            .map_err(fail("converting to YUV"))?;
        yuv.set_pts(Some(i as i64));
        enc.send_frame(&yuv).map_err(fail("encoding"))?;
        drain(&mut enc, &mut octx)?;
    }
    enc.send_eof().map_err(fail("finishing the stream"))?;
    drain(&mut enc, &mut octx)?;
    octx.write_trailer().map_err(fail("writing the trailer"))?;
    Ok(())
}
