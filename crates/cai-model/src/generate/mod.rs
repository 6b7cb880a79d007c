//! Text generation: the batched KV-cache [`Engine`] and its implementation of the [`Generator`]
//! trait, whose request, result and error types live in `cai_data::generation` (re-exported here).

mod engine;
pub mod feed;
pub mod sampler;
pub mod stop;

pub use cai_data::generation::{
    FinishReason, Generation, GenerationError, GenerationRequest, Generator, Prompt,
    SamplingParams, StreamDelta,
};
pub use engine::{DEFAULT_PREFILL_SCORES, Engine};
pub use feed::{Admission, Feed, Running};

use crate::error::ModelError;

impl From<ModelError> for GenerationError {
    /// For the [`Generator`] trait: bad arguments stay [`GenerationError::Invalid`], the rest are
    /// model failures.
    fn from(e: ModelError) -> Self {
        match e {
            ModelError::Invalid(reason) => GenerationError::Invalid(reason),
            other => GenerationError::Model(other.to_string()),
        }
    }
}

impl Generator for Engine {
    fn generate(&self, requests: &[GenerationRequest]) -> Result<Vec<Generation>, GenerationError> {
        Ok(Engine::generate(self, requests)?)
    }

    fn describe(&self) -> String {
        format!("in-process {}", self.model().origin.path().display())
    }
}
