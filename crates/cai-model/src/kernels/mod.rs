//! The hand-written CPU kernels, behind one module: [`fused`] (grouped-query attention and SwiGLU
//! with their own backward steps, the one-pass AdamW update, vectorised row math) and [`skinny`]
//! (decode GEMMs with few rows). Each falls back to burn's ops where it does not apply, and an
//! environment switch turns it off (`CAI_FUSED_KERNELS=0`, `CAI_SKINNY_KERNELS=0`).
//!
//! Only the model core and `cai-train` (the optimizer and the token log-prob loss) use this
//! module; `cargo xtask tidy` checks that no other crate names it. Stages see the decoder, not
//! its kernels.

pub mod fused;
pub mod skinny;
mod switch;
