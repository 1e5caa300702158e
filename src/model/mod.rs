//! Networks and checkpoints (candle only here): backbones named as in torchvision, FLOPs as the
//! papers count them, and readers for what PyTorch writes.

pub mod backbones;
pub mod checkpoint;
pub mod conv3d;
pub mod flops;
pub mod layers;
pub mod official_logits;
pub mod patch;
mod torch_pth;
mod torch_zip;
