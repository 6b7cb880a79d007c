//! Server-sent events for `stream: true`. The engine already holds back text that could start a
//! stop string; this pump forwards each delta as a chunk, and when a choice finishes it sends any
//! final text not streamed yet (so the last token is never dropped), its log-probs, and its
//! `finish_reason`. Then an optional usage chunk and `data: [DONE]`.

use std::convert::Infallible;

use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::{Plan, finish_reason, logprobs, response_id, stop_reason, usage};
use crate::api::jobs::{self, Events};
use crate::error::{Result, ServeError};
use crate::queue::{Event, Finished};
use crate::server::{AppState, unix_now};
use crate::wire::openai::{ChatChunk, ChunkChoice, Completion, CompletionChoice, Delta, Usage};

/// Which chunk shape to stream.
#[derive(Debug, Clone)]
pub enum Kind {
    /// `chat.completion.chunk`.
    Chat,
    /// `text_completion` chunks; `echo[i]` is sent first for choice `i`.
    Completion {
        /// Text to send before choice `i`'s generation (the prompt with `echo`, else empty).
        echo: Vec<String>,
    },
}

/// Submits the plan's jobs (a full queue is still an HTTP 503) and streams their events.
pub fn respond(state: AppState, plan: Plan, kind: Kind) -> Result<Response> {
    let events = jobs::submit(&state.queue, plan.requests.clone(), plan.extras())?;
    let (tx, rx) = mpsc::channel::<std::result::Result<SseEvent, Infallible>>(64);
    let pump = Pump {
        chunks: Chunks {
            id: response_id(match kind {
                Kind::Chat => "chatcmpl",
                Kind::Completion { .. } => "cmpl",
            }),
            created: unix_now(),
            model: state.config.model_name.clone(),
            kind,
        },
        state,
        plan,
        tx,
    };
    tokio::spawn(pump.run(events));
    Ok(Sse::new(ReceiverStream::new(rx))
        .keep_alive(KeepAlive::default())
        .into_response())
}

struct Pump {
    chunks: Chunks,
    state: AppState,
    plan: Plan,
    tx: mpsc::Sender<std::result::Result<SseEvent, Infallible>>,
}

impl Pump {
    /// Forwards events until every choice is done; stops early if the client hangs up.
    async fn run(self, mut events: Events) {
        let total = self.plan.requests.len();
        let mut streamed = vec![String::new(); total];
        let mut finished: Vec<Option<Finished>> = vec![None; total];
        for index in 0..total {
            if let Some(first) = self.chunks.start(index)
                && !self.send(&first).await
            {
                return;
            }
        }
        let mut remaining = total;
        while remaining > 0 {
            // A client that hung up drops `events`, which cancels its jobs in the engine.
            let received = tokio::select! {
                received = events.recv() => received,
                () = self.tx.closed() => return,
            };
            let Some((index, event)) = received else {
                let error = ServeError::Engine("the engine dropped a request".into());
                return self.fail(error).await;
            };
            match event {
                Event::Delta(text) => {
                    streamed[index].push_str(&text);
                    if !self.send(&self.chunks.text(index, text)).await {
                        return;
                    }
                }
                Event::Done(f) => {
                    let rest = f.generation.text.strip_prefix(streamed[index].as_str());
                    if let Some(rest) = rest.filter(|r| !r.is_empty())
                        && !self.send(&self.chunks.text(index, rest.to_string())).await
                    {
                        return;
                    }
                    if !self
                        .send(&self.chunks.finish(index, &f, &self.state, &self.plan))
                        .await
                    {
                        return;
                    }
                    finished[index] = Some(*f);
                    remaining -= 1;
                }
                Event::Failed(e) => return self.fail(e).await,
            }
        }
        if self.plan.include_usage {
            let done: Vec<Finished> = finished.into_iter().flatten().collect();
            if !self
                .send(&self.chunks.usage(usage(&done, self.plan.n)))
                .await
            {
                return;
            }
        }
        let _ = self.tx.send(Ok(SseEvent::default().data("[DONE]"))).await;
    }

