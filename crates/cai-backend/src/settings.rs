//! What a backend is built from, and the record of that choice for summaries.

use cai_client::RemoteApi;
use serde::Serialize;

/// The generation settings a stage's configuration resolves to.
#[derive(Debug, Clone, PartialEq)]
pub struct BackendSettings {
    /// The model: a `.gguf` file, a Hugging Face directory, `hf:REPO`, or `default`.
    pub model: String,
    /// A built-in chat template overriding the model's own.
    pub chat_template: Option<String>,
    /// Device of the in-process engine (`cpu`, `cuda:0`, …).
    pub device: String,
    /// Compute dtype of the in-process engine.
    pub dtype: String,
    /// Remote endpoints; empty means the in-process engine.
    pub endpoints: Vec<String>,
    /// The endpoints' API.
    pub api: RemoteApi,
    /// Environment variable holding the endpoints' API key.
    pub api_key_env: String,
    /// The `model` of OpenAI requests.
    pub remote_model: String,
    /// Requests in flight per endpoint.
    pub concurrency: usize,
    /// Timeout of one request, in seconds.
    pub request_timeout_secs: u64,
    /// Whether the run counts tokens (with endpoints this reads the model's text side).
    pub count_tokens: bool,
}

impl From<&BackendSettings> for BackendSettings {
    fn from(settings: &BackendSettings) -> Self {
        settings.clone()
    }
}

/// Which generator a run used, for `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GeneratorInfo {
    /// The in-process engine.
    Local {
        /// The model as configured.
        model: String,
        /// Its device.
        device: String,
        /// Its compute dtype.
        dtype: String,
    },
    /// Remote endpoints.
    Endpoints {
        /// Their API.
        api: RemoteApi,
        /// Their URLs.
        endpoints: Vec<String>,
        /// The `model` of OpenAI requests (`null` with NeMo's API, which has none).
        remote_model: Option<String>,
        /// Requests in flight per endpoint.
        concurrency: usize,
    },
}

impl GeneratorInfo {
    /// The generator `settings` select (anything convertible: a stage passes its configuration).
    pub fn of(settings: impl Into<BackendSettings>) -> Self {
        let settings = settings.into();
        if settings.endpoints.is_empty() {
            Self::Local {
                model: settings.model.clone(),
                device: settings.device.clone(),
                dtype: settings.dtype.clone(),
            }
        } else {
            Self::Endpoints {
                api: settings.api,
                endpoints: settings.endpoints,
                remote_model: (settings.api == RemoteApi::OpenAi)
                    .then(|| settings.remote_model.clone()),
                concurrency: settings.concurrency,
            }
        }
    }
}
