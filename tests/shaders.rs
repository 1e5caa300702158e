//! Every WGSL file in shaders/ parses and validates with naga (what wgpu runs on them), and each
//! shader's uniform block has the size of the `#[repr(C)]` struct that mirrors it.

use std::path::Path;

use adalens::app::render::cube_view::{CubeViewUniforms, SHADER};

fn validate(name: &str, source: &str) -> naga::Module {
    let module = naga::front::wgsl::parse_str(source)
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::empty(),
    )
    .validate(&module)
    .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
    module
}

#[test]
fn every_wgsl_file_validates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "wgsl") {
            validate(
                &path.display().to_string(),
                &std::fs::read_to_string(&path).unwrap(),
            );
            n += 1;
        }
    }
    assert!(n >= 1, "no shaders found in {}", dir.display());
}

#[test]
fn cube_view_uniforms_match_the_shader() {
    let module = validate("cube_view.wgsl", SHADER);
    let mut layouter = naga::proc::Layouter::default();
    layouter.update(module.to_ctx()).unwrap();
    let (_, u) = module
        .global_variables
        .iter()
        .find(|(_, g)| g.name.as_deref() == Some("u"))
        .expect("uniform `u`");
    assert_eq!(
        layouter[u.ty].size as usize,
        std::mem::size_of::<CubeViewUniforms>()
    );
    for entry in ["vs_frame", "fs_frame", "vs_line", "fs_line"] {
        assert!(
            module.entry_points.iter().any(|e| e.name == entry),
            "{entry}"
        );
    }
}

#[test]
fn a_broken_shader_is_caught() {
    let broken = SHADER.replace(
        "u.view_proj * vec4<f32>(v.position, 1.0)",
        "u.view_proj * v.position",
    );
    let module = naga::front::wgsl::parse_str(&broken);
    let invalid = match module {
        Err(_) => true,
        Ok(m) => naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::empty(),
        )
        .validate(&m)
        .is_err(),
    };
    assert!(invalid);
}
