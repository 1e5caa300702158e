//! safetensors files and config resolution: the first byte picks what the rest is.
//! 0: a safetensors file, read and, when it holds a config, opened as a model.
//! otherwise: a JSON config sidecar beside a real tiny checkpoint, resolved, bounded and built.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use adalens::model::checkpoint::StateDict;
use adalens::{ConfigOverrides, LoadedModel};
use candle_core::Device;
mod alloc_guard;

use libfuzzer_sys::fuzz_target;

/// A temp folder holding a copy of the tiny Ada3D-Focus fixture as `m.safetensors`.
fn folder() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("adalens-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/model/ada3d_focus_tiny.safetensors");
        std::fs::copy(fixture, dir.join("m.safetensors")).expect("fixture");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let dir = folder();
    if mode == 0 {
        let path = dir.join("fuzzed.safetensors");
        if let Ok(sd) = StateDict::from_bytes(&path, rest) {
            if sd.metadata.contains_key("adalens.config") && std::fs::write(&path, rest).is_ok() {
                let _ = LoadedModel::open(&path, None, &ConfigOverrides::default(), &Device::Cpu);
            }
        }
    } else if std::fs::write(dir.join("m.json"), rest).is_ok() {
        let _ = LoadedModel::open(
            dir.join("m.safetensors"),
            None,
            &ConfigOverrides::default(),
            &Device::Cpu,
        );
    }
});
