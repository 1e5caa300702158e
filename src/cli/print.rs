//! What `inspect` and `inspect-checkpoint` print for every arch (the 3D archs' own parts are in
//! `inspect_3d.rs`; both use these).

use crate::decision::trace::{ClipTrace, Cube, DecisionTrace};
use crate::model::load::LoadedModel;

/// One line per step: where its cube (patch) sits (`cube_column`: its frame, or its frames),
/// its box, the top-1 class with its probability, the entropy and the GFLOPs so far.
pub fn print_steps(
    trace: &DecisionTrace,
    clip: &ClipTrace,
    column: &str,
    cube_column: impl Fn(&Cube) -> String,
) {
    let width = clip
        .cubes
        .iter()
        .map(|c| cube_column(c).len())
        .chain([column.len(), 6])
        .max()
        .unwrap_or(6);
    println!(
        "step  {column:<width$}  box (x1,y1)-(x2,y2) px      top-1                    p      entropy  GFLOPs"
    );
    for s in &clip.steps {
        let (at, boxs) = match s.step {
            0 => ("glance".to_string(), String::new()),
            k => match clip.cubes.get(k - 1) {
                Some(c) => {
                    let r = c.region.unwrap_or_default();
                    (
                        cube_column(c),
                        format!("({:.0},{:.0})-({:.0},{:.0})", r[0], r[1], r[2], r[3]),
                    )
                }
                None => (String::new(), String::new()),
            },
        };
        let top = s.top.first();
        println!(
            "{:>4}  {at:<width$}  {boxs:<26}  {:<24} {:>6.3}  {:>7.3}  {:>6.3}",
            s.step,
            top.map(|t| trace.class_name(t.class)).unwrap_or_default(),
            top.map(|t| t.prob).unwrap_or(0.0),
            s.entropy,
            s.cumulative_gflops
        );
    }
}

/// `inspect-checkpoint --json` for any arch: what every checkpoint has, then `extra` (an
/// object of the arch's own fields).
pub fn checkpoint_json(model: &LoadedModel, extra: serde_json::Value) -> anyhow::Result<String> {
    let mut out = serde_json::json!({
            "path": model.path,
            "format": model.format,
            "arch": model.arch(),
            "config_source": model.config_source,
            "config": model.config,
            "tensors_in_file": model.tensors_in_file,
            "tensors_used": model.tensors_used,
            "parameters": model.parameters.iter().map(|(p, n)| serde_json::json!({"part": p, "count": n})).collect::<Vec<_>>(),
    });
    if let (Some(obj), serde_json::Value::Object(more)) = (out.as_object_mut(), extra) {
        obj.extend(more);
    }
    Ok(serde_json::to_string_pretty(&out)?)
}

/// The first lines of `inspect-checkpoint`: file, format, arch, where the config came from,
/// how many tensors were used.
pub fn print_checkpoint_head(model: &LoadedModel) {
    println!("checkpoint  {} ({})", model.path.display(), model.format);
    println!(
        "arch        {} (config: {})",
        model.arch(),
        model.config_source
    );
    println!(
        "tensors     {} in the file, {} used (the rest: training-only heads and BatchNorm counters)",
        model.tensors_in_file, model.tensors_used
    );
}

/// Parameters per top-level part and in all.
pub fn print_parameters(model: &LoadedModel) {
    println!("parameters");
    let total: usize = model.parameters.iter().map(|(_, n)| n).sum();
    for (part, n) in &model.parameters {
        println!("  {part:<18} {n:>12}");
    }
    println!("  {:<18} {total:>12}", "total");
}
