//! The generators and token counter of a run: the in-process engine, or remote endpoints through
//! `cai-client`'s [`RemoteGenerator`] when endpoints are given.
//!
//! With endpoints no engine is built and the endpoints render the chat template themselves; the
//! model's weights are not loaded, only its text side ([`ChatCodec`]) for counting tokens, and
//! without token counting not even that.

use std::sync::Arc;
use std::time::Duration;

use cai_client::{RemoteConfig, RemoteGenerator};
use cai_data::Generator;
use cai_model::device::{parse_device, parse_dtype};
use cai_model::{ChatCodec, Engine, LoadOptions, LoadedModel, LocalModel, ModelSpec};

use crate::counter::TokenCounter;
use crate::error::{BackendError, Result};
use crate::settings::BackendSettings;

/// The generators and token counter of a run, built from its [`BackendSettings`].
pub struct Backend {
    model: Option<Arc<LoadedModel>>,
    /// The text side of the model, when endpoints generate and tokens are counted without a
    /// loaded model.
    codec: Option<ChatCodec>,
    generator: Source,
    template: String,
}

/// Where generations come from.
enum Source {
    /// The in-process engine.
    Engine(Engine),
    /// Remote endpoints, and how many batches run at once (one per endpoint).
    Remote(RemoteGenerator, usize),
}

impl Backend {
    /// Loads what `settings` need: the model and the engine, or the remote client (and, to count
    /// tokens, the model's text side).
    pub fn load(settings: &BackendSettings) -> Result<Self> {
        let model = if Self::loads_model(settings) {
            Some(Arc::new(load_model(settings)?))
        } else {
            None
        };
        Self::with_model(settings, model)
    }

    /// Whether [`Backend::load`] loads the model's weights: only for the in-process engine.
    pub fn loads_model(settings: &BackendSettings) -> bool {
        settings.endpoints.is_empty()
    }

    /// As [`Backend::load`] with a model already loaded (it must be `settings.model` with
    /// `settings.chat_template`); required without endpoints. With endpoints, a model given here
    /// counts the tokens; without one, its text side is read for that.
    pub fn with_model(settings: &BackendSettings, model: Option<Arc<LoadedModel>>) -> Result<Self> {
        let template_of = |origin: &LocalModel| match &settings.chat_template {
            Some(name) => name.clone(),
            None => format!("model's own ({})", origin.path().display()),
        };
        if settings.endpoints.is_empty() {
            let model = model.ok_or_else(|| {
                BackendError::Invalid(
                    "the in-process engine needs a model (or give endpoints)".into(),
                )
            })?;
            return Ok(Self {
                template: template_of(&model.origin),
                generator: Source::Engine(Engine::new(model.clone())),
                model: Some(model),
                codec: None,
            });
        }
        if settings.chat_template.is_some() {
            tracing::warn!(
                "chat_template only affects token counting with endpoints: they render with their own"
            );
        }
        let remote = RemoteGenerator::new(remote_config(settings))?;
        tracing::info!(generator = %remote.describe(), "generating through remote endpoints");
        let codec = match (&model, settings.count_tokens) {
            (None, true) => Some(ChatCodec::load(
                &ModelSpec::parse(&settings.model)?,
                settings.chat_template.as_deref(),
            )?),
            _ => None,
        };
        let origin = model
            .as_ref()
            .map(|m| &m.origin)
            .or(codec.as_ref().map(|c| &c.origin));
        let counted = match origin {
            Some(origin) => format!("; tokens counted with the {}", template_of(origin)),
            None => String::new(),
        };
        Ok(Self {
            template: format!("the endpoints' own{counted}"),
            model,
            codec,
            generator: Source::Remote(remote, settings.endpoints.len()),
        })
    }

    /// The generators: the engine, or the remote client once per endpoint (so that as many
    /// batches as endpoints run at once).
    pub fn generators(&self) -> Vec<&dyn Generator> {
        match &self.generator {
            Source::Engine(engine) => vec![engine],
            Source::Remote(remote, workers) => vec![remote; *workers],
        }
    }

    /// The token counter: the model, or its text side; `None` when neither was loaded.
    pub fn counter(&self) -> Option<&dyn TokenCounter> {
        match (&self.model, &self.codec) {
            (Some(model), _) => Some(model.as_ref() as &dyn TokenCounter),
            (None, Some(codec)) => Some(codec as &dyn TokenCounter),
            (None, None) => None,
        }
    }

    /// Which chat template renders the prompts, for summaries.
    pub fn template(&self) -> &str {
        &self.template
    }

    /// The loaded model, if any.
    pub fn model(&self) -> Option<&Arc<LoadedModel>> {
        self.model.as_ref()
    }
}

/// Loads `settings.model` with its device, dtype and chat template.
pub fn load_model(settings: &BackendSettings) -> Result<LoadedModel> {
    let options = LoadOptions {
        device: parse_device(&settings.device)?,
        dtype: parse_dtype(&settings.dtype)?,
        chat_template: settings.chat_template.clone(),
    };
    Ok(LoadedModel::load(
        &ModelSpec::parse(&settings.model)?,
        &options,
    )?)
}

/// The client settings of `settings` (the API key is read from `settings.api_key_env`).
pub fn remote_config(settings: &BackendSettings) -> RemoteConfig {
    RemoteConfig {
        model: settings.remote_model.clone(),
        timeout: Duration::from_secs(settings.request_timeout_secs),
        concurrency: settings.concurrency,
        ..RemoteConfig::new(settings.api, settings.endpoints.clone())
    }
    .api_key_from_env(&settings.api_key_env)
}
