//! Route handlers. Each turns an HTTP request into engine [`crate::queue::Job`]s and the results
//! into the API's response shape; none touches a tensor.

pub mod jobs;
pub mod nemo;
pub mod openai;

use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Json;
use axum::extract::State;
use axum::http::{Method, Uri};
use serde_json::{Value, json};

use crate::error::ServeError;
use crate::server::AppState;
use crate::wire::openai::{ModelCard, ModelList};

/// `GET /health`: liveness, the model, and the engine queue's counters (no authentication).
pub async fn health(State(state): State<AppState>) -> Json<Value> {
    let stats = state.queue.stats();
    let count = |c: &AtomicUsize| c.load(Ordering::Relaxed);
    Json(json!({
        "status": "ok",
        "model": state.config.model_name,
        "queued": count(&stats.queued),
        "batches": count(&stats.batches),
        "jobs": count(&stats.jobs),
        "largest_batch": count(&stats.largest_batch),
        "new_tokens": count(&stats.new_tokens),
        "cancelled": count(&stats.cancelled),
    }))
}

/// `GET /v1/models`: the one served model.
pub async fn models(State(state): State<AppState>) -> Json<ModelList> {
    Json(ModelList {
        object: "list".into(),
        data: vec![ModelCard {
            id: state.config.model_name.clone(),
            object: "model".into(),
            created: state.started,
            owned_by: "cai-rs".into(),
        }],
    })
}

/// Unknown routes: a JSON 404.
pub async fn not_found(uri: Uri) -> ServeError {
    ServeError::NotFound(format!("no route {}", uri.path()))
}

/// Known route, wrong method: a JSON 405.
pub async fn method_not_allowed(method: Method, uri: Uri) -> ServeError {
    ServeError::MethodNotAllowed(format!("{method} is not allowed on {}", uri.path()))
}
