//! Model-side code: reading what PyTorch and candle produce.

pub mod official_logits;
