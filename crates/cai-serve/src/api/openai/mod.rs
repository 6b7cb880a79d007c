//! OpenAI-compatible routes. This module maps the shared request fields onto
//! [`SamplingParams`] (temperature 0 = greedy, `seed` honoured, `n` choices with seeds
//! `seed + i`), and holds what chat and completions responses share: finish reasons, usage, ids.

pub mod chat;
pub mod completions;
pub mod logprobs;
pub mod stream;

use cai_model::{FinishReason, Generation, GenerationRequest, Prompt, SamplingParams};
use rand::Rng;
use serde_json::Value;

use crate::config::ServerConfig;
use crate::error::{Result, ServeError};
use crate::queue::{Extras, Finished};
use crate::wire::openai::{CompletionRequest, Stop, Usage};

/// Most stop strings per request.
pub const MAX_STOP_STRINGS: usize = 16;

/// What a request asks for, once validated.
#[derive(Debug, Clone)]
pub struct Plan {
    /// One engine request per (prompt, choice), prompt-major.
    pub requests: Vec<GenerationRequest>,
    /// Choices per prompt.
    pub n: usize,
    /// `Some(k)`: return log-probs with `k` alternatives per token.
    pub logprobs: Option<usize>,
    /// Stream with server-sent events.
    pub stream: bool,
    /// Send a usage chunk at the end of a stream.
    pub include_usage: bool,
}

impl Plan {
    /// Expands `prompts` × `n` with the request's sampling parameters.
    pub fn new(
        req: &CompletionRequest,
        config: &ServerConfig,
        prompts: Vec<Prompt>,
        logprobs: Option<usize>,
    ) -> Result<Self> {
        let params = sampling(req, config)?;
        let n = req.n.unwrap_or(1) as usize;
        if n == 0 || n * prompts.len() > config.max_choices {
            return Err(ServeError::bad_param(
                "n",
                format!(
                    "must be ≥ 1 with at most {} choices in all, got {n} × {} prompts",
                    config.max_choices,
                    prompts.len()
                ),
            ));
        }
        if prompts.is_empty() {
            return Err(ServeError::bad_request("no prompt given"));
        }
        let requests = prompts
            .into_iter()
            .flat_map(|prompt| {
                let params = params.clone();
                (0..n).map(move |i| GenerationRequest {
                    prompt: prompt.clone(),
                    params: SamplingParams {
                        random_seed: params.random_seed.map(|s| s.wrapping_add(i as u64)),
                        ..params.clone()
                    },
                })
            })
            .collect();
        Ok(Self {
            requests,
            n,
            logprobs,
            stream: req.stream.unwrap_or(false),
            include_usage: req.stream_options.as_ref().is_some_and(|o| o.include_usage),
        })
    }

    /// What the engine computes besides the text.
    pub fn extras(&self) -> Extras {
        Extras {
            top_logprobs: self.logprobs.unwrap_or(0),
            sequence_logprobs: false,
        }
    }
}

/// Validates the OpenAI sampling fields and maps them onto [`SamplingParams`].
pub fn sampling(req: &CompletionRequest, config: &ServerConfig) -> Result<SamplingParams> {
    let cap = config.max_tokens_cap;
    let max_tokens = req
        .max_completion_tokens
        .or(req.max_tokens)
        .map_or(config.default_max_tokens, |m| m as usize);
    if max_tokens == 0 || max_tokens > cap {
        return Err(ServeError::bad_param(
            "max_tokens",
            format!("must be in 1..={cap}, got {max_tokens}"),
        ));
    }
    let temperature = req.temperature.unwrap_or(1.0);
    if !(0.0..=2.0).contains(&temperature) {
        return Err(ServeError::bad_param(
            "temperature",
            format!("must be in [0, 2], got {temperature}"),
        ));
    }
    let top_p = req.top_p.unwrap_or(1.0);
    if !(top_p > 0.0 && top_p <= 1.0) {
        return Err(ServeError::bad_param(
            "top_p",
            format!("must be in (0, 1], got {top_p}"),
        ));
    }
    let top_k = match req.top_k.unwrap_or(0) {
        k if k >= 1 => k as usize,
        0 | -1 => 0,
        k => {
            return Err(ServeError::bad_param(
                "top_k",
                format!("must be ≥ -1, got {k}"),
            ));
        }
    };
    let min_p = req.min_p.unwrap_or(0.0);
    if !(0.0..=1.0).contains(&min_p) {
        return Err(ServeError::bad_param(
            "min_p",
            format!("must be in [0, 1], got {min_p}"),
        ));
    }
    let repetition_penalty = req.repetition_penalty.unwrap_or(1.0);
    if !(repetition_penalty > 0.0 && repetition_penalty <= 10.0) {
        return Err(ServeError::bad_param(
            "repetition_penalty",
            format!("must be in (0, 10], got {repetition_penalty}"),
        ));
    }
    let min_tokens = req.min_tokens.unwrap_or(0) as usize;
    if min_tokens > max_tokens {
        return Err(ServeError::bad_param(
            "min_tokens",
            format!("{min_tokens} exceeds max_tokens {max_tokens}"),
        ));
    }
    let stop = match &req.stop {
        None => Vec::new(),
        Some(Stop::One(s)) => vec![s.clone()],
        Some(Stop::Many(v)) => v.clone(),
    };
    if stop.len() > MAX_STOP_STRINGS || stop.iter().any(String::is_empty) {
        return Err(ServeError::bad_param(
            "stop",
            format!("at most {MAX_STOP_STRINGS} non-empty strings"),
        ));
    }
    Ok(SamplingParams {
        greedy: temperature == 0.0,
        temperature: if temperature == 0.0 {
            1.0
        } else {
            temperature as f32
        },
        top_k,
        top_p: top_p as f32,
        min_p: min_p as f32,
        repetition_penalty: repetition_penalty as f32,
        penalize_prompt: req.penalize_prompt.unwrap_or(true),
        min_tokens_to_generate: min_tokens,
        tokens_to_generate: max_tokens,
        end_strings: stop,
        // Any 64-bit seed is accepted; negative ones are reinterpreted.
        random_seed: req.seed.map(|s| s as u64),
        ignore_eos: req.ignore_eos.unwrap_or(false),
    })
}

