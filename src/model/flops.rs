//! FLOPs as the papers count them (docs/ARCHITECTURE.md §5): multiply-adds of convolutions and linear
//! layers, plus one per BatchNorm channel. That is how the official Uni-AdaFocus figures come
//! out (MobileNetV2 at 224²: 0.299494272 G of conv MACs + 17,056 BN channels = 0.299511328 G).

/// A running count of multiply-adds, with a per-layer record for breakdowns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlopCount {
    pub total: u64,
    pub layers: Vec<(String, u64)>,
}

impl FlopCount {
    pub fn add(&mut self, name: impl Into<String>, macs: u64) {
        self.total += macs;
        self.layers.push((name.into(), macs));
    }

    pub fn gflops(&self) -> f64 {
        self.total as f64 / 1e9
    }
}

/// Output side of a convolution along one axis.
pub fn conv_out(size: usize, kernel: usize, stride: usize, padding: usize) -> usize {
    (size + 2 * padding).saturating_sub(kernel) / stride + 1
}

/// Multiply-adds of a 2D convolution producing `out_c × out_h × out_w` from `in_c / groups`
/// input channels per output with a `k_h × k_w` kernel.
pub fn conv2d_macs(
    in_c: usize,
    out_c: usize,
    groups: usize,
    k_h: usize,
    k_w: usize,
    out_h: usize,
    out_w: usize,
) -> u64 {
    (out_c * out_h * out_w) as u64 * (in_c / groups.max(1) * k_h * k_w) as u64
}
