//! Turning the work log into the final records: traces in prompt order, filtered SL-CAI samples,
//! rejects, length-checked helpfulness samples and the blend, with their counts.

use std::collections::HashMap;

use cai_data::answer::declines;
use cai_data::{ChatSample, SlCaiTrace};
use serde::Serialize;

use crate::blend;
use crate::config::Config;
use crate::error::{CritiqueError, Result};
use crate::filter::{ContentRules, DropReason, check_revision, content_drop};
use crate::plan::WorkItem;
use crate::progress::Completed;
use crate::summary::Counts;

pub use cai_backend::TokenCounter;

/// A prompt whose SL-CAI sample was left out (`rejects.jsonl`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reject {
    /// Prompt id.
    pub id: String,
    /// Why (`empty_revision`, `echoes_critique`, `revision_prefix`, `truncated`, `off_topic`,
    /// `too_long`).
    pub reason: String,
    /// The final revision after stripping.
    pub final_revision: String,
}

/// The final records of a run.
#[derive(Debug, Clone)]
pub struct Assembled {
    /// One trace per prompt, in prompt order; `final_revision` is the cleaned revision.
    pub traces: Vec<SlCaiTrace>,
    /// SL-CAI SFT samples that passed every filter.
    pub sl_cai: Vec<ChatSample>,
    /// Prompts whose sample was dropped.
    pub rejects: Vec<Reject>,
    /// The shuffled blend of SL-CAI and helpfulness samples.
    pub blend: Vec<ChatSample>,
    /// Counts for the summary.
    pub counts: Counts,
}

/// Checks sample lengths against `max_seq_length` (0 = no limit).
struct LengthCheck<'a> {
    max: usize,
    counter: Option<&'a dyn TokenCounter>,
}

impl LengthCheck<'_> {
    fn too_long(&self, sample: &ChatSample) -> Result<bool> {
        if self.max == 0 {
            return Ok(false);
        }
        let counter = self.counter.ok_or_else(|| {
            CritiqueError::Invalid(
                "max_seq_length needs a tokenizer: set it to 0 or give the run a token counter"
                    .into(),
            )
        })?;
        let messages = sample.to_messages().map_err(CritiqueError::Invalid)?;
        Ok(counter.count_chat(&messages)? > self.max)
    }
}

/// Builds the final records of `items` from the log records `done` (every item must be there).
pub fn assemble(
    config: &Config,
    items: &[WorkItem],
    done: &HashMap<String, Completed>,
    helpful: &[ChatSample],
    counter: Option<&dyn TokenCounter>,
) -> Result<Assembled> {
    let lengths = LengthCheck {
        max: config.max_seq_length,
        counter,
    };
    let mut counts = Counts {
        dropped: [
            DropReason::EmptyRevision,
            DropReason::EchoesCritique,
            DropReason::Commentary,
            DropReason::RevisionPrefix,
            DropReason::Truncated,
            DropReason::OffTopic,
            DropReason::TooLong,
        ]
        .iter()
        .map(|r| (r.name().to_string(), 0))
        .collect(),
        ..Counts::default()
    };
    let (mut traces, mut sl_cai, mut rejects) = (Vec::new(), Vec::new(), Vec::new());
    for item in items {
        let record = done.get(&item.key).ok_or_else(|| {
            CritiqueError::Invalid(format!(
                "prompt {} is missing from the work log",
                item.prompt.id
            ))
        })?;
        let mut trace = record.trace.clone();
        let last = trace
            .rounds
            .last()
            .map(|r| r.critique.as_str())
            .unwrap_or("");
        let checked = check_revision(&trace.final_revision, last, config.prefix_rule);
        let rules = ContentRules {
            drop_truncated: config.drop_truncated,
            drop_off_topic: config.drop_off_topic,
        };
        let content = content_drop(&checked, &trace.prompt, record.truncated, rules);
        trace.final_revision = checked.text;
        for round in &trace.rounds {
            *counts
                .principles_drawn
                .entry(round.principle_id.clone())
                .or_default() += 1;
        }
        counts.prefix_stripped += usize::from(checked.prefix_stripped);
        counts.truncated_revisions += usize::from(record.truncated);
        let sample = trace.to_chat_sample();
        let drop = match content {
            None if lengths.too_long(&sample)? => Some(DropReason::TooLong),
            other => other,
        };
        match drop {
            Some(reason) => {
                *counts.dropped.entry(reason.name().to_string()).or_default() += 1;
                rejects.push(Reject {
                    id: trace.id.clone(),
                    reason: reason.name().to_string(),
                    final_revision: trace.final_revision.clone(),
                });
            }
            None => {
                counts.declining_samples += usize::from(declines(&trace.final_revision));
                sl_cai.push(sample);
            }
        }
        traces.push(trace);
    }
    let mut fitting = Vec::with_capacity(helpful.len());
    for sample in helpful {
        if lengths.too_long(sample)? {
            counts.helpfulness_too_long += 1;
        } else {
            fitting.push(sample.clone());
        }
    }
    let blend = blend::blend(&sl_cai, &fitting, config.helpfulness_ratio, config.seed);
    counts.traces = traces.len();
    counts.sl_cai_samples = sl_cai.len();
    counts.helpfulness_available = helpful.len();
    counts.helpfulness_used = blend.len() - sl_cai.len();
    counts.blend = blend.len();
    Ok(Assembled {
        traces,
        sl_cai,
        rejects,
        blend,
        counts,
    })
}