/// `stop` (EOS or a stop string) or `length`.
pub fn finish_reason(g: &Generation) -> &'static str {
    match g.finish_reason {
        FinishReason::Eos | FinishReason::Stop => "stop",
        FinishReason::Length => "length",
    }
}

/// vLLM's `stop_reason`: the stop string, or `null`.
pub fn stop_reason(g: &Generation) -> Option<Value> {
    g.stop_string.clone().map(Value::String)
}

/// Exact token counts: each prompt once, every generated token (EOS included).
pub fn usage(finished: &[Finished], n: usize) -> Usage {
    let prompt_tokens = finished
        .iter()
        .step_by(n.max(1))
        .map(|f| f.generation.prompt_tokens)
        .sum();
    let completion_tokens = finished.iter().map(|f| f.generation.token_ids.len()).sum();
    Usage {
        prompt_tokens,
        completion_tokens,
        total_tokens: prompt_tokens + completion_tokens,
    }
}

/// A fresh response id such as `chatcmpl-3f2a…`.
pub fn response_id(prefix: &str) -> String {
    format!("{prefix}-{:032x}", rand::rng().random::<u128>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(json: &str) -> CompletionRequest {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn temperature_zero_is_greedy_and_seeds_follow_choices() {
        let config = ServerConfig::new("m");
        let r = req(r#"{"prompt": "x", "temperature": 0, "n": 3, "seed": 7, "stop": "\n"}"#);
        let plan = Plan::new(&r, &config, vec![Prompt::Text("x".into())], None).unwrap();
        assert_eq!(plan.requests.len(), 3);
        assert!(plan.requests[0].params.greedy);
        let seeds: Vec<_> = plan.requests.iter().map(|r| r.params.random_seed).collect();
        assert_eq!(seeds, [Some(7), Some(8), Some(9)]);
        assert_eq!(plan.requests[2].params.end_strings, ["\n"]);
    }

    #[test]
    fn penalize_prompt_defaults_to_true() {
        let config = ServerConfig::new("m");
        let parse = |json: &str| sampling(&req(json), &config).unwrap().penalize_prompt;
        assert!(parse(r#"{"prompt": "x"}"#));
        assert!(!parse(r#"{"prompt": "x", "penalize_prompt": false}"#));
    }

    #[test]
    fn out_of_range_values_name_their_field() {
        let config = ServerConfig::new("m");
        for (json, field) in [
            (r#"{"max_tokens": 0}"#, "max_tokens"),
            (r#"{"max_tokens": 100000}"#, "max_tokens"),
            (r#"{"temperature": 3}"#, "temperature"),
            (r#"{"top_p": 0}"#, "top_p"),
            (r#"{"top_k": -2}"#, "top_k"),
            (r#"{"stop": [""]}"#, "stop"),
            (r#"{"min_tokens": 9, "max_tokens": 3}"#, "min_tokens"),
        ] {
            let err = sampling(&req(json), &config).unwrap_err();
            assert!(err.to_string().starts_with(field), "{json}: {err}");
        }
        let err = Plan::new(
            &req(r#"{"n": 0}"#),
            &config,
            vec![Prompt::Text("x".into())],
            None,
        );
        assert!(err.is_err());
    }
}
