//! Backbone networks, one file each, named as in torchvision so checkpoints load as they are.

pub mod mobilenet_v2;
pub mod resnet;
pub mod resnet3d;
