use std::path::PathBuf;

use crate::video::Video;

#[derive(clap::Args, Debug)]
pub struct ProbeArgs {
    pub video: PathBuf,
    /// Print JSON (probe and frame index summary).
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: &ProbeArgs) -> anyhow::Result<()> {
    let video = Video::open(&a.video)?;
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
