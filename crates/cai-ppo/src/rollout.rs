//! Rollouts: sampling responses with the KV-cache engine, and teacher-forced log-probs and values
//! of the sampled tokens.
//!
//! Each sample's request has its own seed, a pure function of `(seed, step, prompt, k)`, so a
//! resumed run samples what an uninterrupted one would. Log-probs are recomputed by a forward
//! pass at the sampling temperature (`log softmax(z / T)`), so at the rollout policy they equal the
//! sampler's (NeMo recomputes too, but without the temperature — the trl#4159 pitfall).

use burn::tensor::{Int, Tensor, TensorData};
use cai_model::model::rope::RopeTables;
use cai_model::{
    CausalLm, Engine, FinishReason, GenerationRequest, LoadedModel, Prompt, RewardModel,
    SamplingParams, TokenBatch,
};
use cai_train::{LogprobOptions, token_logprobs};

use crate::error::Result;

/// One sampled response.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Index of its prompt in the run's prompt list.
    pub prompt: usize,
    /// The prompt's token ids.
    pub prompt_ids: Vec<u32>,
    /// Generated ids, the end token included when the sample ended.
    pub response: Vec<u32>,
    /// Generated text, without the end token.
    pub text: String,
    /// Whether the policy ended the response (rather than the token limit).
    pub ended: bool,
    /// The sampler's log-prob of each generated token (at the sampling temperature).
    pub sampler_logprobs: Vec<f32>,
}

/// How rollouts are sampled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RolloutSettings {
    /// New tokens at most.
    pub max_new_tokens: usize,
    /// Sampling temperature.
    pub temperature: f32,
    /// Top-k (0 = off).
    pub top_k: usize,
    /// Top-p (1 = off).
    pub top_p: f32,
    /// Sequences generated together.
    pub micro_batch: usize,
    /// The run's seed.
    pub seed: u64,
}

/// The seed of sample `k` of `prompt` at `step`.
pub fn sample_seed(seed: u64, step: u64, prompt: usize, k: usize) -> u64 {
    let mut x = seed ^ 0x5851_F42D_4C95_7F2D;
    for part in [step, prompt as u64, k as u64] {
        x = (x ^ part).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        x ^= x >> 29;
    }
    x
}

/// Samples `group` responses to each of `prompts` (`(index, ids)`) with `model`, whose decoder is
/// the policy to sample from; the engine borrows the model and gives it back.
pub fn generate(
    model: LoadedModel,
    prompts: &[(usize, &[u32])],
    group: usize,
    settings: RolloutSettings,
    step: u64,
) -> Result<(LoadedModel, Vec<Sample>)> {
    let jobs: Vec<(usize, &[u32], u64)> = prompts
        .iter()
        .flat_map(|&(index, ids)| {
            (0..group).map(move |k| (index, ids, sample_seed(settings.seed, step, index, k)))
        })
        .collect();
    // At most a micro-batch of rows decode together; a finished row takes the next job at once
    // (continuous batching), so one long answer does not hold the others' rows.
    let engine = Engine::new(model).with_max_batch(settings.micro_batch);
    let requests: Vec<GenerationRequest> = jobs
        .iter()
        .map(|&(_, ids, seed)| GenerationRequest {
            prompt: Prompt::Tokens(ids.to_vec()),
            params: SamplingParams {
                temperature: settings.temperature,
                top_k: settings.top_k,
                top_p: settings.top_p,
                min_tokens_to_generate: 1,
                tokens_to_generate: settings.max_new_tokens,
                random_seed: Some(seed),
                ..SamplingParams::default()
            },
        })
        .collect();
    let generations = engine.generate(&requests)?;
    let samples = jobs
        .iter()
        .zip(generations)
        .map(|(&(prompt, ids, _), g)| Sample {
            prompt,
            prompt_ids: ids.to_vec(),
            ended: g.finish_reason != FinishReason::Length,
            response: g.token_ids,
            text: g.text,
            sampler_logprobs: g.sampling_logprobs,
        })
        .collect();
    let model = engine
        .into_model()
        .unwrap_or_else(|_| unreachable!("the engine was the model's only owner"));
    Ok((model, samples))
}

/// Samples laid out for one teacher-forced forward: right-padded `prompt + response` sequences,
/// the `(row, position)` of the hidden state that predicts each response token, and its id.
#[derive(Debug, Clone, PartialEq)]
pub struct Packed {
    /// `prompt + response` per sample.
    pub seqs: Vec<Vec<u32>>,
    /// For response token `j` of sample `r`: `(r, prompt_len − 1 + j)`, samples in order.
    pub picks: Vec<(usize, usize)>,
    /// The response tokens, in the order of `picks`.
    pub targets: Vec<i64>,
    /// Response tokens per sample.
    pub lens: Vec<usize>,
}

