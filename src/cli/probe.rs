use std::path::PathBuf;

use crate::video::{Control, DecodeCheck, DecodeChecked, Video, AUTO_CHECK_PIXELS};

#[derive(clap::Args, Debug)]
pub struct ProbeArgs {
    pub video: PathBuf,
    /// Print JSON (probe and frame index summary).
    #[arg(long)]
    pub json: bool,
    /// Decode every packet, whatever the file's size, so the frame count is exactly the ffmpeg
    /// CLI's even where damage makes the decoder drop pictures (done anyway for files of up to
    /// 300 million pixels in all).
    #[arg(long)]
    pub exact: bool,
}

pub fn run(a: &ProbeArgs) -> anyhow::Result<()> {
    let check = DecodeCheck::exact_if(a.exact);
    let video = Video::open_with(&a.video, check, &Control::default())?;
    let p = video.probe();
    let idx = video.index();
    let first_s = idx.seconds(0).unwrap_or(0.0);
    let last_s = idx.seconds(idx.len().saturating_sub(1)).unwrap_or(0.0);
    if a.json {
        let out = serde_json::json!({
            "path": a.video.to_string_lossy(),
            "probe": p,
            "index": {
                "frames": idx.len(),
                "keyframes": idx.keyframes,
                "display_order_from": idx.order,
                "first_pts_s": first_s,
                "last_pts_s": last_s,
                "corrupt_packets": idx.corrupt_packets,
            },
            "decode_check": video.decode_checked(),
            "warnings": video.warnings(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    let opt =
        |v: Option<f64>, unit: &str| v.map_or("unknown".to_string(), |v| format!("{v:.3}{unit}"));
    println!("file        {}", a.video.display());
    println!("container   {} ({})", p.container, p.container_long);
    println!(
        "codec       {} ({}), {}",
        p.codec, p.codec_long, p.pixel_format
    );
    println!(
        "size        {}×{} stored, {}×{} displayed (rotation {}°{})",
        p.width,
        p.height,
        p.display_width,
        p.display_height,
        p.rotation,
        if p.mirrored { ", then mirrored" } else { "" }
    );
    println!("duration    {}", opt(p.duration_s, " s"));
    println!(
        "frame rate  {} nominal, {} average",
        opt(p.frame_rate_nominal, " fps"),
        opt(p.frame_rate_avg, " fps")
    );
    println!("start time  {:.3} s", p.start_time_s);
    println!(
        "frames      {} (header says {}), {} keyframes",
        p.frame_count,
        p.header_frame_count
            .map_or("nothing".into(), |n| n.to_string()),
        p.keyframe_count
    );
    println!("audio       {}", if p.has_audio { "yes" } else { "no" });
    println!(
        "numbering   {}",
        match video.decode_checked() {
            DecodeChecked::Done { .. } => {
                "every packet decoded: frame n is the CLI's n-th decoded picture".to_string()
            }
            DecodeChecked::Untraced { pictures } => format!(
                "every packet decoded ({pictures} pictures), not all traced to their packets: \
                 frame numbers from the packets"
            ),
            DecodeChecked::NotRun => format!(
                "from the packets (files over {AUTO_CHECK_PIXELS} pixels in all are not \
                 decoded to check; --exact does it)"
            ),
        }
    );
    println!(
        "index       display order from {:?}; frames from {first_s:.3} s to {last_s:.3} s",
        idx.order
    );
    let keys: Vec<String> = idx
        .keyframes
        .iter()
        .take(12)
        .map(|k| k.to_string())
        .collect();
    println!(
        "keyframes   {}{}",
        keys.join(", "),
        if idx.keyframes.len() > 12 {
            ", …"
        } else {
            ""
        }
    );
    for w in video.warnings() {
        println!("warning     {w}");
    }
    Ok(())
}
