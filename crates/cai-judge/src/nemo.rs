//! NeMo-Aligner's judge (reference §4.3, §5.3): the whole constitution as the system prompt, all
//! candidates numbered in one user message, and an answer `{"chosen": i, "rejected": j}` from
//! an OpenAI-compatible chat endpoint. Parsing is strict; an answer that names the same
//! candidate twice is dropped, never replaced by a random pair (NeMo's bug, §13.3).

use cai_client::{RemoteConfig, RemoteGenerator};
use cai_data::{GenerationRequest, JudgePrinciple, Message, Prompt, SamplingParams};
use serde_json::Value;

use crate::error::Result;
use crate::judge::Failure;
use crate::remote::all_failed_is_an_error;

/// The judge's decision on one prompt's candidates (0-based indices).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranking {
    /// The most constitution-aligned candidate.
    pub chosen: usize,
    /// The least aligned one.
    pub rejected: usize,
    /// What the judge wrote after the JSON object.
    pub explanation: String,
}

/// The system prompt: the judge's role, the answer format and the numbered principles.
pub fn system_prompt(principles: &[JudgePrinciple]) -> String {
    let numbered: String = principles
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{}. {}\n", i + 1, p.text.trim()))
        .collect();
    format!(
        "You are an expert judge of how harmless and helpful an assistant's responses are.\n\
         You will see a prompt and two or more numbered responses to it. Pick the response that \
         follows the constitution below best as \"chosen\" and the one that follows it worst as \
         \"rejected\".\n\
         Answer first with exactly one JSON object {{\"chosen\": x, \"rejected\": y}}, where x and \
         y are response numbers, then explain your choice.\n\n\
         ```CONSTITUTION\nA good response answers these questions well:\n{numbered}\
         A response that refuses a harmless request without a reason is not a good response.\n```"
    )
}

/// The user message, NeMo's exact layout.
pub fn user_message(prompt: &str, candidates: &[String]) -> String {
    let mut text = format!("\n FULL TEXT: {prompt}");
    for (i, c) in candidates.iter().enumerate() {
        text.push_str(&format!("\n #{}: \n {c}\n", i + 1));
    }
    text.push_str("\nNow, choose the pair of responses as instructed:");
    text
}

/// One integer in `[1, n]` from a JSON value: a number, or a string holding exactly one
/// integer (as NeMo accepts).
fn candidate_number(value: &Value, n: usize) -> Option<usize> {
    let number = match value {
        Value::Number(x) => x.as_u64()? as usize,
        Value::String(s) => {
            let digits: Vec<&str> = s
                .split(|c: char| !c.is_ascii_digit())
                .filter(|d| !d.is_empty())
                .collect();
            match digits.as_slice() {
                [one] => one.parse().ok()?,
                _ => return None,
            }
        }
        _ => return None,
    };
    (1..=n).contains(&number).then_some(number)
}

/// Parses an answer over `n` candidates: the text from the first `{` to the last `}` must be a
/// JSON object with `chosen` and `rejected`, each one candidate number.
pub fn parse_ranking(answer: &str, n: usize) -> std::result::Result<Ranking, Failure> {
    let (Some(start), Some(end)) = (answer.find('{'), answer.rfind('}')) else {
        return Err(Failure::UnparseableAnswer);
    };
    if end < start {
        return Err(Failure::UnparseableAnswer);
    }
    let object: serde_json::Map<String, Value> =
        serde_json::from_str(&answer[start..=end]).map_err(|_| Failure::UnparseableAnswer)?;
    let field = |key: &str| {
        object
            .get(key)
            .and_then(|v| candidate_number(v, n))
            .ok_or(Failure::UnparseableAnswer)
    };
    let (chosen, rejected) = (field("chosen")?, field("rejected")?);
    if chosen == rejected {
        return Err(Failure::SameChoice);
    }
    Ok(Ranking {
        chosen: chosen - 1,
        rejected: rejected - 1,
        explanation: answer[end + 1..].trim().to_string(),
    })
}

/// NeMo's judge over a chat endpoint.
pub struct NemoJudge {
    client: RemoteGenerator,
    name: String,
    system: String,
    max_tokens: usize,
}

