//! [`GenerationRequest`] → request bodies, and response bodies → [`Generation`].
//!
//! OpenAI answers carry no token ids or per-token log-probs unless asked; the client does not ask
//! (hosted judges may refuse), so those stay empty. `finish_reason: "stop"` with a string
//! `stop_reason` (cai-serve, vLLM) is [`FinishReason::Stop`]; otherwise it is read as EOS.

use cai_data::generation::{FinishReason, Generation, GenerationRequest, Prompt, SamplingParams};
use serde_json::Value;

use crate::error::{ClientError, Result};
use crate::wire::nemo::{GenerateRequest, GenerateResponse, Sentences, collate};
use crate::wire::openai::{
    ChatCompletion, ChatMessage, Completion, CompletionRequest, MessageContent, PromptInput, Stop,
};

/// A `/generate` body. NeMo has no `ignore_eos`, `min_p` or token prompts: those are refused.
pub fn nemo_request(request: &GenerationRequest) -> Result<GenerateRequest> {
    let p = &request.params;
    if p.ignore_eos || p.min_p > 0.0 {
        return Err(ClientError::BadRequest(
            "NeMo's /generate has no ignore_eos or min_p".into(),
        ));
    }
    let sentences = match &request.prompt {
        Prompt::Text(t) => Sentences::Texts(vec![t.clone()]),
        Prompt::Chat(messages) => Sentences::Chats(collate(std::slice::from_ref(messages))),
        Prompt::Tokens(_) => {
            return Err(ClientError::BadRequest(
                "token prompts need the OpenAI completions API, not NeMo's /generate".into(),
            ));
        }
    };
    Ok(GenerateRequest {
        sentences,
        tokens_to_generate: Some(p.tokens_to_generate as u64),
        temperature: (!p.greedy).then_some(p.temperature as f64),
        add_bos: None,
        greedy: Some(p.greedy),
        top_k: Some(p.top_k as u64),
        top_p: Some(p.top_p as f64),
        repetition_penalty: Some(p.repetition_penalty as f64),
        penalize_prompt: (!p.penalize_prompt).then_some(false),
        min_tokens_to_generate: Some(p.min_tokens_to_generate as u64),
        end_strings: Some(p.end_strings.clone()),
        compute_logprob: None,
        all_probs: None,
        random_seed: p.random_seed,
    })
}

/// Reads the single sentence of a `/generate` answer. With cai-serve's extension the split is
/// exact; from NeMo itself, a text prompt's generation is `sentence[len(prompt)..]` with a trailing
/// end string removed.
pub fn from_nemo(request: &GenerationRequest, resp: GenerateResponse) -> Result<Generation> {
    let malformed = |what: &str| ClientError::Transport {
        endpoint: "/generate".into(),
        reason: format!("malformed answer: {what}"),
    };
    let ids = resp.token_ids.into_iter().next().unwrap_or_default();
    if let Some(info) = resp.cai_completions.and_then(|c| c.into_iter().next()) {
        let token_ids = ids.get(info.prompt_tokens..).unwrap_or_default().to_vec();
        return Ok(Generation {
            text: info.text,
            token_ids,
            logprobs: Vec::new(),
            sampling_logprobs: Vec::new(),
            finish_reason: info.finish_reason,
            stop_string: info.stop_string,
            prompt_tokens: info.prompt_tokens,
        });
    }
    let Prompt::Text(prompt) = &request.prompt else {
        return Err(malformed(
            "chat prompts need the cai_completions extension (use the OpenAI API)",
        ));
    };
    let sentence = resp
        .sentences
        .into_iter()
        .next()
        .ok_or_else(|| malformed("no sentence"))?;
    let generated = sentence
        .strip_prefix(prompt.as_str())
        .ok_or_else(|| malformed("the sentence does not start with the prompt"))?;
    let stop = request
        .params
        .end_strings
        .iter()
        .find(|s| generated.ends_with(s.as_str()))
        .cloned();
    let text = match &stop {
        Some(s) => generated[..generated.len() - s.len()].to_string(),
        None => generated.to_string(),
    };
    Ok(Generation {
        text,
        token_ids: Vec::new(),
        logprobs: Vec::new(),
        sampling_logprobs: Vec::new(),
        finish_reason: if stop.is_some() {
            FinishReason::Stop
        } else {
            FinishReason::Eos
        },
        stop_string: stop,
        prompt_tokens: 0,
    })
}

