//! Upper bounds on what a configuration may declare, far above every released Llama/Mistral model
//! and far below sizes whose allocations would abort the process. Checked by
//! [`ModelConfig::from_hf`](super::ModelConfig::from_hf) and
//! [`ModelConfig::from_gguf`](super::ModelConfig::from_gguf), with an error naming the file, the field and the limit.

use std::path::Path;

use crate::error::{ModelError, Result};

/// Decoder layers (Llama 3.1 405B has 126).
pub const MAX_LAYERS: usize = 1024;
/// Query heads, and key/value heads (405B has 128).
pub const MAX_HEADS: usize = 1024;
/// Width of one head (released models use 64–256).
pub const MAX_HEAD_DIM: usize = 1024;
/// Residual width (405B: 16,384).
pub const MAX_HIDDEN: usize = 65_536;
/// SwiGLU width (405B: 53,248).
pub const MAX_INTERMEDIATE: usize = 262_144;
/// Vocabulary rows (the largest released vocabularies have about 262k tokens).
pub const MAX_VOCAB: usize = 1 << 22;
/// Context length, `max_position_embeddings` / `{arch}.context_length` (1,048,576; the RoPE
/// tables for it are allocated at load, fallibly).
pub const MAX_POSITIONS: usize = 1 << 20;

/// `value` of `field`, or an error naming `path`, the field and `max` when it is larger.
pub(crate) fn at_most(path: &Path, field: &str, value: usize, max: usize) -> Result<usize> {
    if value > max {
        return Err(ModelError::config(
            path,
            field,
            format!("{value} exceeds the limit of {max}"),
        ));
    }
    Ok(value)
}

/// A special token id of `field`, which must be a row of the `vocab`-row embedding.
pub(crate) fn token_id(path: &Path, field: &str, id: u64, vocab: usize) -> Result<u32> {
    match u32::try_from(id) {
        Ok(v) if (v as usize) < vocab => Ok(v),
        _ => Err(ModelError::config(
            path,
            field,
            format!("token id {id} is outside the vocabulary of {vocab} tokens"),
        )),
    }
}

/// A finite, positive float of `field`.
pub(crate) fn positive(path: &Path, field: &str, value: f64) -> Result<f64> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(ModelError::config(
            path,
            field,
            format!("{value} is not a finite positive number"),
        ))
    }
}
