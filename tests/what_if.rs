//! What-if edits through the library: a cube moved by hand gives the logits of the model run
//! with its spatial policy forced to put the cube there; toggled frames and stages re-plan as
//! the model plans; bad edits are errors, not panics.

use std::path::Path;

use adalens::model::config::Knobs;
use adalens::model::load::{ConfigOverrides, LoadedModel, Network};
use adalens::runner::{Edit, EditError, Input, Quiet, RunError, Session};
use adalens::video::{Control, Video};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The demo checkpoint on the demo video (four clips), its session run once.
fn demo() -> (LoadedModel, Session, Knobs) {
    let model = LoadedModel::open(
        root().join("models/ada3d_focus_synth.safetensors"),
        None,
        &ConfigOverrides::default(),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let video = Video::open(root().join("assets/demo/synth/four_actions.mp4")).unwrap();
    let input = Input::plan(&video, &model).unwrap();
    let mut session = Session::new(&model, input);
    let knobs = model.config.knobs();
    session
        .run(&knobs, &std::sync::atomic::AtomicBool::new(false), &Quiet)
        .unwrap();
    (model, session, knobs)
}

fn max_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    assert_eq!(a.len(), b.len(), "steps");
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| x.iter().zip(y).map(|(p, q)| (p - q).abs()))
        .fold(0.0, f32::max)
}

#[test]
fn a_moved_cube_gives_the_logits_of_the_policy_forced_there() {
    let (model, mut session, knobs) = demo();
    let Network::Ada3dFocus(net) = &model.network else {
        panic!("the demo is ada3d_focus")
    };
    let clip = 1;
    let own = session.what_if(clip, &knobs, &[]).unwrap();
    assert!(own.plan.cubes.len() >= 2, "{:?}", own.plan.cubes);
    // Cube 2 to the top-left corner region's centre (a place the policy did not pick).
    let cube = &own.plan.cubes[1];
    let (w, h) = (
        cube.region.x2 - cube.region.x1,
        cube.region.y2 - cube.region.y1,
    );
    let side = net.config.input_size as f32;
    let (x, y) = (w / 2.0 + 3.0, side - h / 2.0 - 5.0);
    let edited = session
        .what_if(clip, &knobs, &[Edit::MoveCube { order: 2, x, y }])
        .unwrap();
    let moved = edited.plan.cubes[1].region;
    assert!((moved.x1 - 3.0).abs() < 1e-4 && (moved.y2 - (side - 5.0)).abs() < 1e-4);
    assert_eq!(edited.plan.cubes[0], own.plan.cubes[0], "cube 1 stays");

    // The model run with its spatial policy's action on cube 2's centre frame moved so that
    // the same box comes out (same size), through the network's own plan.
    let video = Video::open(root().join("assets/demo/synth/four_actions.mp4")).unwrap();
    let mut input = Input::plan(&video, &model).unwrap();
    let frames = input.clip(clip, &Control::default()).unwrap();
    let mut cache = net.glance(&frames).unwrap();
    let centre = cube.centre;
    assert_eq!(
        own.plan.cubes.iter().filter(|c| c.centre == centre).count(),
        1,
        "cube 2's centre frame is its own"
    );
    let a = cache.actions[centre];
    cache.actions[centre] = [moved.y1 / (side - h), moved.x1 / (side - w), a[2], a[3]];
    let mut plan = net.plan(&cache, knobs.frame_threshold, knobs.stage_threshold);
    if let Some(max) = knobs.max_cubes {
        plan.cubes.truncate(max);
    }
    let forced = net.run_plan(&frames, &cache, plan).unwrap();

    let d = max_diff(&edited.step_logits, &forced.step_logits);
    assert!(d < 1e-4, "edited vs forced logits differ by {d}");
    // The glance step is untouched; from cube 2 on, the moved cube changes the prediction.
    assert!(max_diff(&edited.step_logits[..2], &own.step_logits[..2]) < 1e-5);
    let changed = max_diff(&edited.step_logits[2..], &own.step_logits[2..]);
    assert!(
        changed > 1e-3,
        "moving the cube changed nothing ({changed})"
    );
    // The edited clip's trace carries the moved box and the new predictions.
    let region = edited.trace.cubes[1].region.unwrap();
    assert!((region[0] - moved.x1).abs() < 1e-4);
    assert_eq!(edited.trace.steps.len(), own.trace.steps.len());
}

