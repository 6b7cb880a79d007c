//! `POST /v1/chat/completions`.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use cai_model::{Message, Prompt, Role};

use super::stream::{self, Kind};
use super::{Plan, finish_reason, logprobs, response_id, stop_reason, usage};
use crate::api::jobs;
use crate::error::{Result, ServeError};
use crate::extract::ApiJson;
use crate::server::{AppState, unix_now};
use crate::wire::openai::{
    AssistantMessage, ChatChoice, ChatCompletion, ChatMessage, CompletionRequest, Logprobs,
    MAX_TOP_LOGPROBS, MessageContent,
};

/// `POST /v1/chat/completions`: one conversation, `n` choices, optionally streamed.
pub async fn complete(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CompletionRequest>,
) -> Result<Response> {
    if req.prompt.is_some() {
        return Err(ServeError::bad_param(
            "prompt",
            "not a chat field; use /v1/completions",
        ));
    }
    let messages = messages(req.messages.as_deref())?;
    let plan = Plan::new(
        &req,
        &state.config,
        vec![Prompt::Chat(messages)],
        top_logprobs(&req)?,
    )?;
    if plan.stream {
        return stream::respond(state, plan, Kind::Chat);
    }
    let finished = jobs::run(&state.queue, plan.requests.clone(), plan.extras()).await?;
    let tokenizer = &state.queue.engine().model().tokenizer;
    let choices = finished
        .iter()
        .enumerate()
        .map(|(index, f)| ChatChoice {
            index,
            message: AssistantMessage {
                role: "assistant".into(),
                content: Some(f.generation.text.clone()),
            },
            logprobs: plan.logprobs.map(|_| logprobs::chat(tokenizer, f)),
            finish_reason: Some(finish_reason(&f.generation).into()),
            stop_reason: stop_reason(&f.generation),
        })
        .collect();
    Ok(Json(ChatCompletion {
        id: response_id("chatcmpl"),
        object: "chat.completion".into(),
        created: unix_now(),
        model: state.config.model_name.clone(),
        choices,
        usage: Some(usage(&finished, plan.n)),
    })
    .into_response())
}

/// `logprobs: true` + `top_logprobs: k` → `Some(k)`.
fn top_logprobs(req: &CompletionRequest) -> Result<Option<usize>> {
    let k = req.top_logprobs.unwrap_or(0) as usize;
    if k > MAX_TOP_LOGPROBS {
        return Err(ServeError::bad_param(
            "top_logprobs",
            format!("must be in 0..={MAX_TOP_LOGPROBS}, got {k}"),
        ));
    }
    match req.logprobs {
        Some(Logprobs::Flag(true)) => Ok(Some(k)),
        Some(Logprobs::Count(_)) => Err(ServeError::bad_param(
            "logprobs",
            "must be a boolean on chat completions (use top_logprobs for alternatives)",
        )),
        _ if k > 0 => Err(ServeError::bad_param(
            "top_logprobs",
            "requires logprobs: true",
        )),
        _ => Ok(None),
    }
}

/// OpenAI messages → model messages (`developer` is `system`; only text parts are supported).
fn messages(messages: Option<&[ChatMessage]>) -> Result<Vec<Message>> {
    let messages = messages.unwrap_or_default();
    if messages.is_empty() {
        return Err(ServeError::bad_param(
            "messages",
            "must be a non-empty list",
        ));
    }
    messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let role = match m.role.as_str() {
                "developer" | "system" => Role::System,
                "user" => Role::User,
                "assistant" => Role::Assistant,
                other => {
                    return Err(ServeError::bad_param(
                        &format!("messages[{i}].role"),
                        format!("unsupported role `{other}` (system, user, assistant)"),
                    ));
                }
            };
            let content = match &m.content {
                None => String::new(),
                Some(MessageContent::Text(t)) => t.clone(),
                Some(MessageContent::Parts(parts)) => parts
                    .iter()
                    .map(|p| match (p.kind.as_str(), &p.text) {
                        ("text", Some(t)) => Ok(t.as_str()),
                        (kind, _) => Err(ServeError::bad_param(
                            &format!("messages[{i}].content"),
                            format!("unsupported content part `{kind}` (only text)"),
                        )),
                    })
                    .collect::<Result<Vec<_>>>()?
                    .concat(),
            };
            Ok(Message::new(role, content))
        })
        .collect()
}
