//! What the preference tests share: a fake policy whose answers depend on the temperature rung.

use std::sync::Mutex;

use cai_data::{FinishReason, Generation, GenerationError, GenerationRequest, Generator, Prompt};

/// Answers by temperature rung: a good answer, an empty one, a duplicate of the first, a bad one.
/// Records every prompt it is asked about.
#[derive(Default)]
pub struct FakePolicy {
    /// The prompts asked about, in order.
    pub seen: Mutex<Vec<String>>,
}

impl Generator for FakePolicy {
    fn generate(
        &self,
        requests: &[GenerationRequest],
    ) -> std::result::Result<Vec<Generation>, GenerationError> {
        Ok(requests
            .iter()
            .map(|r| {
                let Prompt::Chat(messages) = &r.prompt else {
                    panic!("chat prompts")
                };
                let prompt = &messages[0].content;
                self.seen.lock().unwrap().push(prompt.clone());
                let t = r.params.temperature;
                let text = if t < 0.5 {
                    format!("good answer to {prompt}")
                } else if t < 1.0 {
                    "   ".into()
                } else if t < 1.5 {
                    format!("good answer to {prompt}")
                } else {
                    format!("bad answer to {prompt}")
                };
                Generation {
                    text,
                    token_ids: Vec::new(),
                    logprobs: Vec::new(),
                    sampling_logprobs: Vec::new(),
                    finish_reason: FinishReason::Eos,
                    stop_string: None,
                    prompt_tokens: 0,
                }
            })
            .collect())
    }

    fn describe(&self) -> String {
        "fake".into()
    }
}
