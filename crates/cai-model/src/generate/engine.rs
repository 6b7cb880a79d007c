//! The in-process generation engine: batched prefill with a KV cache, then token-by-token decode;
//! finished (and cancelled) rows leave the batch so they stop costing compute.
//!
//! The prefill runs in blocks of queries: one forward call's attention scores are
//! `batch × heads × block × prompt_len` floats, so a block is sized to keep them within the
//! engine's prefill budget ([`DEFAULT_PREFILL_SCORES`]) instead of the `batch × heads × len²` a
//! single pass would need. Short batches fit in one block and run exactly as one pass.

use burn::tensor::{DType, Tensor};

use rayon::prelude::*;

use super::feed::{Admission, Feed, ListFeed, Running};
use super::sampler::{Sampler, logprob_of, penalized_tokens, scaled_logprob};
use super::stop::{find_stop, holdback};
use super::{FinishReason, Generation, GenerationRequest, Prompt, StreamDelta};
use crate::error::{ModelError, Result};
use crate::loaded::LoadedModel;
use crate::model::{KvCache, TokenBatch};

/// Attention-score floats one prefill forward call may hold by default: 2^26 (256 MiB in f32).
pub const DEFAULT_PREFILL_SCORES: usize = 1 << 26;

/// Generates with a [`LoadedModel`] held in process (cloning shares the model).
#[derive(Debug, Clone)]
pub struct Engine {
    model: std::sync::Arc<LoadedModel>,
    prefill_scores: usize,
    max_batch: usize,
}

/// One sequence being decoded.
struct Row {
    index: usize,
    prompt: Vec<u32>,
    generated: Vec<u32>,
    logprobs: Vec<f32>,
    sampling_logprobs: Vec<f32>,
    sampler: Sampler,
    text: String,
    streamed: usize,
    finish: Option<(FinishReason, Option<String>)>,
}

impl Row {
    fn new(a: Admission) -> Self {
        Self {
            index: a.index,
            prompt: a.prompt,
            generated: Vec::new(),
            logprobs: Vec::new(),
            sampling_logprobs: Vec::new(),
            sampler: Sampler::new(a.params),
            text: String::new(),
            streamed: 0,
            finish: None,
        }
    }

    /// Tokens this row may still feed to the cache: the pending one and those after it, except
    /// the last, which is sampled but never fed.
    fn feeds_left(&self) -> usize {
        self.sampler
            .params()
            .tokens_to_generate
            .saturating_sub(self.generated.len())
    }

    fn into_generation(self) -> Generation {
        let (finish_reason, stop_string) = self.finish.unwrap_or((FinishReason::Length, None));
        Generation {
            text: self.text,
            token_ids: self.generated,
            logprobs: self.logprobs,
            sampling_logprobs: self.sampling_logprobs,
            finish_reason,
            stop_string,
            prompt_tokens: self.prompt.len(),
        }
    }
}

impl Engine {
    /// Wraps a loaded model (owned or shared).
    pub fn new(model: impl Into<std::sync::Arc<LoadedModel>>) -> Self {
        Self {
            model: model.into(),
            prefill_scores: DEFAULT_PREFILL_SCORES,
            max_batch: usize::MAX,
        }
    }

    /// This engine decoding at most `rows` sequences together (at least 1): a longer list waits,
    /// and its sequences join the running batch as others finish (continuous batching).
    pub fn with_max_batch(mut self, rows: usize) -> Self {
        self.max_batch = rows.max(1);
        self
    }

    /// This engine with a prefill budget of `floats` attention scores per forward call (see the
    /// module docs); a block always holds at least one query.
    pub fn with_prefill_budget(mut self, floats: usize) -> Self {
        self.prefill_scores = floats;
        self
    }

    /// Queries per prefill block for `batch` prompts left-padded to `len` tokens: as many as keep
    /// `batch × heads × block × len` within the prefill budget, between 1 and `len`.
    pub fn prefill_block(&self, batch: usize, len: usize) -> usize {
        let heads = self.model.config.num_attention_heads.max(1);
        let per_query = batch
            .max(1)
            .saturating_mul(heads)
            .saturating_mul(len.max(1));
        (self.prefill_scores / per_query).clamp(1, len.max(1))
    }

    /// The model.
    pub fn model(&self) -> &LoadedModel {
        &self.model
    }

    /// The model back, when this engine was its only owner (a trainer lends its current policy
    /// to an engine for one rollout and takes it back).
    pub fn into_model(self) -> std::result::Result<LoadedModel, Self> {
        let (prefill_scores, max_batch) = (self.prefill_scores, self.max_batch);
        std::sync::Arc::try_unwrap(self.model).map_err(|model| Self {
            model,
            prefill_scores,
            max_batch,
        })
    }

