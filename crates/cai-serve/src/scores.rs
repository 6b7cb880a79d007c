//! Teacher-forced log-probabilities of a finished generation: the whole sequence's per-token
//! log-probs (NeMo's `compute_logprob`) and the most likely alternatives at each generated
//! position (OpenAI's `top_logprobs`). Runs on the engine thread, one sequence at a time.

use cai_model::burn::tensor::activation::log_softmax;
use cai_model::burn::tensor::{DType, Int, Tensor, TensorData};
use cai_model::{LoadedModel, ModelError, TokenBatch};

/// Log-probs computed after generation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scores {
    /// `log p(seq[t+1] | seq[..=t])` over prompt + generation (`len - 1` values).
    pub sequence: Vec<f32>,
    /// For each generated token, the `top` most likely `(token id, log-prob)`, best first.
    pub top: Vec<Vec<(u32, f32)>>,
}

/// Scores `prompt + generated` in one forward pass, keeping `top` alternatives per generated token.
pub fn score(
    model: &LoadedModel,
    prompt: &[u32],
    generated: &[u32],
    top: usize,
) -> cai_model::Result<Scores> {
    let seq: Vec<u32> = prompt.iter().chain(generated).copied().collect();
    if seq.len() < 2 || prompt.is_empty() {
        return Ok(Scores {
            top: vec![Vec::new(); generated.len()],
            ..Scores::default()
        });
    }
    let logits = model
        .lm
        .forward(&TokenBatch::single(&seq), &model.rope, None);
    let [_, t, vocab] = logits.dims();
    let logp = log_softmax(logits.cast(DType::F32).slice([0..1, 0..t - 1, 0..vocab]), 2);
    let top_k = top.min(vocab);
    let top_rows = if top_k > 0 && !generated.is_empty() {
        let first = prompt.len() - 1;
        let rows = logp
            .clone()
            .slice([0..1, first..t - 1, 0..vocab])
            .topk_with_indices(top_k, 2);
        let values = to_vec_f32(rows.0.into_data())?;
        let ids = rows
            .1
            .into_data()
            .convert::<i64>()
            .try_to_vec::<i64>()
            .map_err(|e| ModelError::Invalid(format!("reading top-k ids: {e:?}")))?;
        ids.chunks(top_k)
            .zip(values.chunks(top_k))
            .map(|(i, v)| {
                i.iter()
                    .map(|&id| id as u32)
                    .zip(v.iter().copied())
                    .collect()
            })
            .collect()
    } else {
        vec![Vec::new(); generated.len()]
    };
    let targets: Vec<i64> = seq[1..].iter().map(|&id| id as i64).collect();
    let targets =
        Tensor::<3, Int>::from_data(TensorData::new(targets, [1, t - 1, 1]), &logp.device());
    let sequence = to_vec_f32(logp.gather(2, targets).into_data())?;
    Ok(Scores {
        sequence,
        top: top_rows,
    })
}

fn to_vec_f32(data: TensorData) -> cai_model::Result<Vec<f32>> {
    data.convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| ModelError::Invalid(format!("reading log-probs: {e:?}")))
}
