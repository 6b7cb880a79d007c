//! `PUT /generate`, NeMo's text-generation server API: defaults and range checks as NeMo's server
//! (but bad input is a 400 with a JSON message, where NeMo answered 200 with a plain string),
//! `sentences` = prompt + generation with the end string, token strings, ids, offsets, log-probs.

use axum::Json;
use axum::extract::State;
use cai_model::{GenerationRequest, Message, Prompt, Role, SamplingParams, Tokenizer};

use super::jobs;
use crate::error::{Result, ServeError};
use crate::extract::ApiJson;
use crate::queue::{Extras, Finished};
use crate::server::AppState;
use crate::wire::nemo::{
    CollatedTurn, CompletionInfo, GenerateRequest, GenerateResponse, MAX_SENTENCES, Sentences,
};

/// NeMo's default `end_strings`.
pub const DEFAULT_END_STRINGS: [&str; 1] = ["<|endoftext|>"];

/// `PUT /generate`.
pub async fn generate(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<GenerateRequest>,
) -> Result<Json<GenerateResponse>> {
    let params = sampling(&req, state.config.max_tokens_cap)?;
    let extras = Extras {
        top_logprobs: 0,
        sequence_logprobs: req.compute_logprob.unwrap_or(false),
    };
    let prompts = prompts(&state, &req)?;
    let requests = prompts
        .iter()
        .map(|(_, ids)| GenerationRequest {
            prompt: Prompt::Tokens(ids.clone()),
            params: params.clone(),
        })
        .collect();
    let finished = jobs::run(&state.queue, requests, extras).await?;
    let tokenizer = &state.queue.engine().model().tokenizer;
    let texts: Vec<&str> = prompts.iter().map(|(text, _)| text.as_str()).collect();
    Ok(Json(response(
        tokenizer,
        &texts,
        finished,
        extras.sequence_logprobs,
    )))
}

/// NeMo's defaults and range checks, mapped onto [`SamplingParams`].
fn sampling(req: &GenerateRequest, cap: usize) -> Result<SamplingParams> {
    if req.all_probs == Some(true) {
        return Err(ServeError::bad_param(
            "all_probs",
            "full distributions are not supported; use compute_logprob",
        ));
    }
    let greedy = req.greedy.unwrap_or(false);
    let tokens = req.tokens_to_generate.unwrap_or(64) as usize;
    if tokens == 0 || tokens > cap {
        return Err(ServeError::bad_param(
            "tokens_to_generate",
            format!("must be in 1..={cap}, got {tokens}"),
        ));
    }
    let temperature = req.temperature.unwrap_or(1.0);
    // NeMo requires 0 < t ≤ 100; greedy decoding ignores it, so 0 is tolerated there.
    let lowest_ok = if greedy {
        temperature >= 0.0
    } else {
        temperature > 0.0
    };
    if !(lowest_ok && temperature <= 100.0) {
        return Err(ServeError::bad_param(
            "temperature",
            format!("must be in (0, 100], got {temperature}"),
        ));
    }
    let top_p = req.top_p.unwrap_or(0.9);
    if !(0.0..=1.0).contains(&top_p) {
        return Err(ServeError::bad_param(
            "top_p",
            format!("must be in [0, 1], got {top_p}"),
        ));
    }
    let repetition_penalty = req.repetition_penalty.unwrap_or(1.0);
    if !(repetition_penalty >= 1.0 && repetition_penalty.is_finite()) {
        return Err(ServeError::bad_param(
            "repetition_penalty",
            format!("must be ≥ 1, got {repetition_penalty}"),
        ));
    }
    let min_tokens = req.min_tokens_to_generate.unwrap_or(0) as usize;
    if min_tokens > tokens {
        return Err(ServeError::bad_param(
            "min_tokens_to_generate",
            format!("{min_tokens} exceeds tokens_to_generate {tokens}"),
        ));
    }
    let end_strings = req
        .end_strings
        .clone()
        .unwrap_or_else(|| DEFAULT_END_STRINGS.map(String::from).to_vec());
    if end_strings.iter().any(String::is_empty) {
        return Err(ServeError::bad_param(
            "end_strings",
            "empty strings are not allowed",
        ));
    }
    Ok(SamplingParams {
        greedy,
        temperature: if greedy { 1.0 } else { temperature as f32 },
        top_k: req.top_k.unwrap_or(0) as usize,
        // NeMo reads top_p = 0 as "off".
        top_p: if top_p == 0.0 { 1.0 } else { top_p as f32 },
        min_p: 0.0,
        repetition_penalty: repetition_penalty as f32,
        penalize_prompt: req.penalize_prompt.unwrap_or(true),
        min_tokens_to_generate: min_tokens,
        tokens_to_generate: tokens,
        end_strings,
        random_seed: req.random_seed,
        ignore_eos: false,
    })
}

