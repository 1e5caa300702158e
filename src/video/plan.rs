//! Sampling plans: which frame numbers a model looks at. Pure functions of the frame count, so
//! the GUI, the CLI and the trainer sample identically. Videos shorter than a plan repeat frames.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// TSN test sampling (Wang et al.; the Uni-AdaFocus data loader): `segments` equal segments,
/// the centre frame of each: `floor(tick·(i + ½))` with `tick = frames / segments`.
pub fn tsn_centres(frame_count: usize, segments: usize) -> Vec<usize> {
    if frame_count == 0 {
        return Vec::new();
    }
    let tick = frame_count as f64 / segments as f64;
    (0..segments)
        .map(|i| ((tick * (i as f64 + 0.5)) as usize).min(frame_count - 1))
        .collect()
}

/// Consecutive windows `(first frame, length)` of about `clip_seconds` each that tile the
/// video: as many as the duration holds, rounded, at least one. Without a frame rate or a clip
/// length, the whole video.
pub fn windows(
    frame_count: usize,
    fps: Option<f64>,
    clip_seconds: Option<f64>,
) -> Vec<(usize, usize)> {
    let per_clip = match (fps, clip_seconds) {
        (Some(f), Some(s)) if f > 0.0 && s > 0.0 => f * s,
        _ => return vec![(0, frame_count)],
    };
    let n = ((frame_count as f64 / per_clip).round() as usize).clamp(1, frame_count.max(1));
    (0..n)
        .map(|i| {
            let start = i * frame_count / n;
            (start, (i + 1) * frame_count / n - start)
        })
        .collect()
}

/// TSN test sampling of every window: `segments` centres each, as frame numbers of the video.
pub fn windowed_tsn_centres(windows: &[(usize, usize)], segments: usize) -> Vec<usize> {
    windows
        .iter()
        .flat_map(|&(start, len)| {
            tsn_centres(len, segments)
                .into_iter()
                .map(move |n| start + n)
        })
        .collect()
}

/// TSN training sampling: one frame drawn uniformly inside each segment, from a seeded stream.
pub fn tsn_random(frame_count: usize, segments: usize, seed: u64) -> Vec<usize> {
    if frame_count == 0 {
        return Vec::new();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..segments)
        .map(|i| {
            let start = i * frame_count / segments;
            let end = ((i + 1) * frame_count / segments).max(start + 1);
            rng.random_range(start..end).min(frame_count - 1)
        })
        .collect()
}

/// One clip of a multi-clip plan.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Clip {
    pub frames: Vec<usize>,
}

/// SlowFast/Ada3D test sampling: `clips` clips of `frames_per_clip` frames at temporal stride
/// `stride`, spread uniformly over the video: clip `c` starts at `floor(c·Δ/(clips−1))` with
/// `Δ = frames − frames_per_clip·stride` (PySlowFast's offset variant, so the first clip starts at
/// the first frame and the last one ends at the end); one clip sits in the middle. Frames past
/// the end of a short video repeat the last frame.
pub fn uniform_clips(
    frame_count: usize,
    clips: usize,
    frames_per_clip: usize,
    stride: usize,
) -> Vec<Clip> {
    if frame_count == 0 || clips == 0 {
        return Vec::new();
    }
    let span = frames_per_clip * stride.max(1);
    let delta = frame_count.saturating_sub(span);
    (0..clips)
        .map(|c| {
            let start = if clips == 1 {
                delta / 2
            } else {
                c * delta / (clips - 1)
            };
            Clip {
                frames: (0..frames_per_clip)
                    .map(|j| (start + j * stride.max(1)).min(frame_count - 1))
                    .collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_tile_the_video_by_clip_length() {
        // 4 actions of 32 frames at 12 fps, clips of 32/12 s: four windows of 32.
        let w = windows(128, Some(12.0), Some(32.0 / 12.0));
        assert_eq!(w, vec![(0, 32), (32, 32), (64, 32), (96, 32)]);
        let c = windowed_tsn_centres(&w, 8);
        assert_eq!(&c[..9], &[2, 6, 10, 14, 18, 22, 26, 30, 34]);
        assert_eq!(c.len(), 32);
        // Shorter than 1.5 clips: one; no clip length or no frame rate: the whole video.
        assert_eq!(windows(40, Some(12.0), Some(32.0 / 12.0)), vec![(0, 40)]);
        assert_eq!(windows(128, None, Some(2.0)), vec![(0, 128)]);
        assert_eq!(windows(128, Some(12.0), None), vec![(0, 128)]);
        assert_eq!(windows(0, Some(12.0), Some(1.0)), vec![(0, 0)]);
    }

    #[test]
    fn tsn_centres_match_the_tsn_formula() {
        // 300 frames, 8 segments: tick 37.5 → 18, 56, 93, 131, 168, 206, 243, 281
        assert_eq!(
            tsn_centres(300, 8),
            vec![18, 56, 93, 131, 168, 206, 243, 281]
        );
        assert_eq!(tsn_centres(16, 16), (0..16).collect::<Vec<_>>());
        assert!(tsn_centres(0, 8).is_empty());
    }

    #[test]
    fn tsn_repeats_frames_on_short_videos() {
        let p = tsn_centres(3, 8);
        assert_eq!(p.len(), 8);
        assert_eq!(p, vec![0, 0, 0, 1, 1, 2, 2, 2]);
    }

    #[test]
    fn tsn_random_stays_in_segments_and_is_seeded() {
        let a = tsn_random(100, 10, 7);
        assert_eq!(a, tsn_random(100, 10, 7));
        assert_ne!(a, tsn_random(100, 10, 8));
        for (i, f) in a.iter().enumerate() {
            assert!(
                (i * 10..(i + 1) * 10).contains(f),
                "{f} outside segment {i}"
            );
        }
        assert!(tsn_random(3, 8, 1).iter().all(|&f| f < 3));
    }

    #[test]
    fn clips_spread_from_start_to_end() {
        let c = uniform_clips(300, 10, 8, 8);
        assert_eq!(c.len(), 10);
        assert_eq!(c[0].frames, vec![0, 8, 16, 24, 32, 40, 48, 56]);
        // the last clip covers the last 64 frames: 236, 244, …, 292
        assert_eq!(*c[9].frames.last().unwrap(), 292);
        assert_eq!(c[9].frames[0], 300 - 64);
        for w in c.windows(2) {
            assert!(w[0].frames[0] <= w[1].frames[0]);
        }
    }

    #[test]
    fn clips_on_short_videos_repeat_the_last_frame() {
        let c = uniform_clips(20, 3, 8, 8);
        assert!(c.iter().all(|clip| clip.frames[0] == 0));
        assert_eq!(c[0].frames, vec![0, 8, 16, 19, 19, 19, 19, 19]);
        assert_eq!(uniform_clips(50, 1, 4, 2)[0].frames, vec![21, 23, 25, 27]);
    }
}
