//! The policies that decide where the local network looks: the temporal policy (which frames,
//! AdaFocusV3's frame weights and the quantile rule) and the spatial policy (which box in each
//! frame). Both read the glance network's outputs only.

pub mod spatial;
pub mod temporal;
