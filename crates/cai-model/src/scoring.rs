//! Teacher-forced scoring: per-token log-probabilities and the assistant-token mask of a chat.

use burn::tensor::activation::log_softmax;
use burn::tensor::{DType, Int, Tensor, TensorData};

use crate::chat::{Message, Role};
use crate::error::{ModelError, Result};
use crate::loaded::LoadedModel;
use crate::loss_mask::trained_spans;
use crate::model::TokenBatch;

/// A tokenized conversation with the tokens a chat SFT loss trains on.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatEncoding {
    /// Token ids of the rendered conversation.
    pub ids: Vec<u32>,
    /// `true` for tokens of an assistant message: its content and its end-of-turn token.
    pub assistant_mask: Vec<bool>,
}

impl LoadedModel {
    /// Log-probabilities `lp[t] = log p(ids[t+1] | ids[..=t])` for each sequence (batched,
    /// right-padded); a sequence of `n` tokens gets `n - 1` values.
    pub fn token_logprobs(&self, seqs: &[Vec<u32>]) -> Result<Vec<Vec<f32>>> {
        if seqs.iter().any(|s| s.len() > self.rope.max_positions()) {
            return Err(ModelError::Invalid(format!(
                "sequence longer than the model's {} positions",
                self.rope.max_positions()
            )));
        }
        let batch = TokenBatch::right_padded(seqs, 0);
        let (b, t) = (batch.batch_size(), batch.seq_len());
        if t < 2 {
            return Ok(vec![Vec::new(); b]);
        }
        let logits = self.lm.forward(&batch, &self.rope, None);
        let vocab = logits.dims()[2];
        let logp = log_softmax(logits.cast(DType::F32).slice([0..b, 0..t - 1, 0..vocab]), 2);
        let targets: Vec<i64> = (0..b)
            .flat_map(|r| {
                batch.row(r)[1..]
                    .iter()
                    .map(|&id| id as i64)
                    .collect::<Vec<_>>()
            })
            .collect();
        let device = logp.device();
        let targets = Tensor::<3, Int>::from_data(TensorData::new(targets, [b, t - 1, 1]), &device);
        let picked = logp.gather(2, targets).reshape([b * (t - 1)]);
        let values = picked
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| ModelError::Invalid(format!("{e:?}")))?;
        Ok(seqs
            .iter()
            .enumerate()
            .map(|(r, s)| values[r * (t - 1)..r * (t - 1) + s.len().saturating_sub(1)].to_vec())
            .collect())
    }

    /// Teacher-forced log-probabilities of each continuation given its prompt (batched):
    /// `out[i][j] = log p(continuation[j] | prompt, continuation[..j])`.
    pub fn score_continuations(&self, pairs: &[(Vec<u32>, Vec<u32>)]) -> Result<Vec<Vec<f32>>> {
        if let Some(i) = pairs.iter().position(|(p, _)| p.is_empty()) {
            return Err(ModelError::Invalid(format!("pair {i}: empty prompt")));
        }
        let seqs: Vec<Vec<u32>> = pairs
            .iter()
            .map(|(p, c)| p.iter().chain(c).copied().collect())
            .collect();
        let all = self.token_logprobs(&seqs)?;
        Ok(pairs
            .iter()
            .zip(all)
            .map(|((p, _), lp)| lp[p.len() - 1..].to_vec())
            .collect())
    }

    /// The token that ends every sequence a reward model scores: the template's EOS, else the
    /// first stop id.
    pub fn scored_eos_id(&self) -> u32 {
        self.tokenizer
            .token_to_id(&self.special_tokens.eos)
            .or_else(|| self.stop_token_ids().first().copied())
            .unwrap_or(0)
    }

    /// `text` as ids ending in [`LoadedModel::scored_eos_id`] (trailing whitespace dropped first,
    /// EOS appended when missing), so training and scoring a reward model read the same token.
    pub fn encode_scored_text(&self, text: &str) -> Result<Vec<u32>> {
        let mut ids = self.tokenizer.encode_raw(text.trim_end())?;
        let eos = self.scored_eos_id();
        if ids.last() != Some(&eos) {
            ids.push(eos);
        }
        Ok(ids)
    }

    /// `prompt` followed by the assistant's `answer`, rendered with the chat template.
    pub fn render_answer(&self, prompt: &[Message], answer: &str) -> Result<String> {
        let mut messages = prompt.to_vec();
        messages.push(Message::assistant(answer));
        self.template()?.render(&messages, false)
    }

    /// Renders a conversation (no generation prompt) and marks the assistant tokens.
    ///
    /// The spans come from incremental rendering ([`crate::loss_mask`]): the text an assistant
    /// message adds to the conversation, cut after the model's end-of-turn token when the template
    /// writes one.
    pub fn encode_chat_with_mask(&self, messages: &[Message]) -> Result<ChatEncoding> {
        let template = self.template()?;
        let full = template.render(messages, false)?;
        let eos = self.special_tokens.eos.as_str();
        let spans = trained_spans(template, messages, &full, eos, |i| {
            messages[i].role == Role::Assistant
        })?;
        let (ids, offsets) = self.tokenizer.encode_raw_with_offsets(&full)?;
        let assistant_mask = offsets
            .iter()
            .map(|&(start, end)| start < end && spans.iter().any(|s| s.contains(&start)))
            .collect();
        Ok(ChatEncoding {
            ids,
            assistant_mask,
        })
    }
}

/// Mean negative log-likelihood of the masked tokens, given `lp` from
/// [`LoadedModel::token_logprobs`] (`lp[t]` scores token `t + 1`); `None` when nothing is masked.
pub fn masked_mean_nll(logprobs: &[f32], mask: &[bool]) -> Option<f64> {
    let (sum, n) = mask
        .iter()
        .skip(1)
        .zip(logprobs)
        .filter(|(m, _)| **m)
        .fold((0f64, 0usize), |(s, n), (_, lp)| (s - *lp as f64, n + 1));
    (n > 0).then(|| sum / n as f64)
}

#[cfg(test)]
mod tests {
    use super::masked_mean_nll;

    #[test]
    fn mean_nll_uses_shifted_mask() {
        // Token 2 is masked in; it is scored by lp[1].
        assert_eq!(
            masked_mean_nll(&[-1.0, -3.0], &[false, false, true]),
            Some(3.0)
        );
        assert_eq!(masked_mean_nll(&[-1.0], &[true, false]), None);
    }
}
