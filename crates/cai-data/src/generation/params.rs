//! Sampling parameters, named and defaulted as NeMo's `/generate` server understands them.

use serde::{Deserialize, Serialize};

/// How to pick each next token and when to stop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SamplingParams {
    /// Argmax decoding (ignores temperature, top-k, top-p, min-p).
    pub greedy: bool,
    /// Softmax temperature (> 0).
    pub temperature: f32,
    /// Keep the `top_k` most likely tokens (0 = off).
    pub top_k: usize,
    /// Keep the smallest set of tokens whose probability reaches `top_p` (1.0 = off).
    pub top_p: f32,
    /// Drop tokens less likely than `min_p` × the most likely one (0.0 = off).
    pub min_p: f32,
    /// HF-style repetition penalty over prompt and generated tokens (1.0 = off).
    pub repetition_penalty: f32,
    /// Whether the repetition penalty also looks at the prompt's tokens (HF and NeMo: `true`).
    /// With `false` it looks only at generated tokens, so a small model is not pushed away from
    /// the prompt's own words. Optional when read (older files lack it).
    pub penalize_prompt: bool,
    /// End-of-sequence and end strings are ignored until this many tokens are generated.
    pub min_tokens_to_generate: usize,
    /// Maximum number of new tokens.
    pub tokens_to_generate: usize,
    /// Stop when the generated text contains one of these; the text is cut before it.
    pub end_strings: Vec<String>,
    /// Seed of this request's sampler (same seed + same request → same output).
    pub random_seed: Option<u64>,
    /// Keep generating past the end-of-sequence token.
    pub ignore_eos: bool,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            greedy: false,
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
            repetition_penalty: 1.0,
            penalize_prompt: true,
            min_tokens_to_generate: 0,
            tokens_to_generate: 30,
            end_strings: Vec::new(),
            random_seed: None,
            ignore_eos: false,
        }
    }
}

impl SamplingParams {
    /// Greedy decoding of up to `n` tokens.
    pub fn greedy(n: usize) -> Self {
        Self {
            greedy: true,
            tokens_to_generate: n,
            ..Self::default()
        }
    }

    /// Checks ranges; the message names the offending field.
    pub fn validate(&self) -> Result<(), String> {
        let temperature_ok = self.temperature > 0.0 && self.temperature.is_finite();
        if !self.greedy && !temperature_ok {
            return Err(format!(
                "temperature: must be > 0, got {}",
                self.temperature
            ));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(format!("top_p: must be in (0, 1], got {}", self.top_p));
        }
        if !(0.0..=1.0).contains(&self.min_p) {
            return Err(format!("min_p: must be in [0, 1], got {}", self.min_p));
        }
        if !(self.repetition_penalty > 0.0 && self.repetition_penalty.is_finite()) {
            return Err(format!(
                "repetition_penalty: must be > 0, got {}",
                self.repetition_penalty
            ));
        }
        if self.min_tokens_to_generate > self.tokens_to_generate {
            return Err(format!(
                "min_tokens_to_generate: {} exceeds tokens_to_generate {}",
                self.min_tokens_to_generate, self.tokens_to_generate
            ));
        }
        if self.end_strings.iter().any(String::is_empty) {
            return Err("end_strings: empty strings are not allowed".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_without_penalize_prompt_read_as_true() {
        let mut old = serde_json::to_value(SamplingParams::default()).unwrap();
        old.as_object_mut().unwrap().remove("penalize_prompt");
        let back: SamplingParams = serde_json::from_value(old).unwrap();
        assert!(back.penalize_prompt);
        let off = SamplingParams {
            penalize_prompt: false,
            ..SamplingParams::default()
        };
        let json = serde_json::to_value(&off).unwrap();
        assert_eq!(json["penalize_prompt"], serde_json::json!(false));
        assert_eq!(serde_json::from_value::<SamplingParams>(json).unwrap(), off);
    }
}