    /// Token ids of a prompt: plain text gets BOS if the model wants one; a chat is rendered with
    /// the generation prompt.
    pub fn prompt_ids(&self, prompt: &Prompt) -> Result<Vec<u32>> {
        match prompt {
            Prompt::Text(text) => self.model.tokenizer.encode(text),
            Prompt::Chat(messages) => self.model.encode_chat(messages, true),
            Prompt::Tokens(ids) => Ok(ids.clone()),
        }
    }

    /// Checks `request` and returns its prompt ids: valid parameters, and a non-empty prompt of
    /// in-vocabulary ids that leaves room in the context for the requested new tokens.
    pub fn prepare(&self, request: &GenerationRequest) -> Result<Vec<u32>> {
        request.params.validate().map_err(ModelError::Invalid)?;
        let ids = self.prompt_ids(&request.prompt)?;
        if ids.is_empty() {
            return Err(ModelError::Invalid("the prompt is empty".into()));
        }
        let vocab = self.model.config.vocab_size;
        if let Some(bad) = ids.iter().find(|&&id| id as usize >= vocab) {
            return Err(ModelError::Invalid(format!(
                "token id {bad} is outside the vocabulary of {vocab}"
            )));
        }
        let limit = self.model.rope.max_positions();
        if ids.len() + request.params.tokens_to_generate > limit {
            return Err(ModelError::Invalid(format!(
                "{} prompt tokens + {} new tokens exceed the model's context of {limit}",
                ids.len(),
                request.params.tokens_to_generate
            )));
        }
        Ok(ids)
    }

    /// Generates a completion for every request (batched together).
    pub fn generate(&self, requests: &[GenerationRequest]) -> Result<Vec<Generation>> {
        self.generate_streaming(requests, &mut |_| {})
    }

    /// Like [`Engine::generate`], calling `on_delta` with new text as it becomes final (text that
    /// could still turn out to be part of an end string is held back).
    pub fn generate_streaming(
        &self,
        requests: &[GenerationRequest],
        on_delta: &mut dyn FnMut(StreamDelta),
    ) -> Result<Vec<Generation>> {
        self.generate_cancellable(requests, on_delta, &|_| false)
    }

    /// Like [`Engine::generate_streaming`], and request `i` leaves the batch at the next decode
    /// step (or prefill block) once `cancelled(i)` is true (its client has gone, say). Its
    /// [`Generation`] then holds what was generated so far, with [`FinishReason::Length`].
    pub fn generate_cancellable(
        &self,
        requests: &[GenerationRequest],
        on_delta: &mut dyn FnMut(StreamDelta),
        cancelled: &dyn Fn(usize) -> bool,
    ) -> Result<Vec<Generation>> {
        self.generate_list(requests, on_delta, cancelled, &mut |_| {})
    }

    /// Like [`Engine::generate`], calling `on_done(i)` as soon as request `i` finishes (for a
    /// progress bar: with [`Engine::with_max_batch`] they finish one by one, not all at the end).
    pub fn generate_counted(
        &self,
        requests: &[GenerationRequest],
        on_done: &mut dyn FnMut(usize),
    ) -> Result<Vec<Generation>> {
        self.generate_list(requests, &mut |_| {}, &|_| false, on_done)
    }

    fn generate_list(
        &self,
        requests: &[GenerationRequest],
        on_delta: &mut dyn FnMut(StreamDelta),
        cancelled: &dyn Fn(usize) -> bool,
        on_done: &mut dyn FnMut(usize),
    ) -> Result<Vec<Generation>> {
        let mut waiting = std::collections::VecDeque::with_capacity(requests.len());
        for (index, req) in requests.iter().enumerate() {
            let prompt = self.prepare(req).map_err(|e| match e {
                ModelError::Invalid(message) => {
                    ModelError::Invalid(format!("request {index}: {message}"))
                }
                other => other,
            })?;
            waiting.push_back(Admission {
                index,
                prompt,
                params: req.params.clone(),
            });
        }
        let mut feed = ListFeed {
            waiting,
            results: (0..requests.len()).map(|_| None).collect(),
            on_delta,
            cancelled,
            on_done,
        };
        self.run(&mut feed)?;
        Ok(feed
            .results
            .into_iter()
            .map(|g| g.expect("every request finishes"))
            .collect())
    }

