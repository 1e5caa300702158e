//! Decoded picture → RGB u8 at the requested geometry, through swscale with the ffmpeg CLI's
//! defaults (bicubic, the frame's colour matrix and range) so frames equal what `ffmpeg` writes.

use ffmpeg_next::ffi;
use serde::{Deserialize, Serialize};

use super::error::VideoError;
use super::probe::{Orientation, MAX_PIXELS, MAX_SIDE};

/// A decoded frame as tightly packed RGB24 rows.
#[derive(Clone, PartialEq, Eq)]
pub struct RgbFrame {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

impl std::fmt::Debug for RgbFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RgbFrame({}×{})", self.width, self.height)
    }
}

impl RgbFrame {
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = ((y * self.width + x) * 3) as usize;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }

    pub fn to_image(&self) -> Option<image::RgbImage> {
        image::RgbImage::from_raw(self.width, self.height, self.data.clone())
    }
}

/// Output geometry, applied to the picture as displayed (after rotation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Resize {
    /// The display size of the video.
    #[default]
    Native,
    /// Exactly this size (aspect ratio not kept), like `scale=W:H`.
    Exact { width: u32, height: u32 },
    /// Largest size within the box that keeps the aspect ratio (thumbnails).
    Fit { width: u32, height: u32 },
    /// The papers' test transform: shorter side to `shorter` (torchvision `Resize(shorter)`),
    /// then a centred `crop`×`crop` square (torchvision `CenterCrop(crop)`).
    TestCrop { shorter: u32, crop: u32 },
}

impl Resize {
    /// The same request for the picture turned a quarter: width and height exchanged.
    fn swapped(self) -> Resize {
        match self {
            Resize::Exact { width, height } => Resize::Exact {
                width: height,
                height: width,
            },
            Resize::Fit { width, height } => Resize::Fit {
                width: height,
                height: width,
            },
            other => other,
        }
    }

    /// The papers' test transform: resize the shorter side to 256, centre crop 224.
    pub const PAPER_TEST: Resize = Resize::TestCrop {
        shorter: 256,
        crop: 224,
    };

    /// The part of a `w × h` displayed picture that ends up in the output, as x, y, width,
    /// height in display pixels (the whole picture except for the test crop).
    pub fn source_rect(&self, w: u32, h: u32) -> Result<[f64; 4], VideoError> {
        let g = self.plan(w, h)?;
        let (sx, sy) = (w as f64 / g.scaled_w as f64, h as f64 / g.scaled_h as f64);
        Ok([
            g.crop_x as f64 * sx,
            g.crop_y as f64 * sy,
            g.out_w as f64 * sx,
            g.out_h as f64 * sy,
        ])
    }

