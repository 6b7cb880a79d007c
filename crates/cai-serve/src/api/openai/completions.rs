//! `POST /v1/completions` (legacy text completions): text or token-id prompts, `n` choices per
//! prompt, `echo`, `logprobs: k`, optionally streamed.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use cai_model::Prompt;

use super::stream::{self, Kind};
use super::{Plan, finish_reason, logprobs, response_id, stop_reason, usage};
use crate::api::jobs;
use crate::error::{Result, ServeError};
use crate::extract::ApiJson;
use crate::server::{AppState, unix_now};
use crate::wire::openai::{
    Completion, CompletionChoice, CompletionRequest, Logprobs, MAX_TOP_LOGPROBS, PromptInput,
};

/// `POST /v1/completions`.
pub async fn complete(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CompletionRequest>,
) -> Result<Response> {
    if req.messages.is_some() {
        return Err(ServeError::bad_param(
            "messages",
            "not a completions field; use /v1/chat/completions",
        ));
    }
    let prompts = prompts(req.prompt.as_ref())?;
    let logprobs = match req.logprobs {
        None | Some(Logprobs::Flag(false)) => None,
        Some(Logprobs::Count(k)) if k as usize <= MAX_TOP_LOGPROBS => Some(k as usize),
        Some(other) => {
            return Err(ServeError::bad_param(
                "logprobs",
                format!("must be an integer in 0..={MAX_TOP_LOGPROBS}, got {other:?}"),
            ));
        }
    };
    let echo = req.echo.unwrap_or(false);
    if echo && logprobs.is_some() {
        return Err(ServeError::bad_param(
            "echo",
            "echo with logprobs is not supported",
        ));
    }
    let tokenizer = &state.queue.engine().model().tokenizer;
    let echoed: Vec<String> = if echo {
        prompts.iter().map(|p| prompt_text(tokenizer, p)).collect()
    } else {
        vec![String::new(); prompts.len()]
    };
    let plan = Plan::new(&req, &state.config, prompts, logprobs)?;
    let echoed: Vec<String> = echoed
        .into_iter()
        .flat_map(|e| std::iter::repeat_n(e, plan.n))
        .collect();
    if plan.stream {
        return stream::respond(state, plan, Kind::Completion { echo: echoed });
    }
    let finished = jobs::run(&state.queue, plan.requests.clone(), plan.extras()).await?;
    let choices = finished
        .iter()
        .zip(&echoed)
        .enumerate()
        .map(|(index, (f, prefix))| CompletionChoice {
            index,
            text: format!("{prefix}{}", f.generation.text),
            logprobs: plan.logprobs.map(|_| logprobs::completion(tokenizer, f, 0)),
            finish_reason: Some(finish_reason(&f.generation).into()),
            stop_reason: stop_reason(&f.generation),
        })
        .collect();
    Ok(Json(Completion {
        id: response_id("cmpl"),
        object: "text_completion".into(),
        created: unix_now(),
        model: state.config.model_name.clone(),
        choices,
        usage: Some(usage(&finished, plan.n)),
    })
    .into_response())
}

/// The prompt(s): text is tokenized by the engine (BOS when the model wants it), ids are used as
/// they are.
fn prompts(input: Option<&PromptInput>) -> Result<Vec<Prompt>> {
    let prompts = match input {
        None => return Err(ServeError::bad_param("prompt", "is required")),
        Some(PromptInput::Text(t)) => vec![Prompt::Text(t.clone())],
        Some(PromptInput::Texts(v)) => v.iter().cloned().map(Prompt::Text).collect(),
        Some(PromptInput::Tokens(ids)) => vec![Prompt::Tokens(ids.clone())],
        Some(PromptInput::TokenLists(v)) => v.iter().cloned().map(Prompt::Tokens).collect(),
    };
    if prompts.is_empty() {
        return Err(ServeError::bad_param("prompt", "must not be empty"));
    }
    Ok(prompts)
}

fn prompt_text(tokenizer: &cai_model::Tokenizer, prompt: &Prompt) -> String {
    match prompt {
        Prompt::Text(t) => t.clone(),
        Prompt::Tokens(ids) => tokenizer.decode(ids, false).unwrap_or_default(),
        Prompt::Chat(_) => String::new(),
    }
}