    /// Runs sequences from `feed` until it has nothing more to give while none is running
    /// (continuous batching): at most [`Engine::with_max_batch`] rows decode together, and whenever
    /// rows finish, `feed` is asked for more, which are prefilled and join the running batch.
    pub fn run(&self, feed: &mut dyn Feed) -> Result<()> {
        let lm = &self.model.lm;
        let stop_ids = self.model.stop_token_ids();
        let pad = self.model.config.pad_token_id.unwrap_or(0);
        let mut active: Vec<Row> = Vec::new();
        let mut cache = lm.new_cache(0, 0);
        loop {
            let room = self.max_batch.saturating_sub(active.len());
            let running = Running {
                rows: active.len(),
                slots: if active.is_empty() { 0 } else { cache.len() },
                most_feeds: active.iter().map(Row::feeds_left).max().unwrap_or(0),
            };
            let admitted = if room > 0 {
                feed.admit(room, &running)
            } else {
                Vec::new()
            };
            if active.is_empty() && admitted.is_empty() {
                return Ok(());
            }
            if !admitted.is_empty() {
                self.admit(admitted, &mut active, &mut cache, feed, &stop_ids)?;
            }
            if active.is_empty() {
                continue;
            }
            let next: Vec<Vec<u32>> = active
                .iter()
                .map(|r| vec![*r.generated.last().expect("a decoded row has a token")])
                .collect();
            let batch = TokenBatch::right_padded(&next, pad);
            let hidden = lm.forward_hidden(&batch, &self.model.rope, Some(&mut cache));
            self.sample_step(&mut active, hidden, feed, &stop_ids)?;
            retire(&mut active, &mut cache, feed, done_or_cancelled);
        }
    }

    /// Prefills `admitted` in a cache of their own, samples their first tokens, and merges the
    /// rows still going into the running batch (`active` and `cache`).
    fn admit(
        &self,
        admitted: Vec<Admission>,
        active: &mut Vec<Row>,
        cache: &mut KvCache,
        feed: &mut dyn Feed,
        stop_ids: &[u32],
    ) -> Result<()> {
        let mut rows = Vec::with_capacity(admitted.len());
        for a in admitted {
            let mut row = Row::new(a);
            if row.sampler.params().tokens_to_generate == 0 {
                // Asking for nothing is done before any compute.
                row.finish = Some((FinishReason::Length, None));
                feed.finished(row.index, row.into_generation());
            } else {
                rows.push(row);
            }
        }
        if rows.is_empty() {
            return Ok(());
        }
        // Rows are left-padded to the longest prompt, so every row needs room for that prompt
        // plus the largest token budget.
        let longest_prompt = rows.iter().map(|r| r.prompt.len()).max().unwrap_or(0);
        let most_tokens = rows
            .iter()
            .map(|r| r.sampler.params().tokens_to_generate)
            .max()
            .unwrap_or(0);
        let mut fresh = self
            .model
            .lm
            .new_cache(rows.len(), longest_prompt + most_tokens);
        let Some(hidden) = self.prefill(&mut rows, &mut fresh, feed) else {
            return Ok(());
        };
        self.sample_step(&mut rows, hidden, feed, stop_ids)?;
        retire(&mut rows, &mut fresh, feed, done_or_cancelled);
        if rows.is_empty() {
            return Ok(());
        }
        if active.is_empty() {
            *active = rows;
            *cache = fresh;
            return Ok(());
        }
        let slots = cache.len().max(fresh.len());
        let most_feeds = active.iter().chain(&rows).map(Row::feeds_left).max();
        let capacity = slots + most_feeds.unwrap_or(0);
        cache.extend(fresh, capacity);
        active.extend(rows);
        Ok(())
    }

