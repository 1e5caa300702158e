//! Cutting patches out of frames exactly as the official AdaFocus code does: an affine matrix
//! per frame from the policy's box (`get_patch_grid_scalexy` of Uni-AdaFocus), then PyTorch's
//! `affine_grid` + `grid_sample` (bilinear, zero padding, `align_corners=False`). Written with
//! tensor ops only, so it runs on whichever device holds the frames.

use candle_core::{DType, Result, Tensor};

/// The region a box action selects, in input pixels: `(x1, y1, x2, y2)` edges.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Region {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
}

/// Region for a policy action `a = (y, x, scale_y, scale_x)` in [0, 1] (the official order:
/// a[0], a[2] act on rows) on an `h × w` frame; region sides run from `min_side` to `max_side`
/// pixels (96 and 224 in the official code).
pub fn region_from_action(
    a: [f32; 4],
    (h, w): (usize, usize),
    patch: usize,
    min_side: f32,
    max_side: f32,
) -> Region {
    // The official float32 operation order: scale = a·(MAX−MIN)/P + MIN/P; side = P·scale.
    let p = patch as f32;
    let scale_y = a[2] * (max_side - min_side) / p + min_side / p;
    let scale_x = a[3] * (max_side - min_side) / p + min_side / p;
    let (side_y, side_x) = (p * scale_y, p * scale_x);
    let y1 = a[0] * (h as f32 - side_y);
    let x1 = a[1] * (w as f32 - side_x);
    Region {
        x1,
        y1,
        x2: x1 + side_x,
        y2: y1 + side_y,
    }
}

/// The 2×3 `affine_grid` matrix sampling `r` from an `h × w` frame.
pub fn theta_for_region(r: Region, (h, w): (usize, usize)) -> [[f32; 3]; 2] {
    let (w, h) = (w as f32, h as f32);
    [
        [(r.x2 - r.x1) / w, 0.0, -1.0 + (r.x1 + r.x2) / w],
        [0.0, (r.y2 - r.y1) / h, -1.0 + (r.y1 + r.y2) / h],
    ]
}

/// `grid_sample(frames, affine_grid(theta, (B, C, ph, pw)))`: frames B×C×H×W (f32), theta B×2×3
/// → patches B×C×ph×pw.
pub fn affine_patches(frames: &Tensor, theta: &Tensor, (ph, pw): (usize, usize)) -> Result<Tensor> {
    let (b, c, h, w) = frames.dims4()?;
    let dev = frames.device();
    // affine_grid's base grid, align_corners=False: pixel centres (2j+1)/P − 1.
    let xs: Vec<f32> = (0..ph * pw)
        .map(|i| (2 * (i % pw) + 1) as f32 / pw as f32 - 1.0)
        .collect();
    let ys: Vec<f32> = (0..ph * pw)
        .map(|i| (2 * (i / pw) + 1) as f32 / ph as f32 - 1.0)
        .collect();
    let xs = Tensor::from_vec(xs, (1, ph * pw), dev)?;
    let ys = Tensor::from_vec(ys, (1, ph * pw), dev)?;
    let t = |r: usize, k: usize| theta.narrow(1, r, 1)?.narrow(2, k, 1)?.reshape((b, 1));
    let gx = xs
        .broadcast_mul(&t(0, 0)?)?
        .broadcast_add(&ys.broadcast_mul(&t(0, 1)?)?)?
        .broadcast_add(&t(0, 2)?)?;
    let gy = xs
        .broadcast_mul(&t(1, 0)?)?
        .broadcast_add(&ys.broadcast_mul(&t(1, 1)?)?)?
        .broadcast_add(&t(1, 2)?)?;
    // grid_sample, align_corners=False: normalised → pixel ((g + 1)·size − 1) / 2.
    let ix = gx.affine(w as f64 / 2.0, (w as f64 - 1.0) / 2.0)?;
    let iy = gy.affine(h as f64 / 2.0, (h as f64 - 1.0) / 2.0)?;
    let (x0, y0) = (ix.floor()?, iy.floor()?);
    let (fx, fy) = ((&ix - &x0)?, (&iy - &y0)?);
    let flat = frames.reshape((b, c, h * w))?.contiguous()?;
    let mut out: Option<Tensor> = None;
    for (dy, dx) in [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)] {
        let xc = (&x0 + dx)?;
        let yc = (&y0 + dy)?;
        let wx = if dx == 0.0 { (1.0 - &fx)? } else { fx.clone() };
        let wy = if dy == 0.0 { (1.0 - &fy)? } else { fy.clone() };
        // Taps outside the frame contribute zero (padding_mode='zeros').
        let inside = xc
            .ge(0.0)?
            .mul(&xc.le((w - 1) as f64)?)?
            .mul(&yc.ge(0.0)?.mul(&yc.le((h - 1) as f64)?)?)?;
        let weight = (wx * wy)?.mul(&inside.to_dtype(DType::F32)?)?;
        let idx =
            (yc.clamp(0.0, (h - 1) as f64)? * w as f64)?.add(&xc.clamp(0.0, (w - 1) as f64)?)?;
        let idx = idx
            .to_dtype(DType::U32)?
            .reshape((b, 1, ph * pw))?
            .broadcast_as((b, c, ph * pw))?
            .contiguous()?;
        let v = flat
            .gather(&idx, 2)?
            .broadcast_mul(&weight.reshape((b, 1, ph * pw))?)?;
        out = Some(match out {
            Some(o) => (o + v)?,
            None => v,
        });
    }
    match out {
        Some(o) => o.reshape((b, c, ph, pw)),
        None => candle_core::bail!("no taps"),
    }
}
