//! GGUF checkpoints seen through Hugging Face names: name mapping, dequantisation, and the undoing
//! of llama.cpp's Q/K row permutation.

use std::path::Path;

use super::{WeightSource, WeightTensor};
use crate::error::{ModelError, Result};
use crate::gguf::{GgufFile, GgufTensorInfo};

/// A GGUF file whose tensors are read under Hugging Face names.
pub struct GgufWeights<'a> {
    file: &'a GgufFile,
    n_heads: usize,
    n_kv_heads: usize,
}

impl<'a> GgufWeights<'a> {
    /// Wraps an opened GGUF file; the head counts are needed to un-permute Q and K.
    pub fn new(file: &'a GgufFile, n_heads: usize, n_kv_heads: usize) -> Self {
        Self {
            file,
            n_heads,
            n_kv_heads,
        }
    }
}

/// The GGUF name of a Hugging Face tensor name, and the head count to un-permute with (Q/K only).
fn gguf_name(hf: &str, n_heads: usize, n_kv_heads: usize) -> Option<(String, Option<usize>)> {
    match hf {
        "model.embed_tokens.weight" => return Some(("token_embd.weight".into(), None)),
        "model.norm.weight" => return Some(("output_norm.weight".into(), None)),
        "lm_head.weight" => return Some(("output.weight".into(), None)),
        _ => {}
    }
    let rest = hf.strip_prefix("model.layers.")?;
    let (layer, leaf) = rest.split_once('.')?;
    let (name, heads) = match leaf {
        "self_attn.q_proj.weight" => ("attn_q", Some(n_heads)),
        "self_attn.k_proj.weight" => ("attn_k", Some(n_kv_heads)),
        "self_attn.v_proj.weight" => ("attn_v", None),
        "self_attn.o_proj.weight" => ("attn_output", None),
        "mlp.gate_proj.weight" => ("ffn_gate", None),
        "mlp.up_proj.weight" => ("ffn_up", None),
        "mlp.down_proj.weight" => ("ffn_down", None),
        "input_layernorm.weight" => ("attn_norm", None),
        "post_attention_layernorm.weight" => ("ffn_norm", None),
        _ => return None,
    };
    Some((format!("blk.{layer}.{name}.weight"), heads))
}

/// Undoes llama.cpp's permutation of Q/K rows: within each head, GGUF row `2i + j` is HF row
/// `j · D/2 + i` (HF = `w.reshape(h, D/2, 2, in).swapaxes(1, 2)`).
///
/// # Panics
/// When `data` is not `rows × cols` values or `rows` is not `heads` heads of even width (the
/// GGUF loader checks both first).
pub fn unpermute_rows(data: &[f32], rows: usize, cols: usize, heads: usize) -> Vec<f32> {
    assert!(
        heads > 0 && rows.is_multiple_of(heads) && Some(data.len()) == rows.checked_mul(cols),
        "unpermute_rows: {} values are not {rows} rows × {cols} in {heads} heads",
        data.len()
    );
    let head_dim = rows / heads;
    let half = head_dim / 2;
    let mut out = vec![0f32; data.len()];
    for h in 0..heads {
        for i in 0..half {
            for j in 0..2 {
                let src = h * head_dim + 2 * i + j;
                let dst = h * head_dim + j * half + i;
                out[dst * cols..(dst + 1) * cols]
                    .copy_from_slice(&data[src * cols..(src + 1) * cols]);
            }
        }
    }
    out
}

impl GgufWeights<'_> {
    /// The GGUF tensor of `hf_name` and the head count to un-permute it with.
    fn info(&self, hf_name: &str) -> Option<(&GgufTensorInfo, Option<usize>)> {
        let (name, heads) = gguf_name(hf_name, self.n_heads, self.n_kv_heads)?;
        Some((self.file.tensor_info(&name)?, heads))
    }
}

impl WeightSource for GgufWeights<'_> {
    fn location(&self) -> &Path {
        self.file.path()
    }

    fn shape(&self, hf_name: &str) -> Result<Option<Vec<usize>>> {
        Ok(self.info(hf_name).map(|(info, _)| info.shape()))
    }

    fn read(&self, hf_name: &str) -> Result<Option<WeightTensor>> {
        let Some((info, heads)) = self.info(hf_name) else {
            return Ok(None);
        };
        let shape = info.shape();
        if let (Some(heads), [rows, _]) = (heads, shape.as_slice())
            && (heads == 0 || !rows.is_multiple_of(heads) || !(rows / heads).is_multiple_of(2))
        {
            // Checked before any data is read: `unpermute_rows` needs whole heads of even width.
            return Err(ModelError::format(
                self.file.path(),
                format!(
                    "tensor `{}`: {rows} rows do not split into {heads} heads of even width",
                    info.name
                ),
            ));
        }
        let mut data = self.file.read_f32(info)?;
        if let (Some(heads), [rows, cols]) = (heads, shape.as_slice()) {
            data = unpermute_rows(&data, *rows, *cols, heads);
        }
        Ok(Some(WeightTensor { shape, data }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpermute_matches_the_hf_reshape() {
        // One head, head_dim 4, one column: GGUF rows [a0 b0 a1 b1] → HF [a0 a1 b0 b1].
        let data = [0.0, 10.0, 1.0, 11.0];
        assert_eq!(unpermute_rows(&data, 4, 1, 1), vec![0.0, 1.0, 10.0, 11.0]);
    }

    #[test]
    fn names_map_both_ways() {
        let (n, h) = gguf_name("model.layers.3.self_attn.k_proj.weight", 9, 3).unwrap();
        assert_eq!((n.as_str(), h), ("blk.3.attn_k.weight", Some(3)));
        assert!(gguf_name("model.layers.3.rotary_emb.inv_freq", 9, 3).is_none());
    }
}