#[test]
fn toggled_frames_and_stages_replan_as_the_model_plans() {
    let (model, mut session, knobs) = demo();
    let Network::Ada3dFocus(net) = &model.network else {
        panic!("the demo is ada3d_focus")
    };
    // A clip that keeps two frames or more (dropping a clip's only kept frame is refused).
    let (clip, own) = (0..4)
        .map(|k| (k, session.what_if(k, &knobs, &[]).unwrap()))
        .find(|(_, w)| w.plan.kept.len() >= 2)
        .expect("a clip keeping two frames");
    let dropped = own.plan.kept[0];
    let edited = session
        .what_if(
            clip,
            &knobs,
            &[
                Edit::ToggleFrame { index: dropped },
                Edit::ToggleStage { index: 0 },
            ],
        )
        .unwrap();
    assert!(!edited.plan.kept.contains(&dropped));
    assert_eq!(edited.plan.kept.len(), own.plan.kept.len() - 1);
    assert_eq!(edited.plan.stages_3d[0], !own.plan.stages_3d[0]);
    // Every cube sits on kept frames only, as the model places them.
    for c in &edited.plan.cubes {
        assert!(
            c.frames.iter().all(|f| edited.plan.kept.contains(f)),
            "{c:?}"
        );
    }
    // The frame is discarded in the edited clip's trace, and the same edit twice is undone.
    assert!(!edited.trace.frames[dropped].kept);
    let twice = session
        .what_if(
            clip,
            &knobs,
            &[
                Edit::ToggleFrame { index: dropped },
                Edit::ToggleFrame { index: dropped },
            ],
        )
        .unwrap();
    assert!(max_diff(&twice.step_logits, &own.step_logits) < 1e-5);
    assert_eq!(net.config.num_segments, own.trace.frames.len());
    // Dropping every kept frame is refused.
    let all: Vec<Edit> = own
        .plan
        .kept
        .iter()
        .map(|&index| Edit::ToggleFrame { index })
        .collect();
    assert!(matches!(
        session.what_if(clip, &knobs, &all),
        Err(adalens::runner::RunError::Edit(EditError::NothingKept))
    ));
}

#[test]
fn bad_edits_are_errors() {
    let (_, mut session, knobs) = demo();
    let mut err = |e: Edit| match session.what_if(0, &knobs, &[e]) {
        Err(RunError::Edit(e)) => e,
        other => panic!("{e:?}: {other:?}"),
    };
    assert!(matches!(
        err(Edit::MoveCube {
            order: 99,
            x: 1.0,
            y: 1.0
        }),
        EditError::NoCube(99)
    ));
    assert!(matches!(
        err(Edit::MoveCube {
            order: 0,
            x: 1.0,
            y: 1.0
        }),
        EditError::NoCube(0)
    ));
    assert!(matches!(
        err(Edit::ToggleStage { index: 40 }),
        EditError::NoStage(40)
    ));
    assert!(matches!(
        err(Edit::ToggleFrame { index: 1000 }),
        EditError::NoFrame(1000)
    ));
    // A cube moved far outside the frame stays inside it.
    let far = session
        .what_if(
            0,
            &knobs,
            &[Edit::MoveCube {
                order: 1,
                x: -1e9,
                y: f32::MAX,
            }],
        )
        .unwrap();
    let r = far.plan.cubes[0].region;
    assert!(r.x1 >= 0.0 && r.y1 >= 0.0, "{r:?}");
    assert!(matches!(
        session.what_if(9, &knobs, &[]),
        Err(RunError::NoClip(9))
    ));
}

#[test]
fn an_arch_without_cubes_refuses_edits() {
    // The tiny Ada3D parity fixture: frames and stages per clip, no cubes.
    let model = LoadedModel::open(
        root().join("tests/fixtures/model/ada3d_tiny.safetensors"),
        None,
        &ConfigOverrides::default(),
        &candle_core::Device::Cpu,
    )
    .unwrap();
    let video = Video::open(root().join("assets/demo/demo_testsrc_320x240.mp4")).unwrap();
    let input = Input::plan(&video, &model).unwrap();
    let mut session = Session::new(&model, input);
    let knobs = model.config.knobs();
    assert!(matches!(
        session.what_if(0, &knobs, &[]),
        Err(RunError::Edit(EditError::Arch))
    ));
}