/// The OpenAI path (`chat/completions` for chats, `completions` otherwise) and body. Sampling
/// extras use vLLM's names and are sent only when they differ from the defaults.
pub fn openai_request(
    request: &GenerationRequest,
    model: &str,
) -> (&'static str, CompletionRequest) {
    let p: &SamplingParams = &request.params;
    let mut body = CompletionRequest {
        model: Some(model.to_string()),
        max_tokens: Some(p.tokens_to_generate as u64),
        temperature: Some(if p.greedy { 0.0 } else { p.temperature as f64 }),
        top_p: (!p.greedy && p.top_p < 1.0).then_some(p.top_p as f64),
        top_k: (!p.greedy && p.top_k > 0).then_some(p.top_k as i64),
        min_p: (!p.greedy && p.min_p > 0.0).then_some(p.min_p as f64),
        repetition_penalty: (p.repetition_penalty != 1.0).then_some(p.repetition_penalty as f64),
        penalize_prompt: (!p.penalize_prompt).then_some(false),
        min_tokens: (p.min_tokens_to_generate > 0).then_some(p.min_tokens_to_generate as u64),
        ignore_eos: p.ignore_eos.then_some(true),
        stop: (!p.end_strings.is_empty()).then(|| Stop::Many(p.end_strings.clone())),
        seed: p.random_seed.map(|s| s as i64),
        ..CompletionRequest::default()
    };
    match &request.prompt {
        Prompt::Chat(messages) => {
            body.messages = Some(
                messages
                    .iter()
                    .map(|m| ChatMessage {
                        role: m.role.as_str().to_string(),
                        content: Some(MessageContent::Text(m.content.clone())),
                    })
                    .collect(),
            );
            ("chat/completions", body)
        }
        Prompt::Text(t) => {
            body.prompt = Some(PromptInput::Text(t.clone()));
            ("completions", body)
        }
        Prompt::Tokens(ids) => {
            body.prompt = Some(PromptInput::Tokens(ids.clone()));
            ("completions", body)
        }
    }
}

/// An OpenAI answer of either endpoint.
#[derive(Debug, serde::Deserialize)]
#[serde(untagged)]
pub enum OpenAiAnswer {
    /// `chat.completion`.
    Chat(ChatCompletion),
    /// `text_completion`.
    Text(Completion),
}

/// Reads the first choice.
pub fn from_openai(answer: OpenAiAnswer) -> Result<Generation> {
    let (text, finish, stop_reason, usage) = match answer {
        OpenAiAnswer::Chat(c) => {
            let choice = c.choices.into_iter().next();
            let usage = c.usage;
            let choice = choice.ok_or_else(no_choice)?;
            (
                choice.message.content.unwrap_or_default(),
                choice.finish_reason,
                choice.stop_reason,
                usage,
            )
        }
        OpenAiAnswer::Text(c) => {
            let usage = c.usage;
            let choice = c.choices.into_iter().next().ok_or_else(no_choice)?;
            (choice.text, choice.finish_reason, choice.stop_reason, usage)
        }
    };
    let stop_string = match stop_reason {
        Some(Value::String(s)) => Some(s),
        _ => None,
    };
    let finish_reason = match (finish.as_deref(), &stop_string) {
        (Some("length"), _) => FinishReason::Length,
        (_, Some(_)) => FinishReason::Stop,
        _ => FinishReason::Eos,
    };
    Ok(Generation {
        text,
        token_ids: Vec::new(),
        logprobs: Vec::new(),
        sampling_logprobs: Vec::new(),
        finish_reason,
        stop_string,
        prompt_tokens: usage.map_or(0, |u| u.prompt_tokens),
    })
}

