//! What the report is assembled from: the measured points, handed to the targets and the
//! report alike (so neither imports the other).

use serde::Serialize;

use super::oracle::OracleBound;
use super::points::{ExitWhere, Point, PolicyPoint};
use super::VideoResult;
use crate::model::load::LoadedModel;

#[derive(Debug, Clone, Serialize)]
pub struct Placement {
    pub cube_frames: usize,
    pub learned_hit_rate: f64,
    pub random_hit_rate: f64,
    pub learned_mean_iou: f64,
    pub random_mean_iou: f64,
}

pub struct Parts<'a> {
    pub model: &'a LoadedModel,
    pub results: &'a [VideoResult],
    pub failed: usize,
    pub thresholds: [f32; 2],
    pub largest: PolicyPoint,
    pub every_cube: Point,
    pub policy_curve: Vec<PolicyPoint>,
    pub curve: Vec<Point>,
    pub half: Point,
    pub half_exit: Point,
    pub exit_point: Point,
    pub exit_where: ExitWhere,
    /// Steps run per video at `exit_point`.
    pub exit_point_exits: Vec<u16>,
    pub random_policy_top1: f64,
    pub random_policy_gflops: f64,
    pub oracle: OracleBound,
}
