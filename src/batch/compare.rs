//! Two batch runs over the same videos, side by side: per video, whether it flipped right→wrong
//! or wrong→right from A to B, and how its exit and GFLOPs moved (`adalens diff OUT_A OUT_B`).
//! Videos are paired by path; those in one run only are listed apart.

use serde::Serialize;

use super::table::{Decided, RowStatus, RunTable};

/// How one video's prediction changed from A to B (or from before a budget move to after).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flip {
    RightToWrong,
    WrongToRight,
}

impl Flip {
    /// The flip from correctness `before` to `after`, if either way.
    pub fn of(before: Option<bool>, after: Option<bool>) -> Option<Flip> {
        match (before, after) {
            (Some(true), Some(false)) => Some(Flip::RightToWrong),
            (Some(false), Some(true)) => Some(Flip::WrongToRight),
            _ => None,
        }
    }
}

/// One video in both runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VideoDiff {
    pub path: String,
    pub label: String,
    pub correct_a: Option<bool>,
    pub correct_b: Option<bool>,
    pub flip: Option<Flip>,
    pub exit_a: Option<u32>,
    pub exit_b: Option<u32>,
    pub gflops_a: f64,
    pub gflops_b: f64,
    pub top1_a: Option<String>,
    pub top1_b: Option<String>,
}

impl VideoDiff {
    pub fn is_same(&self) -> bool {
        self.correct_a == self.correct_b
            && self.exit_a == self.exit_b
            && self.top1_a == self.top1_b
            && (self.gflops_a - self.gflops_b).abs() < 1e-9
    }
}

/// Both runs compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunDiff {
    pub videos: Vec<VideoDiff>,
    /// Paths of videos that ran in one run only.
    pub only_a: Vec<String>,
    pub only_b: Vec<String>,
}

/// Compare `a` under the exits that gave `da` with `b` under those of `db`.
pub fn diff_runs(a: &RunTable, da: &[Decided], b: &RunTable, db: &[Decided]) -> RunDiff {
    let ran = |t: &RunTable| -> std::collections::HashMap<String, usize> {
        t.rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r.status == RowStatus::Ok)
            .map(|(i, r)| (r.path.clone(), i))
            .collect()
    };
    let (in_a, in_b) = (ran(a), ran(b));
    let mut videos = Vec::new();
    let mut only_a = Vec::new();
    for (i, r) in a.rows.iter().enumerate() {
        if r.status != RowStatus::Ok {
            continue;
        }
        let Some(&j) = in_b.get(&r.path) else {
            only_a.push(r.path.clone());
            continue;
        };
        let (x, y) = (&da[i], &db[j]);
        videos.push(VideoDiff {
            path: r.path.clone(),
            label: r.label.clone(),
            correct_a: x.correct,
            correct_b: y.correct,
            flip: Flip::of(x.correct, y.correct),
            exit_a: x.exit_step,
            exit_b: y.exit_step,
            gflops_a: x.gflops,
            gflops_b: y.gflops,
            top1_a: x.top1.map(|t| a.class_name(t.class)),
            top1_b: y.top1.map(|t| b.class_name(t.class)),
        });
    }
    let only_b = b
        .rows
        .iter()
        .filter(|r| r.status == RowStatus::Ok && !in_a.contains_key(&r.path))
        .map(|r| r.path.clone())
        .collect();
    RunDiff {
        videos,
        only_a,
        only_b,
    }
}