fn no_choice() -> ClientError {
    ClientError::Transport {
        endpoint: "openai".into(),
        reason: "malformed answer: no choices".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cai_data::Message;
    use serde_json::json;

    fn request(prompt: Prompt, params: SamplingParams) -> GenerationRequest {
        GenerationRequest { prompt, params }
    }

    #[test]
    fn nemo_bodies_collate_chats_and_refuse_what_nemo_lacks() {
        let chat = request(
            Prompt::Chat(vec![Message::user("Hi"), Message::assistant("Hello")]),
            SamplingParams::greedy(8),
        );
        let body = serde_json::to_value(nemo_request(&chat).unwrap()).unwrap();
        assert_eq!(
            body["sentences"],
            json!([{"role": ["user"], "content": ["Hi"]}, {"role": ["assistant"], "content": ["Hello"]}])
        );
        assert_eq!(
            (&body["greedy"], &body["tokens_to_generate"]),
            (&json!(true), &json!(8))
        );
        assert!(
            body.get("temperature").is_none(),
            "greedy sends no temperature"
        );
        let tokens = request(Prompt::Tokens(vec![1, 2]), SamplingParams::greedy(8));
        assert!(matches!(
            nemo_request(&tokens),
            Err(ClientError::BadRequest(_))
        ));
        let min_p = SamplingParams {
            min_p: 0.1,
            ..SamplingParams::greedy(8)
        };
        let text = request(Prompt::Text("x".into()), min_p);
        assert!(matches!(
            nemo_request(&text),
            Err(ClientError::BadRequest(_))
        ));
    }

    #[test]
    fn penalize_prompt_is_sent_only_when_false() {
        let params = |penalize_prompt| SamplingParams {
            repetition_penalty: 1.2,
            penalize_prompt,
            ..SamplingParams::greedy(8)
        };
        for (penalize_prompt, want) in [(true, None), (false, Some(json!(false)))] {
            let req = request(Prompt::Text("x".into()), params(penalize_prompt));
            let nemo = serde_json::to_value(nemo_request(&req).unwrap()).unwrap();
            let (_, openai) = openai_request(&req, "m");
            let openai = serde_json::to_value(openai).unwrap();
            for body in [nemo, openai] {
                assert_eq!(body.get("penalize_prompt"), want.as_ref(), "{body}");
            }
        }
    }

    #[test]
    fn plain_nemo_answers_are_split_at_the_prompt_and_the_end_string() {
        let params = SamplingParams {
            end_strings: vec!["<|endoftext|>".into()],
            ..SamplingParams::greedy(8)
        };
        let req = request(Prompt::Text("Q: ".into()), params);
        let resp: GenerateResponse = serde_json::from_value(json!({
            "sentences": ["Q: A.<|endoftext|>"], "tokens": [[]], "token_ids": [[]],
            "logprob": null, "offsets": [[]]
        }))
        .unwrap();
        let g = from_nemo(&req, resp).unwrap();
        assert_eq!(
            (g.text.as_str(), g.finish_reason),
            ("A.", FinishReason::Stop)
        );
        assert_eq!(g.stop_string.as_deref(), Some("<|endoftext|>"));
    }

    #[test]
    fn openai_bodies_and_answers() {
        let req = request(Prompt::Text("x".into()), SamplingParams::greedy(5));
        let (path, body) = openai_request(&req, "m");
        assert_eq!(path, "completions");
        let body = serde_json::to_value(body).unwrap();
        assert_eq!(
            (&body["model"], &body["temperature"], &body["max_tokens"]),
            (&json!("m"), &json!(0.0), &json!(5))
        );
        assert!(body.get("top_p").is_none() && body.get("top_k").is_none());
        let answer = |finish: &str, stop: Value| -> OpenAiAnswer {
            serde_json::from_value(json!({
                "id": "c", "object": "text_completion", "created": 0, "model": "m",
                "choices": [{"index": 0, "text": "y", "finish_reason": finish, "stop_reason": stop}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
            }))
            .unwrap()
        };
        let g = from_openai(answer("length", Value::Null)).unwrap();
        assert_eq!(
            (g.finish_reason, g.prompt_tokens),
            (FinishReason::Length, 3)
        );
        let g = from_openai(answer("stop", json!("."))).unwrap();
        assert_eq!(
            (g.finish_reason, g.stop_string.as_deref()),
            (FinishReason::Stop, Some("."))
        );
        assert_eq!(
            from_openai(answer("stop", Value::Null))
                .unwrap()
                .finish_reason,
            FinishReason::Eos
        );
    }
}
