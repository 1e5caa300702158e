//! Networks and checkpoints (candle only here): backbones named as in torchvision, the
//! adaptive models built from them, FLOPs as the papers count them, and readers for what
//! PyTorch writes.

pub mod ada3d;
pub mod ada3d_config;
pub mod ada3d_focus;
pub(crate) mod arch;
pub mod backbones;
pub mod checkpoint;
pub(crate) mod classifier;
pub mod config;
pub mod conv3d;
pub(crate) mod conv_cpu;
pub(crate) mod depthwise;
pub(crate) mod depthwise_taps;
pub mod device;
pub(crate) mod flops;
pub(crate) mod inspect;
pub(crate) mod keys;
pub(crate) mod layers;
pub(crate) mod layers3d;
pub mod load;
pub mod official_logits;
pub mod patch;
pub mod policy;
mod torch_pth;
mod torch_zip;
pub mod uni_adafocus;
mod unpickle;