/// Each prompt's text (the start of its `sentence`) and token ids: strings are tokenized as they
/// are (special tokens matched, BOS only with `add_BOS`); chats are rendered with the template.
fn prompts(state: &AppState, req: &GenerateRequest) -> Result<Vec<(String, Vec<u32>)>> {
    let model = state.queue.engine().model();
    let texts = match &req.sentences {
        Sentences::Texts(texts) => texts.clone(),
        Sentences::Chats(turns) => {
            let template = model.template()?;
            conversations(turns)?
                .iter()
                .map(|c| template.render(c, true))
                .collect::<cai_model::Result<_>>()?
        }
    };
    if texts.is_empty() {
        return Err(ServeError::bad_param("sentences", "must not be empty"));
    }
    if texts.len() > MAX_SENTENCES || req_len(&req.sentences) > MAX_SENTENCES {
        return Err(ServeError::bad_param(
            "sentences",
            format!("Maximum number of sentences is {MAX_SENTENCES}"),
        ));
    }
    let bos = match (req.add_bos.unwrap_or(false), model.config.bos_token_id) {
        (true, Some(id)) => Some(id),
        (true, None) => {
            return Err(ServeError::bad_param(
                "add_BOS",
                "the model has no BOS token",
            ));
        }
        (false, _) => None,
    };
    texts
        .into_iter()
        .enumerate()
        .map(|(i, text)| {
            let mut ids = model.tokenizer.encode_raw(&text)?;
            if let Some(bos) = bos {
                ids.insert(0, bos);
            }
            if ids.is_empty() {
                return Err(ServeError::bad_param(
                    &format!("sentences[{i}]"),
                    "empty prompt",
                ));
            }
            Ok((text, ids))
        })
        .collect()
}

fn req_len(sentences: &Sentences) -> usize {
    match sentences {
        Sentences::Texts(t) => t.len(),
        Sentences::Chats(t) => t.len(),
    }
}

/// Un-collates NeMo's chat form into one message list per conversation (inverse of
/// [`crate::wire::nemo::collate`]).
pub fn conversations(turns: &[CollatedTurn]) -> Result<Vec<Vec<Message>>> {
    let Some(first) = turns.first() else {
        return Ok(Vec::new());
    };
    let batch = first.role.len();
    let mut out = vec![Vec::with_capacity(turns.len()); batch];
    for (t, turn) in turns.iter().enumerate() {
        if turn.role.len() != batch || turn.content.len() != batch {
            return Err(ServeError::bad_param(
                &format!("sentences[{t}]"),
                format!("every turn needs {batch} roles and contents (one per conversation)"),
            ));
        }
        for (b, (role, content)) in turn.role.iter().zip(&turn.content).enumerate() {
            let role = Role::parse(role).ok_or_else(|| {
                ServeError::bad_param(
                    &format!("sentences[{t}].role[{b}]"),
                    format!("unknown role `{role}` (system, user, assistant)"),
                )
            })?;
            out[b].push(Message::new(role, content.clone()));
        }
    }
    Ok(out)
}