    /// Sends one JSON chunk; `false` when the client is gone.
    async fn send(&self, chunk: &impl Serialize) -> bool {
        let event = SseEvent::default()
            .json_data(chunk)
            .unwrap_or_else(|e| SseEvent::default().data(format!("{{\"error\": \"{e}\"}}")));
        self.tx.send(Ok(event)).await.is_ok()
    }

    async fn fail(&self, error: ServeError) {
        tracing::error!(%error, "stream failed");
        let body = serde_json::json!({
            "error": {"message": error.to_string(), "type": "server_error", "code": error.status().as_u16()}
        });
        if self.send(&body).await {
            let _ = self.tx.send(Ok(SseEvent::default().data("[DONE]"))).await;
        }
    }
}

/// Builds the chunks of one response (same id, time and model throughout).
struct Chunks {
    id: String,
    created: u64,
    model: String,
    kind: Kind,
}

impl Chunks {
    fn chat(&self, choices: Vec<ChunkChoice>, usage: Option<Usage>) -> serde_json::Value {
        serde_json::to_value(ChatChunk {
            id: self.id.clone(),
            object: "chat.completion.chunk".into(),
            created: self.created,
            model: self.model.clone(),
            choices,
            usage,
        })
        .unwrap_or_default()
    }

    fn completion(
        &self,
        choices: Vec<CompletionChoice>,
        usage: Option<Usage>,
    ) -> serde_json::Value {
        serde_json::to_value(Completion {
            id: self.id.clone(),
            object: "text_completion".into(),
            created: self.created,
            model: self.model.clone(),
            choices,
            usage,
        })
        .unwrap_or_default()
    }

    /// The opening chunk of a choice: the assistant role (chat) or the echoed prompt.
    fn start(&self, index: usize) -> Option<serde_json::Value> {
        match &self.kind {
            Kind::Chat => Some(self.chat(
                vec![ChunkChoice {
                    index,
                    delta: Delta {
                        role: Some("assistant".into()),
                        content: Some(String::new()),
                    },
                    logprobs: None,
                    finish_reason: None,
                }],
                None,
            )),
            Kind::Completion { echo } => echo
                .get(index)
                .filter(|e| !e.is_empty())
                .map(|e| self.text(index, e.clone())),
        }
    }

    fn text(&self, index: usize, text: String) -> serde_json::Value {
        match &self.kind {
            Kind::Chat => self.chat(
                vec![ChunkChoice {
                    index,
                    delta: Delta {
                        role: None,
                        content: Some(text),
                    },
                    logprobs: None,
                    finish_reason: None,
                }],
                None,
            ),
            Kind::Completion { .. } => self.completion(
                vec![CompletionChoice {
                    index,
                    text,
                    logprobs: None,
                    finish_reason: None,
                    stop_reason: None,
                }],
                None,
            ),
        }
    }

    /// The closing chunk of a choice: its log-probs (all tokens at once) and finish reason.
    fn finish(
        &self,
        index: usize,
        f: &Finished,
        state: &AppState,
        plan: &Plan,
    ) -> serde_json::Value {
        let tokenizer = &state.queue.engine().model().tokenizer;
        let reason = Some(finish_reason(&f.generation).to_string());
        match &self.kind {
            Kind::Chat => self.chat(
                vec![ChunkChoice {
                    index,
                    delta: Delta::default(),
                    logprobs: plan.logprobs.map(|_| logprobs::chat(tokenizer, f)),
                    finish_reason: reason,
                }],
                None,
            ),
            Kind::Completion { echo } => {
                let start = echo.get(index).map_or(0, |e| e.chars().count());
                self.completion(
                    vec![CompletionChoice {
                        index,
                        text: String::new(),
                        logprobs: plan
                            .logprobs
                            .map(|_| logprobs::completion(tokenizer, f, start)),
                        finish_reason: reason,
                        stop_reason: stop_reason(&f.generation),
                    }],
                    None,
                )
            }
        }
    }

    fn usage(&self, usage: Usage) -> serde_json::Value {
        match &self.kind {
            Kind::Chat => self.chat(Vec::new(), Some(usage)),
            Kind::Completion { .. } => self.completion(Vec::new(), Some(usage)),
        }
    }
}
