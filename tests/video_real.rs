//! The video pipeline on real camera footage (tests/fixtures/videos): probe values, and decoded frames
//! equal to what the ffmpeg CLI decodes for the same frame number and size.

mod common;

use adalens::video::{plan, OrderSource, Resize, Video};
use common::*;

fn check_frames(name: &str, numbers: &[usize]) {
    let path = real_video(name);
    let video = Video::open(&path).unwrap();
    let (w, h) = (video.probe().display_width, video.probe().display_height);
    let native = video.frames(numbers, Resize::Native).unwrap();
    let small = video
        .frames(
            numbers,
            Resize::Exact {
                width: 224,
                height: 224,
            },
        )
        .unwrap();
    for (i, &n) in numbers.iter().enumerate() {
        let cli = cli_frame(&path, n, "", w, h);
        assert_same_picture(
            &native.frames[i].data,
            &cli,
            &format!("{name} frame {n} native"),
        );
        let cli = cli_frame(&path, n, "scale=224:224", 224, 224);
        assert_same_picture(
            &small.frames[i].data,
            &cli,
            &format!("{name} frame {n} at 224×224"),
        );
    }
    assert!(native.stats.substituted.is_empty());
}

#[test]
fn makeup_h264_probe() {
    let v = Video::open(real_video("makeup_h264_340x256_30fps.mp4")).unwrap();
    let p = v.probe();
    assert!(p.container.contains("mp4"), "{}", p.container);
    assert_eq!(p.codec, "h264");
    assert_eq!((p.width, p.height, p.rotation), (340, 256, 0));
    assert_eq!(p.frame_count, 300);
    assert_eq!(p.frame_rate_nominal, Some(30.0));
    assert_eq!(p.frame_rate_avg, Some(30.0));
    assert!(
        (p.duration_s.unwrap() - 10.0).abs() < 0.05,
        "{:?}",
        p.duration_s
    );
    assert_eq!(p.start_time_s, 0.0);
    assert_eq!(v.index().order, OrderSource::Timestamps);
    assert_eq!(v.index().keyframes[0], 0);
    // frame n is shown at n/30 s
    assert!((v.index().seconds(299).unwrap() - 299.0 / 30.0).abs() < 1e-9);
}

#[test]
fn makeup_h264_frames_equal_the_cli() {
    // first, last, B-frames and frames on both sides of keyframes
    let v = Video::open(real_video("makeup_h264_340x256_30fps.mp4")).unwrap();
    let mut numbers = vec![0, 1, 2, 17, 150, 298, 299];
    for &k in v.index().keyframes.iter().skip(1).take(2) {
        numbers.extend([k - 1, k, k + 1]);
    }
    check_frames("makeup_h264_340x256_30fps.mp4", &numbers);
}

#[test]
fn makeup_h264_test_crop_equals_the_cli() {
    let path = real_video("makeup_h264_340x256_30fps.mp4");
    let v = Video::open(&path).unwrap();
    let d = v.frames(&[0, 123], Resize::PAPER_TEST).unwrap();
    for (i, n) in [0usize, 123].into_iter().enumerate() {
        // 340×256 → Resize(256) = 340×256 → CenterCrop(224) at (58, 16)
        let cli = cli_frame(
            &path,
            n,
            "scale=340:256,format=rgb24,crop=224:224:58:16",
            224,
            224,
        );
        assert_same_picture(&d.frames[i].data, &cli, &format!("test crop frame {n}"));
    }
}

#[test]
fn mpeg4_avi_with_audio_probe_and_frames() {
    let name = "makeup_mpeg4_mp3_320x240_25fps.avi";
    let v = Video::open(real_video(name)).unwrap();
    let p = v.probe();
    assert!(p.container.contains("avi"));
    assert_eq!(p.codec, "mpeg4");
    assert_eq!((p.width, p.height), (320, 240));
    assert_eq!(p.frame_count, 164);
    assert_eq!(p.frame_rate_nominal, Some(25.0));
    assert!(p.has_audio);
    assert!(
        (p.duration_s.unwrap() - 6.56).abs() < 0.05,
        "{:?}",
        p.duration_s
    );
    check_frames(name, &[0, 1, 2, 3, 4, 5, 40, 81, 100, 162, 163]);
}

#[test]
fn hd_h264_probe_and_frames() {
    let name = "two_people_h264_1920x1080_30fps.mp4";
    let v = Video::open(real_video(name)).unwrap();
    let p = v.probe();
    assert_eq!((p.width, p.height), (1920, 1080));
    assert_eq!(p.frame_count, 72);
    assert_eq!(p.frame_rate_nominal, Some(30.0));
    let avg = p.frame_rate_avg.unwrap();
    assert!((avg - 2160.0 / 77.0).abs() < 1e-9, "{avg}");
    assert!(!p.has_audio);
    check_frames(name, &[0, 35, 71]);
}

#[test]
fn tsn_plan_decodes_in_request_order_with_repeats() {
    let path = real_video("makeup_h264_340x256_30fps.mp4");
    let v = Video::open(&path).unwrap();
    let mut numbers = plan::tsn_centres(v.frame_count(), 8);
    numbers.reverse();
    numbers.push(numbers[0]);
    let d = v
        .frames(
            &numbers,
            Resize::Exact {
                width: 64,
                height: 48,
            },
        )
        .unwrap();
    assert_eq!(d.frames.len(), numbers.len());
    assert_eq!(d.frames[0], d.frames[numbers.len() - 1]);
    for (i, &n) in numbers.iter().enumerate().take(3) {
        let cli = cli_frame(&path, n, "scale=64:48", 64, 48);
        assert_same_picture(&d.frames[i].data, &cli, &format!("frame {n}"));
    }
    assert_eq!(d.stats.unique_frames, 8);
}
