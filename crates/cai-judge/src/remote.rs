//! A judge behind an OpenAI-compatible `/v1/completions` endpoint (vLLM, cai-serve, a hosted
//! API): P(A) from the returned `top_logprobs` of the token after the prompt and ` (`, the
//! chain of thought by greedy completion.

use cai_client::wire::openai::{Completion, CompletionRequest, Logprobs, PromptInput};
use cai_client::{ClientError, RemoteConfig, RemoteGenerator};
use cai_data::{GenerationRequest, Prompt};
use serde_json::Value;

use crate::error::{JudgeError, Result};
use crate::judge::{Failure, OptionScorer, Verdict, reasoning_params, reasoning_texts};
use crate::label::normalised_first;

/// Alternatives asked for per position (OpenAI's largest).
const TOP_LOGPROBS: u64 = 20;

/// A judge endpoint.
pub struct RemoteJudge {
    client: RemoteGenerator,
    name: String,
}

impl RemoteJudge {
    /// A judge on the endpoints of `config` (its `api` is ignored: the judge speaks OpenAI).
    pub fn new(config: RemoteConfig) -> Result<Self> {
        let name = format!("{} at {}", config.model, config.endpoints.join(", "));
        let client = RemoteGenerator::new(config)?;
        Ok(Self { client, name })
    }

    /// One scored question, to fail early when the endpoint is down or gives no log-probs.
    pub fn probe(&self) -> Result<()> {
        let body = request("Answer with A or B. The answer is:");
        let answer = self.client.completions_each(&[body]).pop();
        match answer {
            Some(Ok(completion)) => match first_alternatives(&completion) {
                Some(_) => Ok(()),
                None => Err(JudgeError::Setup {
                    judge: self.name.clone(),
                    reason: "the endpoint returned no `logprobs.top_logprobs`".into(),
                }),
            },
            Some(Err(e)) => Err(e.into()),
            None => Err(JudgeError::Setup {
                judge: self.name.clone(),
                reason: "no answer".into(),
            }),
        }
    }
}

/// A one-token greedy completion of `prompt` + ` (` with the top alternatives.
fn request(prompt: &str) -> CompletionRequest {
    CompletionRequest {
        prompt: Some(PromptInput::Text(format!("{prompt} ("))),
        max_tokens: Some(1),
        temperature: Some(0.0),
        logprobs: Some(Logprobs::Count(TOP_LOGPROBS)),
        ..CompletionRequest::default()
    }
}

/// The first position's alternatives (token text → log-prob).
fn first_alternatives(completion: &Completion) -> Option<&serde_json::Map<String, Value>> {
    completion
        .choices
        .first()?
        .logprobs
        .as_ref()?
        .top_logprobs
        .first()
}

/// Log-sum-exp of the alternatives that spell `letter` (with or without spaces), if any.
fn letter_logprob(alternatives: &serde_json::Map<String, Value>, letter: &str) -> Option<f64> {
    let values: Vec<f64> = alternatives
        .iter()
        .filter(|(token, _)| token.trim() == letter)
        .filter_map(|(_, v)| v.as_f64())
        .collect();
    let max = values.iter().copied().reduce(f64::max)?;
    Some(max + values.iter().map(|v| (v - max).exp()).sum::<f64>().ln())
}

/// P(A) from one completion: both letters present, the normalised pair; one present, that one
/// against the least likely alternative returned (a bound: the label leans less than the truth);
/// none, a failure.
fn verdict(completion: &Completion) -> Verdict {
    let alternatives = first_alternatives(completion).ok_or(Failure::NoOptionProbability)?;
    let floor = alternatives
        .values()
        .filter_map(Value::as_f64)
        .reduce(f64::min)
        .ok_or(Failure::NoOptionProbability)?;
    match (
        letter_logprob(alternatives, "A"),
        letter_logprob(alternatives, "B"),
    ) {
        (None, None) => Err(Failure::NoOptionProbability),
        (a, b) => Ok(normalised_first(a.unwrap_or(floor), b.unwrap_or(floor))),
    }
}

impl OptionScorer for RemoteJudge {
    fn prob_a(&self, prompts: &[String]) -> Result<Vec<Verdict>> {
        let bodies: Vec<CompletionRequest> = prompts.iter().map(|p| request(p)).collect();
        let answers = self.client.completions_each(&bodies);
        all_failed_is_an_error(&self.name, &answers)?;
        Ok(answers
            .iter()
            .map(|a| match a {
                Ok(completion) => verdict(completion),
                Err(e) => {
                    tracing::warn!(judge = %self.name, error = %e, "judge request failed");
                    Err(Failure::EndpointFailure)
                }
            })
            .collect())
    }

    fn reason(&self, prompts: &[String], max_tokens: usize) -> Result<Vec<String>> {
        let requests: Vec<GenerationRequest> = prompts
            .iter()
            .map(|p| GenerationRequest {
                prompt: Prompt::Text(p.clone()),
                params: reasoning_params(max_tokens),
            })
            .collect();
        Ok(reasoning_texts(&self.client.try_generate(&requests)?))
    }

    fn name(&self) -> String {
        self.name.clone()
    }
}

/// When every request of a call failed the endpoint is down: an error naming it, so the run
/// stops (with what it labelled kept) instead of dropping every pair.
pub fn all_failed_is_an_error<T>(
    judge: &str,
    answers: &[std::result::Result<T, ClientError>],
) -> Result<()> {
    if !answers.is_empty() && answers.iter().all(|a| a.is_err()) {
        let first = answers.iter().find_map(|a| a.as_ref().err());
        return Err(JudgeError::Setup {
            judge: judge.to_string(),
            reason: format!(
                "all {} requests failed; the first: {}",
                answers.len(),
                first.map(ToString::to_string).unwrap_or_default()
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completion(alternatives: Value) -> Completion {
        serde_json::from_value(serde_json::json!({
            "id": "x", "object": "text_completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "text": "A", "logprobs": {
                "tokens": ["A"], "token_logprobs": [-0.1], "text_offset": [0],
                "top_logprobs": [alternatives]}}]
        }))
        .unwrap()
    }

    #[test]
    fn both_letters_are_normalised() {
        let c = completion(serde_json::json!({"A": (0.6f64).ln(), "B": (0.2f64).ln(), "C": -5.0}));
        assert!((verdict(&c).unwrap() - 0.75).abs() < 1e-9);
    }

    #[test]
    fn spellings_of_a_letter_add_up() {
        let c = completion(
            serde_json::json!({"A": (0.3f64).ln(), " A": (0.3f64).ln(), "B": (0.2f64).ln()}),
        );
        assert!((verdict(&c).unwrap() - 0.75).abs() < 1e-9);
    }

    #[test]
    fn a_missing_letter_is_bounded_by_the_least_likely_alternative() {
        let c = completion(serde_json::json!({"A": -0.1, "The": -3.0}));
        let p = verdict(&c).unwrap();
        assert!((p - normalised_first(-0.1, -3.0)).abs() < 1e-12);
        let none = completion(serde_json::json!({"The": -0.1, "It": -3.0}));
        assert_eq!(verdict(&none), Err(Failure::NoOptionProbability));
    }
}
