use std::path::PathBuf;

use crate::video::{Control, DecodeCheck, Resize, Video};
use anyhow::Context;

#[derive(clap::Args, Debug)]
pub struct FramesArgs {
    pub video: PathBuf,
    /// Frame numbers in display order, from 0, e.g. `0,17,299`.
    #[arg(long, value_delimiter = ',', required = true)]
    pub at: Vec<usize>,
    /// Output size WxH (plain resize, like `scale=W:H`).
    #[arg(long, value_parser = parse_size, conflicts_with = "test_crop")]
    pub size: Option<(u32, u32)>,
    /// The papers' test transform: shorter side to 256 (scaled with the crop), centre crop N.
    #[arg(long)]
    pub test_crop: Option<u32>,
    /// Output folder (created if missing).
    #[arg(short, long)]
    pub out: PathBuf,
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X', '×'])
        .ok_or("expected WxH, e.g. 224x224")?;
    let w: u32 = w.trim().parse().map_err(|_| format!("bad width '{w}'"))?;
    let h: u32 = h.trim().parse().map_err(|_| format!("bad height '{h}'"))?;
    if w == 0 || h == 0 {
        return Err("sizes must be positive".into());
    }
    Ok((w, h))
}

pub fn run(a: &FramesArgs) -> anyhow::Result<()> {
    // This command promises the CLI's frame n: every packet is decoded first, so a picture the
    // decoder drops moves the numbers as it does in the CLI (which decodes up to n anyway).
    let video = Video::open_with(&a.video, DecodeCheck::Always, &Control::default())?;
    let resize = match (a.size, a.test_crop) {
        (Some((width, height)), _) => Resize::Exact { width, height },
        // 256/224 is the papers' ratio; keep it for other crop sizes.
        (None, Some(c)) => Resize::TestCrop {
            shorter: (c as u64 * 256 / 224) as u32,
            crop: c,
        },
        (None, None) => Resize::Native,
    };
    // One file per frame number: repeats in --at are written once (and decoded once, so 400
    // repeats of one 4K frame are one picture in memory, not 400).
    let mut numbers = a.at.clone();
    numbers.sort_unstable();
    numbers.dedup();
    let decoded = video.frames(&numbers, resize)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    for (n, img) in numbers.iter().zip(&decoded.frames) {
        let path = a.out.join(format!("frame_{n:06}.png"));
        let rgb = img.to_image().context("frame buffer has the wrong size")?;
        rgb.save(&path)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("{}", path.display());
    }
    let s = &decoded.stats;
    if !s.substituted.is_empty() {
        eprintln!("warning: {} frames could not be decoded and were replaced by their nearest decoded neighbour: {:?}", s.substituted.len(), s.substituted);
    }
    if s.corrupt_packets + s.corrupt_frames > 0 {
        eprintln!(
            "warning: {} corrupt packets, {} damaged frames met while decoding (the decoder \
             conceals the damage; such pictures differ with the decoder's thread count, in the \
             ffmpeg CLI too)",
            s.corrupt_packets, s.corrupt_frames
        );
    }
    for w in video.warnings() {
        eprintln!("warning: {}: {w}", a.video.display());
    }
    Ok(())
}
