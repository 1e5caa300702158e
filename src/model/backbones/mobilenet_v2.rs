//! MobileNetV2 (Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks",
//! CVPR 2018) with torchvision's structure and `state_dict` names (`features.{i}.conv.…`), so
//! the glance network of the official AdaFocus checkpoints loads without a key map.

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

use crate::model::flops::FlopCount;
use crate::model::layers::{classify, global_avg_pool, Act, ConvBn};

/// torchvision's `_make_divisible`: round to a multiple of 8, never below 90% of `v`.
pub fn make_divisible(v: f64, divisor: usize) -> usize {
    let d = divisor as f64;
    let mut new_v = ((v + d / 2.0) as usize / divisor * divisor).max(divisor);
    if (new_v as f64) < 0.9 * v {
        new_v += divisor;
    }
    new_v
}

/// Which `state_dict` names the weights use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Naming {
    /// torchvision's `mobilenet_v2`: `features.{i}.conv.{0.0, 0.1, 1.0, 1.1, 2, 3}`,
    /// `classifier.1`.
    #[default]
    Torchvision,
    /// The variant in the official AdaFocusV2 / Uni-AdaFocus code (after tonylins'
    /// pytorch-mobilenet-v2): one flat `conv` Sequential with the ReLU6 slots counted
    /// (`conv.{0,1,3,4,6,7}`), and a bare `classifier`. Same network at width 1.0.
    AdaFocus,
}

/// (expansion t, channels c, repeats n, first stride s) of the paper's Table 2.
pub const SETTING: [(usize, usize, usize, usize); 7] = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
];

/// Index of the last `features` block (the 1×1 convolution to the feature dimension):
/// the stem is `features.0`, the inverted residuals `features.1..=17`.
pub const LAST_FEATURE: usize = 18;

/// Channels and side of the output of `features.{index}` for a `side`² input at `width_mult`
/// (each stride-2 convolution, padding 1, halves the side rounding up); `None` past the last.
pub fn feature_shape(width_mult: f64, index: usize, side: usize) -> Option<(usize, usize)> {
    let mut s = side.div_ceil(2);
    let mut channels = make_divisible(32.0 * width_mult, 8);
    let mut i = 0;
    for (_, c, n, stride) in SETTING {
        for j in 0..n {
            if i == index {
                return Some((channels, s));
            }
            i += 1;
            if j == 0 && stride == 2 {
                s = s.div_ceil(2);
            }
            channels = make_divisible(c as f64 * width_mult, 8);
        }
    }
    match index {
        _ if index == i => Some((channels, s)),
        LAST_FEATURE => Some((make_divisible(1280.0 * width_mult.max(1.0), 8), s)),
        _ => None,
    }
}

#[derive(Debug, Clone)]
struct InvertedResidual {
    expand: Option<ConvBn>,
    depthwise: ConvBn,
    project: ConvBn,
    residual: bool,
}

impl InvertedResidual {
    fn new(
        inp: usize,
        oup: usize,
        stride: usize,
        t: usize,
        naming: Naming,
        vb: VarBuilder,
    ) -> Result<Self> {
        let hidden = (inp as f64 * t as f64).round() as usize;
        let c = vb.pp("conv");
        // (conv, BN) names of the expand, depthwise and project layers. torchvision, with
        // expansion: conv.0.0/0.1, conv.1.0/1.1, conv.2/3; without: conv.0.0/0.1, conv.1/2.
        // AdaFocus: conv.0/1, conv.3/4, conv.6/7; without: conv.0/1, conv.3/4.
        let names: [(&str, &str); 3] = match (naming, t != 1) {
            (Naming::Torchvision, true) => [("0.0", "0.1"), ("1.0", "1.1"), ("2", "3")],
            (Naming::Torchvision, false) => [("", ""), ("0.0", "0.1"), ("1", "2")],
            (Naming::AdaFocus, true) => [("0", "1"), ("3", "4"), ("6", "7")],
            (Naming::AdaFocus, false) => [("", ""), ("0", "1"), ("3", "4")],
        };
        let expand = if t != 1 {
            Some(ConvBn::new(
                inp,
                hidden,
                1,
                1,
                1,
                Act::Relu6,
                c.pp(names[0].0),
                c.pp(names[0].1),
            )?)
        } else {
            None
        };
        let depthwise = ConvBn::new(
            hidden,
            hidden,
            3,
            stride,
            hidden,
            Act::Relu6,
            c.pp(names[1].0),
            c.pp(names[1].1),
        )?;
        let project = ConvBn::new(
            hidden,
            oup,
            1,
            1,
            1,
            Act::None,
            c.pp(names[2].0),
            c.pp(names[2].1),
        )?;
        Ok(Self {
            expand,
            depthwise,
            project,
            residual: stride == 1 && inp == oup,
        })
    }

    fn flops(&self, name: &str, hw: (usize, usize), count: &mut FlopCount) -> (usize, usize) {
        let hw = match &self.expand {
            Some(e) => e.flops(&format!("{name}.expand"), hw, count),
            None => hw,
        };
        let hw = self
            .depthwise
            .flops(&format!("{name}.depthwise"), hw, count);
        self.project.flops(&format!("{name}.project"), hw, count)
    }
}

impl Module for InvertedResidual {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = match &self.expand {
            Some(e) => e.forward(x)?,
            None => x.clone(),
        };
        let y = self.depthwise.forward(&y)?;
        if self.residual {
            self.project.forward_residual(&y, x)
        } else {
            self.project.forward(&y)
        }
    }
}

