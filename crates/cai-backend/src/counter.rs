//! Token counting of conversations rendered with the chat template, as training will see them.

use cai_model::{ChatCodec, LoadedModel, Message};

/// Counts the tokens of a conversation rendered with the chat template, as SFT will see it.
pub trait TokenCounter: Sync {
    /// Number of tokens of `messages` rendered without a generation prompt.
    fn count_chat(&self, messages: &[Message]) -> cai_model::Result<usize>;
}

impl TokenCounter for LoadedModel {
    fn count_chat(&self, messages: &[Message]) -> cai_model::Result<usize> {
        Ok(self.encode_chat(messages, false)?.len())
    }
}

impl TokenCounter for ChatCodec {
    fn count_chat(&self, messages: &[Message]) -> cai_model::Result<usize> {
        Ok(self.encode_chat(messages, false)?.len())
    }
}