    /// (scaled width, scaled height, crop rectangle x, y, w, h) for a display size.
    pub(crate) fn plan(&self, w: u32, h: u32) -> Result<Geometry, VideoError> {
        let g = match *self {
            Resize::Native => Geometry::whole(w, h),
            Resize::Exact { width, height } => Geometry::whole(width, height),
            Resize::Fit { width, height } => {
                let s = (width as f64 / w as f64).min(height as f64 / h as f64);
                Geometry::whole(
                    ((w as f64 * s).round() as u32).max(1),
                    ((h as f64 * s).round() as u32).max(1),
                )
            }
            Resize::TestCrop { shorter, crop } => {
                // torchvision Resize(int): the shorter side becomes `shorter`, the longer one
                // int(shorter * long / short).
                let (sw, sh) = if w <= h {
                    (
                        shorter,
                        (shorter as u64 * h as u64 / w.max(1) as u64) as u32,
                    )
                } else {
                    (
                        (shorter as u64 * w as u64 / h.max(1) as u64) as u32,
                        shorter,
                    )
                };
                if crop > sw || crop > sh {
                    return Err(VideoError::InvalidRequest(format!(
                        "centre crop {crop} is larger than the resized frame {sw}×{sh}"
                    )));
                }
                // torchvision CenterCrop: int(round((size - crop) / 2)), round half to even.
                let off = |size: u32| -> u32 {
                    let twice = size - crop;
                    let half = twice / 2;
                    if twice % 2 == 1 && half % 2 == 1 {
                        half + 1
                    } else {
                        half
                    }
                };
                Geometry {
                    scaled_w: sw,
                    scaled_h: sh,
                    crop_x: off(sw),
                    crop_y: off(sh),
                    out_w: crop,
                    out_h: crop,
                }
            }
        };
        if g.scaled_w == 0
            || g.scaled_h == 0
            || g.scaled_w > MAX_SIDE
            || g.scaled_h > MAX_SIDE
            || g.scaled_w as u64 * g.scaled_h as u64 > MAX_PIXELS
        {
            return Err(VideoError::InvalidRequest(format!(
                "an output of {}×{} is outside the limits (1 to {MAX_SIDE} pixels a side, at \
                 most {MAX_PIXELS} pixels a frame)",
                g.scaled_w, g.scaled_h
            )));
        }
        Ok(g)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub scaled_w: u32,
    pub scaled_h: u32,
    pub crop_x: u32,
    pub crop_y: u32,
    pub out_w: u32,
    pub out_h: u32,
}

impl Geometry {
    fn whole(w: u32, h: u32) -> Self {
        Geometry {
            scaled_w: w,
            scaled_h: h,
            crop_x: 0,
            crop_y: 0,
            out_w: w,
            out_h: h,
        }
    }
}

/// A reusable swscale context for one input format/size → RGB24 at one size.
pub(crate) struct Converter {
    ctx: *mut ffi::SwsContext,
    key: (i32, i32, i32, i32, i32, u32, u32),
}

impl Drop for Converter {
    fn drop(&mut self) {
        // SAFETY: created by sws_getContext, freed once.
        unsafe { ffi::sws_freeContext(self.ctx) }
    }
}

/// Converts decoded frames, rebuilding the scaler only when the input changes.
#[derive(Default)]
pub(crate) struct FrameConverter {
    current: Option<Converter>,
}

impl FrameConverter {
    /// Convert `frame` (as decoded) to RGB turned for display by `orientation`, with `resize`
    /// applied to the displayed picture.
    pub fn convert(
        &mut self,
        frame: *const ffi::AVFrame,
        orientation: Orientation,
        resize: Resize,
    ) -> Result<RgbFrame, VideoError> {
        // The CLI turns the decoded picture (transpose / hflip / vflip filters) before it scales
        // and converts; doing the same keeps resized frames identical to its output.
        if orientation != Orientation::UPRIGHT {
            // SAFETY: as below.
            if let Some(turned) = unsafe { turn_planes(frame, orientation) } {
                // SAFETY: `turned` is a complete frame owned here for the call.
                return self.convert_upright(unsafe { turned.as_ptr() }, resize);
            }
        }
        let img = self.convert_upright(
            frame,
            if orientation.swaps_sides() {
                resize.swapped()
            } else {
                resize
            },
        )?;
        Ok(orient(img, orientation))
    }

