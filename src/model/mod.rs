//! Networks and checkpoints (candle only here): backbones named as in torchvision, the
//! adaptive models built from them, FLOPs as the papers count them, and readers for what
//! PyTorch writes.

pub mod ada3d;
pub mod ada3d_config;
pub mod ada3d_focus;
pub mod arch;
pub mod backbones;
pub mod checkpoint;
pub mod classifier;
pub mod config;
pub mod conv3d;
pub(crate) mod conv_cpu;
pub(crate) mod depthwise;
pub(crate) mod depthwise_taps;
pub mod device;
pub mod flops;
pub mod inspect;
pub(crate) mod keys;
pub mod layers;
pub mod layers3d;
pub mod load;
pub mod official_logits;
pub mod patch;
pub mod policy;
mod torch_pth;
mod torch_zip;
pub mod uni_adafocus;
mod unpickle;
