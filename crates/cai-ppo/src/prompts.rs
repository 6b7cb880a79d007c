//! The run's prompts: read (any layout of `cai_data::prompts`), split into training and held-out
//! validation prompts, and rendered with the policy's chat template. A prompt that leaves no room
//! for `max_new_tokens` in the context is an error naming it, raised before any rollout (NeMo
//! silently replaces such prompts with the next one, §8.7).

use std::path::Path;

use cai_data::PpoPrompt;
use cai_model::{LoadedModel, Message};

use crate::config::PpoConfig;
use crate::error::{PpoError, Result};

/// A prompt as the policy sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedPrompt {
    /// The record.
    pub record: PpoPrompt,
    /// Chat-rendered ids with the generation prompt.
    pub ids: Vec<u32>,
}

/// Training and validation prompts, as records.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptSets {
    /// Training prompts.
    pub train: Vec<PpoPrompt>,
    /// Held-out validation prompts.
    pub validation: Vec<PpoPrompt>,
}

/// Reads the prompt files of `cfg`; without a validation file the last `val_prompts` of the
/// seeded order are held out.
pub fn read(cfg: &PpoConfig) -> Result<PromptSets> {
    let mut train = cai_data::prompts::read_prompts(&cfg.prompts_file)?;
    let validation = match &cfg.val_prompts_file {
        Some(path) => cai_data::prompts::read_prompts(path)?,
        None if cfg.val_prompts == 0 => Vec::new(),
        None => {
            let order = cai_train::epoch_order(train.len(), cfg.seed ^ 0xA5A5, 0);
            let held: Vec<usize> = order[order.len().saturating_sub(cfg.val_prompts)..].to_vec();
            let mut keep = Vec::with_capacity(train.len());
            let mut validation = Vec::with_capacity(held.len());
            for (i, p) in train.drain(..).enumerate() {
                if held.contains(&i) {
                    validation.push(p);
                } else {
                    keep.push(p);
                }
            }
            train = keep;
            validation
        }
    };
    if train.len() < cfg.rollout_batch {
        return Err(PpoError::Config(format!(
            "{}: {} training prompts (after holding out {} for validation) cannot fill one \
             rollout batch of {}",
            cfg.prompts_file.display(),
            train.len(),
            validation.len(),
            cfg.rollout_batch
        )));
    }
    Ok(PromptSets { train, validation })
}

/// Renders `prompts` for `policy`; fails on the first prompt with fewer than `max_new_tokens`
/// positions left in a context of `context` tokens.
pub fn encode(
    policy: &LoadedModel,
    prompts: &[PpoPrompt],
    max_new_tokens: usize,
    context: usize,
    file: &Path,
) -> Result<Vec<EncodedPrompt>> {
    prompts
        .iter()
        .map(|p| {
            let mut messages = p.history.clone();
            messages.push(Message::user(p.prompt.clone()));
            let ids = policy.encode_chat(&messages, true)?;
            if ids.len() + max_new_tokens > context {
                return Err(PpoError::Mismatch(format!(
                    "{}: prompt `{}` has {} tokens; with {max_new_tokens} new tokens it exceeds \
                     the context of {context} (shorten it, drop it, or lower --max-new-tokens)",
                    file.display(),
                    p.id,
                    ids.len()
                )));
            }
            Ok(EncodedPrompt {
                record: p.clone(),
                ids,
            })
        })
        .collect()
}
