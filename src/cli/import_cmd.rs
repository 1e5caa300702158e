//! `adalens import`: a folder of traces logged elsewhere (the Python package's TraceBuilder,
//! or any program writing docs/trace.schema.json) as a batch run folder, for the dataset view,
//! `adalens query` and `adalens diff`.

use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// The folder of traces (`*.json`).
    pub traces: PathBuf,
    /// `path,label` lines labelling the traces' videos (default: `labels.csv` or `list.csv` in
    /// the folder, if there).
    pub list: Option<PathBuf>,
    /// The run folder to write (what `adalens OUT` opens in the dataset view).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(a: &ImportArgs) -> anyhow::Result<()> {
    let list = a
        .list
        .clone()
        .or_else(|| crate::batch::import::default_list(&a.traces));
    let r = crate::batch::import::import_traces(&a.traces, list.as_deref(), &a.out)?;
    for (p, why) in &r.skipped {
        eprintln!("skipped {}: {why}", p.display());
    }
    println!(
        "{}: {} traces, {} videos of the list without one, {} files skipped",
        a.out.display(),
        r.traces,
        r.missing,
        r.skipped.len()
    );
    Ok(())
}
