//! The four archs adalens runs and what each can decide. Callers ask an [`Arch`] what it can
//! do (a frame policy, 3D stages, cubes or patches, early exit) instead of matching arch names,
//! so a new arch is one more variant here and nothing else changes shape.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    /// Uni-AdaFocus / AdaFocusV3 with 2D patches: glance, focus frames, one patch per step.
    #[serde(rename = "uni_adafocus")]
    UniAdaFocus,
    /// Ada3D: a selection network keeps frames and turns 3D stages on or off, per clip.
    Ada3d,
    /// A bare 3D ResNet (every frame, every stage 3D): Ada3D without its selection network.
    #[serde(rename = "resnet3d")]
    ResNet3d,
    /// Ada3D's policies in front of AdaFocusV3's spatio-temporal cubes, with early exit.
    Ada3dFocus,
}

impl Arch {
    pub const ALL: [Arch; 4] = [
        Arch::UniAdaFocus,
        Arch::Ada3d,
        Arch::ResNet3d,
        Arch::Ada3dFocus,
    ];

    /// The name in configs, traces and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Arch::UniAdaFocus => "uni_adafocus",
            Arch::Ada3d => "ada3d",
            Arch::ResNet3d => "resnet3d",
            Arch::Ada3dFocus => "ada3d_focus",
        }
    }

    pub fn from_name(name: &str) -> Option<Arch> {
        Arch::ALL.into_iter().find(|a| a.name() == name)
    }

    /// A learned frame policy that discards frames (Ada3D's m_t against τ_f).
    pub fn has_frame_policy(self) -> bool {
        matches!(self, Arch::Ada3d | Arch::Ada3dFocus)
    }

    /// A learned stage policy that runs stages in 3D or 2D (Ada3D's n_k against τ_s).
    pub fn has_stage_policy(self) -> bool {
        matches!(self, Arch::Ada3d | Arch::Ada3dFocus)
    }

    /// Focus frames chosen by a temporal policy (Uni-AdaFocus), not by keeping or discarding.
    pub fn has_focus_frames(self) -> bool {
        self == Arch::UniAdaFocus
    }

    /// Spatio-temporal cubes, one per step, that the cube cap can limit.
    pub fn has_cubes(self) -> bool {
        self == Arch::Ada3dFocus
    }

    /// 2D patches, one per step, always all of them.
    pub fn has_patches(self) -> bool {
        self == Arch::UniAdaFocus
    }

    /// A prediction after every step that an exit rule can stop at (AdaFocusV3 §3.3).
    pub fn has_early_exit(self) -> bool {
        matches!(self, Arch::UniAdaFocus | Arch::Ada3dFocus)
    }

    /// What the run computes at the largest budget, in words; `None` for an arch that decides
    /// nothing about its compute.
    pub fn largest_run(self) -> Option<&'static str> {
        match self {
            Arch::Ada3dFocus => Some("Every frame, stage and cube"),
            Arch::Ada3d => Some("Every frame and 3D stage"),
            Arch::UniAdaFocus => Some("Every patch"),
            Arch::ResNet3d => None,
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for a in Arch::ALL {
            assert_eq!(Arch::from_name(a.name()), Some(a));
            assert_eq!(
                serde_json::to_string(&a).ok(),
                Some(format!("\"{}\"", a.name()))
            );
        }
        assert_eq!(Arch::from_name("resnet"), None);
    }
}