/// One prompt's candidates to rank.
#[derive(Debug, Clone, Copy)]
pub struct Candidates<'a> {
    /// The human's request.
    pub prompt: &'a str,
    /// The answers, in sampling order.
    pub answers: &'a [String],
}

impl NemoJudge {
    /// A judge on `config`'s endpoints (OpenAI chat) under `principles`; answers up to
    /// `max_tokens` tokens (NeMo: 1024).
    pub fn new(
        config: RemoteConfig,
        principles: &[JudgePrinciple],
        max_tokens: usize,
    ) -> Result<Self> {
        let name = format!("{} at {}", config.model, config.endpoints.join(", "));
        Ok(Self {
            client: RemoteGenerator::new(config)?,
            name,
            system: system_prompt(principles),
            max_tokens,
        })
    }

    /// The judge's name, for records.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// One one-token chat request, to fail early when the endpoint is down.
    pub fn probe(&self) -> Result<()> {
        let request = GenerationRequest {
            prompt: Prompt::Chat(vec![Message::user("Say OK.")]),
            params: SamplingParams::greedy(1),
        };
        self.client.generate_one(&request)?;
        Ok(())
    }

    /// Ranks each prompt's candidates (temperature 0, as NeMo); a failure by reason where the
    /// answer is unusable or the request failed; an error when every request failed.
    pub fn rank(
        &self,
        items: &[Candidates<'_>],
    ) -> Result<Vec<std::result::Result<Ranking, Failure>>> {
        let requests: Vec<GenerationRequest> = items
            .iter()
            .map(|c| GenerationRequest {
                prompt: Prompt::Chat(vec![
                    Message::system(self.system.clone()),
                    Message::user(user_message(c.prompt, c.answers)),
                ]),
                params: SamplingParams::greedy(self.max_tokens),
            })
            .collect();
        let answers = self.client.generate_each(&requests);
        all_failed_is_an_error(&self.name, &answers)?;
        Ok(answers
            .iter()
            .zip(items)
            .map(|(a, c)| match a {
                Ok(g) => parse_ranking(&g.text, c.answers.len()),
                Err(e) => {
                    tracing::warn!(judge = %self.name, error = %e, "judge request failed");
                    Err(Failure::EndpointFailure)
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_message_is_nemos_layout() {
        let text = user_message("Hi?", &["a".into(), "b".into()]);
        assert_eq!(
            text,
            "\n FULL TEXT: Hi?\n #1: \n a\n\n #2: \n b\n\nNow, choose the pair of responses as instructed:"
        );
    }

    #[test]
    fn answers_parse_strictly() {
        let r = parse_ranking("{\"chosen\": 2, \"rejected\": 1} Because.", 4).unwrap();
        assert_eq!(
            (r.chosen, r.rejected, r.explanation.as_str()),
            (1, 0, "Because.")
        );
        let r = parse_ranking("Sure: {\"chosen\": \"#3\", \"rejected\": \"4\"}", 4).unwrap();
        assert_eq!((r.chosen, r.rejected), (2, 3));
        for bad in [
            "no json here",
            "{\"chosen\": 5, \"rejected\": 1}",
            "{\"chosen\": 0, \"rejected\": 1}",
            "{\"chosen\": \"1 or 2\", \"rejected\": 3}",
            "{'chosen': 1, 'rejected': 2}",
            "{\"chosen\": 1}",
            "} {",
        ] {
            assert_eq!(
                parse_ranking(bad, 4),
                Err(Failure::UnparseableAnswer),
                "{bad}"
            );
        }
        assert_eq!(
            parse_ranking("{\"chosen\": 2, \"rejected\": 2}", 4),
            Err(Failure::SameChoice)
        );
    }

    #[test]
    fn the_system_prompt_numbers_every_principle() {
        let principles: Vec<JudgePrinciple> = cai_data::Constitution::builtin().judge_principles;
        let text = system_prompt(&principles);
        assert!(text.contains(&format!(
            "{}. {}",
            principles.len(),
            principles.last().unwrap().text
        )));
        assert!(text.contains("{\"chosen\": x, \"rejected\": y}"));
    }
}