#[derive(Debug, Clone)]
pub struct MobileNetV2 {
    stem: ConvBn,
    blocks: Vec<InvertedResidual>,
    head: ConvBn,
    classifier: Option<candle_nn::Linear>,
}

impl MobileNetV2 {
    /// `vb` is the network's root (its `features` and, when `num_classes` is given,
    /// `classifier.1`), with torchvision's names.
    pub fn new(width_mult: f64, num_classes: Option<usize>, vb: VarBuilder) -> Result<Self> {
        Self::with_naming(width_mult, num_classes, Naming::Torchvision, vb)
    }

    /// As [`MobileNetV2::new`], for weights saved under `naming`.
    pub fn with_naming(
        width_mult: f64,
        num_classes: Option<usize>,
        naming: Naming,
        vb: VarBuilder,
    ) -> Result<Self> {
        let f = vb.pp("features");
        let mut inp = make_divisible(32.0 * width_mult, 8);
        let last = make_divisible(1280.0 * width_mult.max(1.0), 8);
        let stem = ConvBn::new(3, inp, 3, 2, 1, Act::Relu6, f.pp("0.0"), f.pp("0.1"))?;
        let mut blocks = Vec::new();
        for (t, c, n, s) in SETTING {
            let oup = make_divisible(c as f64 * width_mult, 8);
            for i in 0..n {
                blocks.push(InvertedResidual::new(
                    inp,
                    oup,
                    if i == 0 { s } else { 1 },
                    t,
                    naming,
                    f.pp(blocks.len() + 1),
                )?);
                inp = oup;
            }
        }
        let idx = blocks.len() + 1;
        let head = ConvBn::new(
            inp,
            last,
            1,
            1,
            1,
            Act::Relu6,
            f.pp(format!("{idx}.0")),
            f.pp(format!("{idx}.1")),
        )?;
        let head_name = match naming {
            Naming::Torchvision => "classifier.1",
            Naming::AdaFocus => "classifier",
        };
        let classifier = num_classes
            .map(|n| candle_nn::linear(last, n, vb.pp(head_name)))
            .transpose()?;
        Ok(Self {
            stem,
            blocks,
            head,
            classifier,
        })
    }

    /// Channels of the last feature map (and of the pooled vector).
    pub fn feature_dim(&self) -> usize {
        self.head.out_channels()
    }

    /// The last feature map, N×C×h×w.
    pub fn forward_features(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.features_and_tap(x, LAST_FEATURE)?.0)
    }

    /// The last feature map and the output of `features.{tap}` (the same map when `tap` is
    /// [`LAST_FEATURE`]).
    fn features_and_tap(&self, x: &Tensor, tap: usize) -> Result<(Tensor, Tensor)> {
        let mut y = self.stem.forward(x)?;
        let mut tapped = (tap == 0).then(|| y.clone());
        for (i, b) in self.blocks.iter().enumerate() {
            y = b.forward(&y)?;
            if i + 1 == tap {
                tapped = Some(y.clone());
            }
        }
        let f = self.head.forward(&y)?;
        let tapped = tapped.unwrap_or_else(|| f.clone());
        Ok((f, tapped))
    }

    /// Feature map and its global average (N×C).
    pub fn features_and_pooled(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let f = self.forward_features(x)?;
        let pooled = global_avg_pool(&f)?;
        Ok((f, pooled))
    }

    /// Global average of the last feature map (N×C) and the output of `features.{tap}` (the
    /// last feature map itself when `tap` is [`LAST_FEATURE`]), as the trainable twin's
    /// `pooled_and_tap`.
    pub fn pooled_and_tap(&self, x: &Tensor, tap: usize) -> Result<(Tensor, Tensor)> {
        let (f, tapped) = self.features_and_tap(x, tap)?;
        Ok((global_avg_pool(&f)?, tapped))
    }

    /// Multiply-adds for one `h × w` image, without the classifier (as the papers count the
    /// glance network).
    pub fn flops(&self, hw: (usize, usize)) -> FlopCount {
        let mut count = FlopCount::default();
        let mut hw = self.stem.flops("features.0", hw, &mut count);
        for (i, b) in self.blocks.iter().enumerate() {
            hw = b.flops(&format!("features.{}", i + 1), hw, &mut count);
        }
        self.head.flops(
            &format!("features.{}", self.blocks.len() + 1),
            hw,
            &mut count,
        );
        count
    }
}

impl Module for MobileNetV2 {
    /// Logits when built with a classifier, else the pooled features.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (_, pooled) = self.features_and_pooled(x)?;
        classify(pooled, self.classifier.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    /// `feature_shape` is what the network's `features.{i}` really outputs.
    #[test]
    fn feature_shape_is_each_blocks_output_shape() {
        let dev = Device::Cpu;
        for (width, side) in [(0.1, 48), (0.25, 37), (1.0, 32)] {
            let vb = VarBuilder::zeros(DType::F32, &dev);
            let net = MobileNetV2::new(width, None, vb).unwrap();
            let x = Tensor::zeros((1, 3, side, side), DType::F32, &dev).unwrap();
            for tap in 0..=LAST_FEATURE {
                let (_, t) = net.pooled_and_tap(&x, tap).unwrap();
                let (_, c, h, w) = t.dims4().unwrap();
                assert_eq!(
                    feature_shape(width, tap, side),
                    Some((c, h)),
                    "{width} {tap}"
                );
                assert_eq!(h, w);
            }
            assert_eq!(feature_shape(width, LAST_FEATURE + 1, side), None);
        }
    }
}