    /// Samples every row's next token from the last position of `hidden` and advances its text.
    fn sample_step(
        &self,
        rows: &mut [Row],
        hidden: Tensor<3>,
        feed: &mut dyn Feed,
        stop_ids: &[u32],
    ) -> Result<()> {
        let [b, t, d] = hidden.dims();
        let logits = self.model.lm.logits(hidden.slice([0..b, t - 1..t, 0..d]));
        let vocab = logits.dims()[2];
        let flat = logits
            .cast(DType::F32)
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| ModelError::Invalid(format!("reading logits: {e:?}")))?;
        // Sampling is per row and independent (each row has its own RNG): rows in parallel.
        rows.par_iter_mut()
            .zip(flat.par_chunks(vocab))
            .for_each(|(row, logits)| sample_next(row, logits, stop_ids));
        for row in rows.iter_mut() {
            self.advance_text(row, stop_ids, &mut |delta| feed.delta(delta))?;
        }
        Ok(())
    }

    /// Runs the left-padded prompts through the model in blocks of [`Engine::prefill_block`]
    /// queries, dropping cancelled rows between blocks, and returns the last block's hidden states
    /// (`None` when every row was cancelled).
    fn prefill(
        &self,
        active: &mut Vec<Row>,
        cache: &mut KvCache,
        feed: &mut dyn Feed,
    ) -> Option<Tensor<3>> {
        let len = active.iter().map(|r| r.prompt.len()).max().unwrap_or(0);
        let block = self.prefill_block(active.len(), len);
        let pad = self.model.config.pad_token_id.unwrap_or(0);
        let mut start = 0;
        loop {
            let end = (start + block).min(len);
            let mut ids = Vec::with_capacity(active.len() * (end - start));
            let mut valid = Vec::with_capacity(ids.capacity());
            for row in active.iter() {
                let padding = len - row.prompt.len();
                for column in start..end {
                    match column.checked_sub(padding) {
                        Some(i) => ids.push(row.prompt[i]),
                        None => ids.push(pad),
                    }
                    valid.push(column >= padding);
                }
            }
            let batch = TokenBatch::from_parts(ids, valid, active.len());
            let hidden = self
                .model
                .lm
                .forward_hidden(&batch, &self.model.rope, Some(cache));
            if end >= len {
                return Some(hidden);
            }
            start = end;
            retire(active, cache, feed, |row, feed| feed.cancelled(row.index));
            if active.is_empty() {
                return None;
            }
        }
    }

    /// Updates `row`'s text, stream and finish state after [`sample_next`] added a token.
    fn advance_text(
        &self,
        row: &mut Row,
        stop_ids: &[u32],
        on_delta: &mut dyn FnMut(StreamDelta),
    ) -> Result<()> {
        let params = row.sampler.params();
        // The token just added was drawn before the minimum length was reached.
        let before_min = row.generated.len() <= params.min_tokens_to_generate;
        let token = *row.generated.last().expect("a sampled row has a token");
        let is_eos = stop_ids.contains(&token) && !params.ignore_eos;
        let text_ids = if is_eos {
            &row.generated[..row.generated.len() - 1]
        } else {
            &row.generated[..]
        };
        let previous_len = row.text.len();
        row.text = self.model.tokenizer.decode(text_ids, false)?;
        if is_eos {
            row.finish = Some((FinishReason::Eos, None));
        } else if !before_min
            && let Some((pos, stop)) = find_stop(&row.text, &params.end_strings, previous_len)
        {
            row.text.truncate(pos);
            row.finish = Some((FinishReason::Stop, Some(stop.to_string())));
        } else if row.generated.len() >= params.tokens_to_generate {
            row.finish = Some((FinishReason::Length, None));
        }
        let ready = if row.finish.is_some() {
            row.text.len()
        } else {
            row.text.len() - holdback(&row.text, &params.end_strings)
        };
        if ready > row.streamed && row.text.is_char_boundary(row.streamed) {
            on_delta(StreamDelta {
                index: row.index,
                text: row.text[row.streamed..ready].to_string(),
            });
            row.streamed = ready;
        }
        Ok(())
    }
}

/// Samples the next token of `row` from its `logits` row (left as they are) and records it with
/// its log-probs: under the model, and at the sampling temperature unless greedy.
fn sample_next(row: &mut Row, logits: &[f32], stop_ids: &[u32]) {
    let params = row.sampler.params();
    let before_min = row.generated.len() < params.min_tokens_to_generate;
    let ban: &[u32] = if before_min { stop_ids } else { &[] };
    let (greedy, temperature) = (params.greedy, params.temperature);
    // Only the repetition penalty looks at earlier tokens (the prompt's only with
    // `penalize_prompt`): no copy when it is off.
    let seen = penalized_tokens(params, &row.prompt, &row.generated);
    let token = row.sampler.sample(&mut logits.to_vec(), &seen, ban);
    row.logprobs.push(logprob_of(logits, token as usize));
    if !greedy {
        row.sampling_logprobs
            .push(scaled_logprob(logits, temperature, token as usize));
    }
    row.generated.push(token);
}

/// Whether `row` leaves the batch after a step: it finished, or its feed cancelled it.
fn done_or_cancelled(row: &Row, feed: &dyn Feed) -> bool {
    row.finish.is_some() || feed.cancelled(row.index)
}

/// Hands the rows for which `done` holds to `feed` as finished, keeping the cache in step; when
/// the rows left all start with padding (a long prompt's row left), that padding is dropped once
/// it is a quarter of the slots or more.
fn retire(
    active: &mut Vec<Row>,
    cache: &mut KvCache,
    feed: &mut dyn Feed,
    done: impl Fn(&Row, &dyn Feed) -> bool,
) {
    let keep: Vec<bool> = active.iter().map(|row| !done(row, &*feed)).collect();
    if keep.iter().all(|&k| k) {
        return;
    }
    let kept: Vec<usize> = (0..keep.len()).filter(|&r| keep[r]).collect();
    if !kept.is_empty() {
        cache.retain(&kept);
        if cache.leading_padding() * 4 >= cache.len() {
            cache.trim_front();
        }
    }
    for (row, keep) in std::mem::take(active).into_iter().zip(keep) {
        if keep {
            active.push(row);
        } else {
            feed.finished(row.index, row.into_generation());
        }
    }
}