impl Packed {
    /// Packs `samples`.
    pub fn new(samples: &[&Sample]) -> Self {
        let mut packed = Self {
            seqs: Vec::with_capacity(samples.len()),
            picks: Vec::new(),
            targets: Vec::new(),
            lens: Vec::with_capacity(samples.len()),
        };
        for (r, s) in samples.iter().enumerate() {
            let p = s.prompt_ids.len();
            packed
                .seqs
                .push([&s.prompt_ids[..], &s.response[..]].concat());
            packed
                .picks
                .extend((0..s.response.len()).map(|j| (r, p - 1 + j)));
            packed.targets.extend(s.response.iter().map(|&t| t as i64));
            packed.lens.push(s.response.len());
        }
        packed
    }

    /// The token-batch of the sequences.
    pub fn batch(&self, pad: u32) -> TokenBatch {
        TokenBatch::right_padded(&self.seqs, pad)
    }

    /// Cuts a flat per-token vector (in `picks` order) into one vector per sample.
    pub fn split<T: Clone>(&self, flat: &[T]) -> Vec<Vec<T>> {
        let mut at = 0;
        self.lens
            .iter()
            .map(|&n| {
                let part = flat[at..at + n].to_vec();
                at += n;
                part
            })
            .collect()
    }

    /// The seqs as slices.
    pub fn seq_refs(&self) -> Vec<&[u32]> {
        self.seqs.iter().map(Vec::as_slice).collect()
    }
}

/// The final hidden states that predict the response tokens of `packed`, `[tokens, hidden]`
/// (differentiable on an autodiff device).
pub fn response_rows(lm: &CausalLm, rope: &RopeTables, packed: &Packed, pad: u32) -> Tensor<2> {
    let hidden = lm.forward_hidden(&packed.batch(pad), rope, None);
    let [b, t, d] = hidden.dims();
    let flat: Vec<i64> = packed
        .picks
        .iter()
        .map(|&(r, p)| (r * t + p) as i64)
        .collect();
    let n = flat.len();
    let index = Tensor::<1, Int>::from_data(TensorData::new(flat, [n]), &lm.device());
    hidden.reshape([b * t, d]).select(0, index)
}

/// Teacher-forced `log softmax(z / temperature)` of every response token of `samples`, `micro`
/// samples per forward, without a graph.
pub fn logprobs(
    lm: &CausalLm,
    rope: &RopeTables,
    samples: &[&Sample],
    temperature: f32,
    micro: usize,
    pad: u32,
) -> Vec<Vec<f32>> {
    let mut opts = LogprobOptions::for_model(lm);
    opts.temperature = temperature;
    let mut out = Vec::with_capacity(samples.len());
    for chunk in samples.chunks(micro.max(1)) {
        let packed = Packed::new(chunk);
        let rows = response_rows(lm, rope, &packed, pad);
        let flat = token_logprobs(lm, rows, &packed.targets, opts);
        out.extend(packed.split(&flat));
    }
    out
}

/// The critic's value before each response token of `samples`, `micro` samples per forward.
pub fn values(
    critic: &RewardModel,
    rope: &RopeTables,
    samples: &[&Sample],
    micro: usize,
    pad: u32,
) -> Vec<Vec<f32>> {
    let mut out = Vec::with_capacity(samples.len());
    for chunk in samples.chunks(micro.max(1)) {
        let packed = Packed::new(chunk);
        let v = critic.values(rope, &packed.seq_refs(), pad, &packed.picks);
        out.extend(packed.split(&f32s(v)));
    }
    out
}

/// A tensor's values as f32.
pub fn f32s(t: Tensor<1>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(prompt: &[u32], response: &[u32]) -> Sample {
        Sample {
            prompt: 0,
            prompt_ids: prompt.to_vec(),
            response: response.to_vec(),
            text: String::new(),
            ended: true,
            sampler_logprobs: Vec::new(),
        }
    }

    #[test]
    fn packing_picks_the_position_before_each_response_token() {
        let (a, b) = (sample(&[1, 2], &[3, 4, 5]), sample(&[7], &[8]));
        let p = Packed::new(&[&a, &b]);
        assert_eq!(p.picks, [(0, 1), (0, 2), (0, 3), (1, 0)]);
        assert_eq!(p.targets, [3, 4, 5, 8]);
        assert_eq!(p.split(&[1, 2, 3, 4]), [vec![1, 2, 3], vec![4]]);
    }

    #[test]
    fn seeds_differ_by_step_prompt_and_sample() {
        let s = |a, b, c| sample_seed(7, a, b, c);
        let all = [s(0, 0, 0), s(1, 0, 0), s(0, 1, 0), s(0, 0, 1)];
        for i in 0..all.len() {
            for j in i + 1..all.len() {
                assert_ne!(all[i], all[j]);
            }
        }
    }
}
