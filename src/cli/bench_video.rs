use std::path::PathBuf;
use std::time::Instant;

use crate::video::{plan, Control, Resize, Video};

#[derive(clap::Args, Debug)]
pub struct BenchVideoArgs {
    /// Video files to sample from.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Frames to sample (TSN centres).
    #[arg(long, default_value_t = 16)]
    pub frames: usize,
    /// Output side (frames are resized to SIZE×SIZE RGB).
    #[arg(long, default_value_t = 224)]
    pub size: u32,
    #[arg(long, default_value_t = 5)]
    pub repeat: usize,
    /// Decoding threads (0 = one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    #[arg(long)]
    pub json: bool,
}

/// Peak resident memory of this process so far, in MB (Linux `VmHWM`).
fn peak_rss_mb() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

pub fn run(a: &BenchVideoArgs) -> anyhow::Result<()> {
    let resize = Resize::Exact {
        width: a.size,
        height: a.size,
    };
    let mut rows = Vec::new();
    for file in &a.files {
        let (mut open_t, mut total_t, mut limit_t) = (Vec::new(), Vec::new(), Vec::new());
        let mut last = None;
        for _ in 0..a.repeat.max(1) {
            // End to end, as a user runs it: open + index + decode + convert.
            let t0 = Instant::now();
            let video = Video::open(file)?;
            let t_open = t0.elapsed();
            let targets = plan::tsn_centres(video.frame_count(), a.frames);
            let decoded = video.frames_with(
                &targets,
                resize,
                &Control {
                    threads: a.threads,
                    ..Default::default()
                },
            )?;
            total_t.push(t0.elapsed());
            open_t.push(t_open);
            last = Some((video, targets, decoded.stats));
        }
        // Peak memory of sampling alone, before the limit run (which holds every packet).
        let sample_peak = peak_rss_mb();
        let Some((video, targets, stats)) = last else {
            continue;
        };
        let mut limit = None;
        for _ in 0..a.repeat.max(1) {
            let l = video.decode_limit(&targets)?;
            limit_t.push(l.time);
            limit = Some(l);
        }
        let Some(limit) = limit else { continue };
        let total = super::bench::median(total_t);
        let limit_med = super::bench::median(limit_t);
        let row = serde_json::json!({
            "file": file.to_string_lossy(),
            "frames_in_video": video.frame_count(),
            "size": format!("{}x{}", video.probe().width, video.probe().height),
            "targets": targets,
            "open_index_ms": super::bench::median(open_t).as_secs_f64() * 1e3,
            "sample_ms": total.as_secs_f64() * 1e3,
            "limit_ms": limit_med.as_secs_f64() * 1e3,
            "ratio_to_limit": total.as_secs_f64() / limit_med.as_secs_f64().max(1e-9),
            "packets_decoded": stats.packets_decoded,
            "packets_limit": limit.packets_decoded,
            "seeks": stats.seeks,
            "workers": stats.workers,
            "sample_peak_rss_mb": sample_peak,
        });
        if !a.json {
            println!(
                "{}: {} frames; open+index {:.1} ms; sample {} at {}² {:.1} ms (median of {}); limit {:.1} ms ({} packets, {} GOPs); ours/limit {:.2}; {} packets decoded by {} workers; peak RSS while sampling {:.0} MB",
                file.display(), video.frame_count(), row["open_index_ms"].as_f64().unwrap_or(0.0), a.frames, a.size,
                total.as_secs_f64() * 1e3, a.repeat, limit_med.as_secs_f64() * 1e3, limit.packets_decoded, limit.gops,
                row["ratio_to_limit"].as_f64().unwrap_or(0.0), stats.packets_decoded, stats.workers, sample_peak.unwrap_or(0.0)
            );
        }
        rows.push(row);
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    }
    Ok(())
}
