//! The training and validation rows of a run: conversations read, held-out split taken, encoded,
//! truncated, filtered and laid out in rows.
//!
//! Validation never uses the training file by default: it comes from `validation_file`, or from
//! a seeded `validation_fraction` of the training conversations that is then not trained on.

use cai_model::LoadedModel;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::batches::{Row, build_rows};
use crate::config::SftConfig;
use crate::conversation::{Conversation, read_conversations};
use crate::encode::{EncodeStats, encode_all};
use crate::error::Result;

/// Rows ready for batching.
#[derive(Debug)]
pub struct Dataset {
    /// Training rows.
    pub train: Vec<Row>,
    /// Validation rows (empty when validation is off).
    pub validation: Vec<Row>,
    /// Encoding counts of the training split.
    pub train_stats: EncodeStats,
    /// Encoding counts of the validation split.
    pub validation_stats: EncodeStats,
}

/// Splits off `fraction` of the conversations (seeded) as a held-out set.
fn hold_out(
    conversations: Vec<Conversation>,
    fraction: f64,
    seed: u64,
) -> (Vec<Conversation>, Vec<Conversation>) {
    let held = (conversations.len() as f64 * fraction).round() as usize;
    let mut order: Vec<usize> = (0..conversations.len()).collect();
    order.shuffle(&mut StdRng::seed_from_u64(seed));
    let held_out: std::collections::HashSet<usize> = order[..held].iter().copied().collect();
    let (mut train, mut validation) = (Vec::new(), Vec::new());
    for (i, conv) in conversations.into_iter().enumerate() {
        if held_out.contains(&i) {
            validation.push(conv);
        } else {
            train.push(conv);
        }
    }
    (train, validation)
}

/// The conversations of a run, read and split: what needs no model, so that a missing or bad
/// file fails before one is loaded.
#[derive(Debug)]
pub struct Conversations {
    /// Training conversations.
    pub train: Vec<Conversation>,
    /// Held-out conversations (from `validation_file`, or split off the training file).
    pub validation: Vec<Conversation>,
}

impl Conversations {
    /// Reads the files `cfg` names and takes the held-out split.
    pub fn read(cfg: &SftConfig) -> Result<Self> {
        let conversations = read_conversations(&cfg.train_file)?;
        let (train, validation) = match &cfg.validation_file {
            Some(path) => (conversations, read_conversations(path)?),
            None => hold_out(conversations, cfg.validation_fraction, cfg.seed),
        };
        Ok(Self { train, validation })
    }
}

impl Dataset {
    /// Reads, splits and encodes the data `cfg` names with `model`'s template and tokenizer.
    pub fn prepare(model: &LoadedModel, cfg: &SftConfig) -> Result<Self> {
        Self::encode(model, Conversations::read(cfg)?, cfg)
    }

    /// Encodes conversations read by [`Conversations::read`] with `model`'s template and
    /// tokenizer.
    pub fn encode(
        model: &LoadedModel,
        conversations: Conversations,
        cfg: &SftConfig,
    ) -> Result<Self> {
        let Conversations { train, validation } = conversations;
        let (train, train_stats) = encode_all(model, &train, cfg.max_seq_length)?;
        let (validation, validation_stats) = encode_all(model, &validation, cfg.max_seq_length)?;
        tracing::info!(
            train = train_stats.kept,
            validation = validation_stats.kept,
            truncated = train_stats.truncated + validation_stats.truncated,
            dropped = train_stats.dropped + validation_stats.dropped,
            "encoded conversations"
        );
        Ok(Self {
            train: build_rows(train, cfg.max_seq_length, cfg.packing),
            validation: build_rows(validation, cfg.max_seq_length, cfg.packing),
            train_stats,
            validation_stats,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cai_model::Message;

    #[test]
    fn held_out_conversations_are_not_trained_on() {
        let convs: Vec<Conversation> = (0..20)
            .map(|i| Conversation {
                messages: vec![Message::user(i.to_string())],
                masked_roles: vec![],
                ..Default::default()
            })
            .collect();
        let (train, validation) = hold_out(convs.clone(), 0.25, 3);
        assert_eq!((train.len(), validation.len()), (15, 5));
        assert!(validation.iter().all(|v| !train.contains(v)));
        assert_eq!(hold_out(convs, 0.25, 3).1, validation);
    }
}
