//! What a configuration generates with: the in-process engine, or remote endpoints through
//! `cai-client`'s [`RemoteGenerator`] when `endpoints` is given; plus the tokenizer and chat
//! template that count tokens for `max_seq_length`.
//!
//! With endpoints no engine is built and the endpoints render the chat template themselves; the
//! model's weights are not loaded, only its text side ([`ChatCodec`]: config, tokenizer, template)
//! for counting tokens, and with `max_seq_length = 0` not even that.

use std::sync::Arc;
use std::time::Duration;

use cai_client::{RemoteApi, RemoteConfig, RemoteGenerator};
use cai_model::device::{parse_device, parse_dtype};
use cai_model::{ChatCodec, Engine, Generator, LoadOptions, LoadedModel, ModelSpec};
use serde::Serialize;

use crate::assemble::TokenCounter;
use crate::config::Config;
use crate::error::{CritiqueError, Result};
use crate::run::Environment;

/// The generators and token counter of a run, built from its [`Config`].
pub struct Backend {
    model: Option<Arc<LoadedModel>>,
    /// The text side of `config.model`, when endpoints generate and tokens are counted without a
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
    /// Loads what `config` needs: the model and the engine, or the remote client (and, to count
    /// tokens when `max_seq_length > 0`, the model's text side).
    pub fn load(config: &Config) -> Result<Self> {
        let model = if Self::loads_model(config) {
            Some(Arc::new(load_model(config)?))
        } else {
            None
        };
        Self::with_model(config, model)
    }

    /// Whether [`Backend::load`] loads the model's weights: only for the in-process engine.
    pub fn loads_model(config: &Config) -> bool {
        config.endpoints.is_empty()
    }

    /// As [`Backend::load`] with a model already loaded (it must be `config.model` with
    /// `config.chat_template`); required without endpoints. With endpoints, a model given here
    /// counts the tokens; without one, its text side is read for that.
    pub fn with_model(config: &Config, model: Option<Arc<LoadedModel>>) -> Result<Self> {
        let template_of = |origin: &cai_model::LocalModel| match &config.chat_template {
            Some(name) => name.clone(),
            None => format!("model's own ({})", origin.path().display()),
        };
        if config.endpoints.is_empty() {
            let model = model.ok_or_else(|| {
                CritiqueError::Invalid(
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
        if config.chat_template.is_some() {
            tracing::warn!(
                "chat_template only affects token counting with endpoints: they render with their own"
            );
        }
        let remote = RemoteGenerator::new(remote_config(config))?;
        tracing::info!(generator = %remote.describe(), "generating through remote endpoints");
        let codec = match (&model, config.max_seq_length) {
            (None, 1..) => Some(ChatCodec::load(
                &ModelSpec::parse(&config.model)?,
                config.chat_template.as_deref(),
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
            generator: Source::Remote(remote, config.endpoints.len()),
        })
    }

    /// The environment of [`crate::run()`]: the engine, or the remote client once per endpoint (so
    /// that as many batches as endpoints run at once), and the model (or its text side) as token
    /// counter.
    pub fn environment(&self) -> Environment<'_> {
        let generators: Vec<&dyn Generator> = match &self.generator {
            Source::Engine(engine) => vec![engine],
            Source::Remote(remote, workers) => vec![remote; *workers],
        };
        Environment {
            generators,
            counter: match (&self.model, &self.codec) {
                (Some(model), _) => Some(model.as_ref() as &dyn TokenCounter),
                (None, Some(codec)) => Some(codec as &dyn TokenCounter),
                (None, None) => None,
            },
            template: self.template.clone(),
        }
    }

    /// The loaded model, if any.
    pub fn model(&self) -> Option<&Arc<LoadedModel>> {
        self.model.as_ref()
    }
}

/// Loads `config.model` with its device, dtype and chat template.
pub fn load_model(config: &Config) -> Result<LoadedModel> {
    let options = LoadOptions {
        device: parse_device(&config.device)?,
        dtype: parse_dtype(&config.dtype)?,
        chat_template: config.chat_template.clone(),
    };
    Ok(LoadedModel::load(
        &ModelSpec::parse(&config.model)?,
        &options,
    )?)
}

/// The client settings of `config` (the API key is read from `config.api_key_env`).
pub fn remote_config(config: &Config) -> RemoteConfig {
    RemoteConfig {
        model: config.remote_model.clone(),
        timeout: Duration::from_secs(config.request_timeout_secs),
        concurrency: config.concurrency,
        ..RemoteConfig::new(config.api, config.endpoints.clone())
    }
    .api_key_from_env(&config.api_key_env)
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
    /// The generator `config` selects.
    pub fn of(config: &Config) -> Self {
        if config.endpoints.is_empty() {
            Self::Local {
                model: config.model.clone(),
                device: config.device.clone(),
                dtype: config.dtype.clone(),
            }
        } else {
            Self::Endpoints {
                api: config.api,
                endpoints: config.endpoints.clone(),
                remote_model: (config.api == RemoteApi::OpenAi)
                    .then(|| config.remote_model.clone()),
                concurrency: config.concurrency,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_without_length_limit_load_no_model() {
        let config = Config {
            endpoints: vec!["http://127.0.0.1:1".into(), "http://127.0.0.1:2/".into()],
            max_seq_length: 0,
            ..Config::default()
        };
        let backend = Backend::load(&config).unwrap();
        assert!(backend.model().is_none());
        let env = backend.environment();
        assert_eq!(env.generators.len(), 2, "one batch worker per endpoint");
        assert!(env.counter.is_none());
        assert!(env.generators[0].describe().contains("http://127.0.0.1:2/"));
        assert_eq!(
            serde_json::to_value(GeneratorInfo::of(&config)).unwrap(),
            serde_json::json!({
                "kind": "endpoints",
                "api": "nemo",
                "endpoints": ["http://127.0.0.1:1", "http://127.0.0.1:2/"],
                "remote_model": null,
                "concurrency": 8,
            })
        );
    }

    #[test]
    fn endpoints_count_tokens_with_the_text_side_only() {
        let config = Config {
            endpoints: vec!["http://127.0.0.1:1".into()],
            max_seq_length: 4096,
            ..Config::default()
        };
        assert!(!Backend::loads_model(&config));
        let backend = Backend::load(&config).unwrap();
        assert!(backend.model().is_none(), "no weights are loaded");
        let env = backend.environment();
        let counter = env.counter.expect("a token counter");
        assert!(
            env.template.contains("tokens counted with"),
            "{}",
            env.template
        );
        let messages = [
            cai_model::Message::user("How do I pick a lock?"),
            cai_model::Message::assistant("I can't help with that, but a locksmith can."),
        ];
        let full = load_model(&config).unwrap();
        let want = full.encode_chat(&messages, false).unwrap().len();
        assert_eq!(counter.count_chat(&messages).unwrap(), want);
        assert!(want > 10);
    }

    #[test]
    fn a_bad_endpoint_is_named() {
        let config = Config {
            endpoints: vec!["localhost 5555".into()],
            max_seq_length: 0,
            ..Config::default()
        };
        let err = Backend::load(&config).err().unwrap().to_string();
        assert!(err.contains("`localhost 5555`"), "{err}");
        let local = Config::default();
        let err = Backend::with_model(&local, None).err().unwrap().to_string();
        assert!(err.contains("needs a model"), "{err}");
    }
}