    /// Convert with no rotation.
    fn convert_upright(
        &mut self,
        frame: *const ffi::AVFrame,
        resize: Resize,
    ) -> Result<RgbFrame, VideoError> {
        // SAFETY: `frame` is a valid decoded frame owned by the caller for this call.
        let (fw, fh, fmt, cs, range) = unsafe {
            (
                (*frame).width,
                (*frame).height,
                (*frame).format,
                (*frame).colorspace as i32,
                (*frame).color_range as i32,
            )
        };
        if fw <= 0 || fh <= 0 {
            return Err(VideoError::InvalidRequest(
                "decoded frame has no size".into(),
            ));
        }
        let g = resize.plan(fw as u32, fh as u32)?;
        let (sw, sh) = (g.scaled_w, g.scaled_h);
        let key = (fw, fh, fmt, cs, range, sw, sh);
        if self.current.as_ref().map(|c| c.key) != Some(key) {
            self.current = None;
            // SAFETY: plain swscale setup; a null return is handled.
            let ctx = unsafe {
                let ctx = ffi::sws_getContext(
                    fw,
                    fh,
                    std::mem::transmute::<i32, ffi::AVPixelFormat>(fmt),
                    sw as i32,
                    sh as i32,
                    ffi::AVPixelFormat::AV_PIX_FMT_RGB24,
                    ffi::SWS_BICUBIC,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    std::ptr::null(),
                );
                if ctx.is_null() {
                    return Err(VideoError::InvalidRequest(format!(
                        "cannot convert pixel format {fmt} to RGB"
                    )));
                }
                // As the CLI's scale filter: the frame's own matrix (BT.601 when unspecified)
                // and its range.
                let spc = if cs == ffi::AVColorSpace::AVCOL_SPC_UNSPECIFIED as i32 {
                    ffi::SWS_CS_DEFAULT
                } else {
                    cs
                };
                let full = (range == ffi::AVColorRange::AVCOL_RANGE_JPEG as i32) as i32;
                let coeffs = ffi::sws_getCoefficients(spc);
                let (mut inv, mut srcr, mut table, mut dstr, mut b, mut c, mut s) =
                    (std::ptr::null_mut(), 0, std::ptr::null_mut(), 0, 0, 0, 0);
                ffi::sws_getColorspaceDetails(
                    ctx, &mut inv, &mut srcr, &mut table, &mut dstr, &mut b, &mut c, &mut s,
                );
                let src_full = if range == ffi::AVColorRange::AVCOL_RANGE_UNSPECIFIED as i32 {
                    srcr
                } else {
                    full
                };
                ffi::sws_setColorspaceDetails(ctx, coeffs, src_full, coeffs, dstr, b, c, s);
                ctx
            };
            self.current = Some(Converter { ctx, key });
        }
        let conv = self
            .current
            .as_ref()
            .map(|c| c.ctx)
            .unwrap_or(std::ptr::null_mut());
        // swscale's SIMD converters write whole blocks of 8–16 pixels per row: give them rows
        // padded to 32 pixels and 64-byte aligned, plus a spare row, then pack the rows tight.
        let row = sw as usize * 3;
        let stride = (sw as usize).div_ceil(32) * 32 * 3;
        let mut padded = vec![0u8; stride * (sh as usize + 1) + 64];
        let offset = padded.as_ptr().align_offset(64);
        // SAFETY: the destination has `sh` rows of `stride` bytes (more than the widest block
        // write) starting at an aligned offset inside `padded`; source planes belong to the frame.
        unsafe {
            let dst = [
                padded.as_mut_ptr().add(offset),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            ];
            let dst_stride = [stride as i32, 0, 0, 0];
            let ret = ffi::sws_scale(
                conv,
                (*frame).data.as_ptr() as *const *const u8,
                (*frame).linesize.as_ptr(),
                0,
                fh,
                dst.as_ptr(),
                dst_stride.as_ptr(),
            );
            if ret <= 0 {
                return Err(VideoError::InvalidRequest(
                    "swscale produced no rows".into(),
                ));
            }
        }
        let mut rgb = Vec::with_capacity(row * sh as usize);
        for y in 0..sh as usize {
            let start = offset + y * stride;
            rgb.extend_from_slice(&padded[start..start + row]);
        }
        Ok(crop(
            RgbFrame {
                width: sw,
                height: sh,
                data: rgb,
            },
            &g,
        ))
    }
}

/// A copy of a decoded frame with its planes turned by `orientation`, like FFmpeg's
/// transpose/hflip/vflip filters. `None` for layouts those filters do not turn
/// directly (bit-packed formats, unequal chroma subsampling): the caller turns the RGB instead.
///
/// # Safety
/// `src` must point to a valid decoded video frame.
unsafe fn turn_planes(
    src: *const ffi::AVFrame,
    orientation: Orientation,
) -> Option<ffmpeg_next::frame::Video> {
    let (w, h, fmt) = ((*src).width as usize, (*src).height as usize, (*src).format);
    let fmt_enum: ffi::AVPixelFormat = std::mem::transmute::<i32, ffi::AVPixelFormat>(fmt);
    let desc = ffi::av_pix_fmt_desc_get(fmt_enum);
    if desc.is_null() {
        return None;
    }
    let d = &*desc;
    let unsupported = (ffi::AV_PIX_FMT_FLAG_BITSTREAM
        | ffi::AV_PIX_FMT_FLAG_HWACCEL
        | ffi::AV_PIX_FMT_FLAG_PAL) as u64;
    let quarter = orientation.swaps_sides();
    if d.flags & unsupported != 0 || (quarter && d.log2_chroma_w != d.log2_chroma_h) {
        return None;
    }
    let (ow, oh) = if quarter { (h, w) } else { (w, h) };
    let mut out = ffmpeg_next::frame::Video::new(fmt_enum.into(), ow as u32, oh as u32);
    let dst = out.as_mut_ptr();
    // Bytes per pixel in each plane: the largest component step stored in it.
    let mut elem = [0usize; 4];
    for c in &d.comp[..d.nb_components as usize] {
        let p = c.plane as usize;
        elem[p] = elem[p].max(c.step as usize);
    }
    for (p, &size) in elem.iter().enumerate() {
        if size == 0 || (*src).data[p].is_null() || (*dst).data[p].is_null() {
            continue;
        }
        let chroma = p == 1 || p == 2;
        let (sw, sh) = if chroma {
            (
                -((-(w as i64)) >> d.log2_chroma_w) as usize,
                -((-(h as i64)) >> d.log2_chroma_h) as usize,
            )
        } else {
            (w, h)
        };
        let (ss, ds) = ((*src).linesize[p] as isize, (*dst).linesize[p] as isize);
        let (sp, dp) = ((*src).data[p] as *const u8, (*dst).data[p]);
        let (dw, dh) = if quarter { (sh, sw) } else { (sw, sh) };
        for y in 0..dh {
            for x in 0..dw {
                // Source pixel for destination (x, y): undo the mirror, then the turn.
                let ux = if orientation.mirror { dw - 1 - x } else { x };
                let (sx, sy) = match orientation.turn % 360 {
                    90 => (y, sh - 1 - ux),
                    270 => (sw - 1 - y, ux),
                    180 => (sw - 1 - ux, sh - 1 - y),
                    _ => (ux, y),
                };
                std::ptr::copy_nonoverlapping(
                    sp.offset(sy as isize * ss + (sx * size) as isize),
                    dp.offset(y as isize * ds + (x * size) as isize),
                    size,
                );
            }
        }
    }
    (*dst).colorspace = (*src).colorspace;
    (*dst).color_range = (*src).color_range;
    (*dst).chroma_location = (*src).chroma_location;
    Some(out)
}

/// Turn an RGB picture by `orientation`: its quarter turns, then its mirror.
fn orient(img: RgbFrame, orientation: Orientation) -> RgbFrame {
    let mut img = rotate(img, orientation.turn);
    if orientation.mirror {
        let w = img.width as usize * 3;
        for row in img.data.chunks_exact_mut(w.max(3)) {
            let pixels = row.len() / 3;
            for x in 0..pixels / 2 {
                let (a, b) = (x * 3, (pixels - 1 - x) * 3);
                for c in 0..3 {
                    row.swap(a + c, b + c);
                }
            }
        }
    }
    img
}

/// Turn an RGB picture clockwise by 0/90/180/270 degrees.
pub fn rotate(img: RgbFrame, rotation: u32) -> RgbFrame {
    let (w, h) = (img.width as usize, img.height as usize);
    let src = &img.data;
    match rotation % 360 {
        90 | 270 => {
            let mut out = vec![0u8; src.len()];
            for y in 0..h {
                for x in 0..w {
                    // clockwise: (x, y) → (h-1-y, x); counter-clockwise: (x, y) → (y, w-1-x)
                    let (nx, ny) = if rotation % 360 == 90 {
                        (h - 1 - y, x)
                    } else {
                        (y, w - 1 - x)
                    };
                    let s = (y * w + x) * 3;
                    let d = (ny * h + nx) * 3;
                    out[d..d + 3].copy_from_slice(&src[s..s + 3]);
                }
            }
            RgbFrame {
                width: h as u32,
                height: w as u32,
                data: out,
            }
        }
        180 => {
            let mut out = Vec::with_capacity(src.len());
            for px in src.chunks_exact(3).rev() {
                out.extend_from_slice(px);
            }
            RgbFrame {
                width: w as u32,
                height: h as u32,
                data: out,
            }
        }
        _ => img,
    }
}

fn crop(img: RgbFrame, g: &Geometry) -> RgbFrame {
    if g.crop_x == 0 && g.crop_y == 0 && g.out_w == img.width && g.out_h == img.height {
        return img;
    }
    let mut out = Vec::with_capacity((g.out_w * g.out_h * 3) as usize);
    for y in g.crop_y..g.crop_y + g.out_h {
        let start = ((y * img.width + g.crop_x) * 3) as usize;
        out.extend_from_slice(&img.data[start..start + (g.out_w * 3) as usize]);
    }
    RgbFrame {
        width: g.out_w,
        height: g.out_h,
        data: out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_crop_matches_torchvision_arithmetic() {
        // 340×256: Resize(256) keeps 340×256; CenterCrop(224): left round(58) = 58, top 16.
        let g = Resize::PAPER_TEST.plan(340, 256).unwrap();
        assert_eq!(
            (g.scaled_w, g.scaled_h, g.crop_x, g.crop_y),
            (340, 256, 58, 16)
        );
        // 1920×1080 → 455×256 (int(256*1920/1080) = 455); left round(115.5) = 116 (half to even).
        let g = Resize::PAPER_TEST.plan(1920, 1080).unwrap();
        assert_eq!(
            (g.scaled_w, g.scaled_h, g.crop_x, g.crop_y),
            (455, 256, 116, 16)
        );
        // 322×241 → 342×256; left round(59) = 59, top 16.
        let g = Resize::PAPER_TEST.plan(241, 322).unwrap();
        assert_eq!((g.scaled_w, g.scaled_h), (256, 342));
        assert!(Resize::TestCrop {
            shorter: 100,
            crop: 224
        }
        .plan(320, 240)
        .is_err());
    }

    #[test]
    fn fit_keeps_aspect() {
        let g = Resize::Fit {
            width: 160,
            height: 160,
        }
        .plan(1920, 1080)
        .unwrap();
        assert_eq!((g.out_w, g.out_h), (160, 90));
    }

    #[test]
    fn rotation_moves_pixels_clockwise() {
        // 2×1: red, green → clockwise 90: column with red on top.
        let img = RgbFrame {
            width: 2,
            height: 1,
            data: vec![255, 0, 0, 0, 255, 0],
        };
        let r = rotate(img.clone(), 90);
        assert_eq!((r.width, r.height), (1, 2));
        assert_eq!(r.pixel(0, 0), [255, 0, 0]);
        let r = rotate(img.clone(), 270);
        assert_eq!(r.pixel(0, 0), [0, 255, 0]);
        let r = rotate(img, 180);
        assert_eq!(r.pixel(0, 0), [0, 255, 0]);
    }
}