fn response(
    tokenizer: &Tokenizer,
    prompts: &[&str],
    finished: Vec<Finished>,
    with_logprobs: bool,
) -> GenerateResponse {
    let mut out = GenerateResponse {
        sentences: Vec::new(),
        tokens: Vec::new(),
        token_ids: Vec::new(),
        logprob: with_logprobs.then(Vec::new),
        offsets: Vec::new(),
        cai_completions: Some(Vec::new()),
    };
    for (prompt, f) in prompts.iter().zip(finished) {
        let g = f.generation;
        let stop = g.stop_string.clone().unwrap_or_default();
        out.sentences.push(format!("{prompt}{}{stop}", g.text));
        let ids: Vec<u32> = f.prompt_ids.iter().chain(&g.token_ids).copied().collect();
        let tokens: Vec<String> = ids
            .iter()
            .map(|&id| tokenizer.decode(&[id], false).unwrap_or_default())
            .collect();
        let offsets = tokens
            .iter()
            .scan(0, |at, t| {
                let start = *at;
                *at += t.chars().count();
                Some(start)
            })
            .collect();
        out.tokens.push(tokens);
        out.token_ids.push(ids);
        out.offsets.push(offsets);
        if let Some(lp) = out.logprob.as_mut() {
            lp.push(f.scores.map(|s| s.sequence).unwrap_or_default());
        }
        if let Some(c) = out.cai_completions.as_mut() {
            c.push(CompletionInfo {
                text: g.text,
                finish_reason: g.finish_reason,
                stop_string: g.stop_string,
                prompt_tokens: g.prompt_tokens,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::nemo::collate;

    #[test]
    fn collate_and_explode_are_inverse() {
        let convs = vec![
            vec![Message::user("a"), Message::assistant("b")],
            vec![Message::user("c"), Message::assistant("d")],
        ];
        let turns = collate(&convs);
        assert_eq!(turns[0].role, ["user", "user"]);
        assert_eq!(turns[1].content, ["b", "d"]);
        assert_eq!(conversations(&turns).unwrap(), convs);
    }

    #[test]
    fn ragged_turns_are_rejected() {
        let turns = vec![CollatedTurn {
            role: vec!["User".into(), "User".into()],
            content: vec!["only one".into()],
        }];
        assert!(conversations(&turns).is_err());
    }

    #[test]
    fn nemo_defaults_and_ranges() {
        let req: GenerateRequest = serde_json::from_str(r#"{"sentences": ["x"]}"#).unwrap();
        let p = sampling(&req, 4096).unwrap();
        assert_eq!(p.tokens_to_generate, 64);
        assert_eq!(p.top_p, 0.9);
        assert_eq!(p.end_strings, ["<|endoftext|>"]);
        let bad = |json: &str| {
            let req: GenerateRequest = serde_json::from_str(json).unwrap();
            sampling(&req, 4096).unwrap_err().to_string()
        };
        assert!(bad(r#"{"sentences": ["x"], "temperature": 0}"#).starts_with("temperature"));
        assert!(bad(r#"{"sentences": ["x"], "top_p": 1.5}"#).starts_with("top_p"));
        assert!(bad(r#"{"sentences": ["x"], "tokens_to_generate": 5000}"#).contains("1..=4096"));
        assert!(bad(r#"{"sentences": ["x"], "all_probs": true}"#).starts_with("all_probs"));
        assert!(
            bad(r#"{"sentences": ["x"], "repetition_penalty": 0.5}"#).starts_with("repetition")
        );
    }

    #[test]
    fn penalize_prompt_defaults_to_true() {
        let parse = |json: &str| {
            let req: GenerateRequest = serde_json::from_str(json).unwrap();
            sampling(&req, 4096).unwrap().penalize_prompt
        };
        assert!(parse(r#"{"sentences": ["x"]}"#));
        assert!(!parse(r#"{"sentences": ["x"], "penalize_prompt": false}"#));
    }
}
