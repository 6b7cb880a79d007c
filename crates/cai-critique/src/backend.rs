//! What a configuration generates with, through `cai-backend` (shared with the other generating
//! stages): its [`BackendSettings`] from the [`Config`], and the [`Environment`] of a run from the
//! resulting backend.

use std::sync::Arc;

use cai_backend::BackendSettings;
pub use cai_backend::GeneratorInfo;
use cai_model::LoadedModel;

use crate::config::Config;
use crate::error::{CritiqueError, Result};
use crate::run::Environment;
use cai_judge::{LocalJudge, OptionScorer};

impl From<&Config> for BackendSettings {
    fn from(config: &Config) -> Self {
        BackendSettings {
            model: config.model.clone(),
            chat_template: config.chat_template.clone(),
            device: config.device.clone(),
            dtype: config.dtype.clone(),
            endpoints: config.endpoints.clone(),
            api: config.api,
            api_key_env: config.api_key_env.clone(),
            remote_model: config.remote_model.clone(),
            concurrency: config.concurrency,
            request_timeout_secs: config.request_timeout_secs,
            count_tokens: config.max_seq_length > 0,
        }
    }
}

/// The generators, token counter and (for best-of-n revisions) judge of a run, built from its
/// [`Config`].
pub struct Backend {
    inner: cai_backend::Backend,
    judge: Option<LocalJudge>,
}

impl Backend {
    /// Loads what `config` needs: the model and the engine, or the remote client (and, to count
    /// tokens when `max_seq_length > 0`, the model's text side).
    pub fn load(config: &Config) -> Result<Self> {
        Self::judged(config, cai_backend::Backend::load(&config.into())?)
    }

    /// Adds the judge of revision candidates when `config` asks for several.
    fn judged(config: &Config, inner: cai_backend::Backend) -> Result<Self> {
        let judge = match (config.revision_candidates > 1, inner.model()) {
            (false, _) => None,
            (true, Some(model)) => {
                Some(LocalJudge::new(model.clone(), config.model.clone(), false))
            }
            (true, None) => {
                return Err(CritiqueError::config(
                    "revision_candidates",
                    "best-of-n revisions need the in-process model",
                ));
            }
        };
        Ok(Self { inner, judge })
    }

    /// Whether [`Backend::load`] loads the model's weights: only for the in-process engine.
    pub fn loads_model(config: &Config) -> bool {
        cai_backend::Backend::loads_model(&config.into())
    }

    /// As [`Backend::load`] with a model already loaded (it must be `config.model` with
    /// `config.chat_template`); required without endpoints.
    pub fn with_model(config: &Config, model: Option<Arc<LoadedModel>>) -> Result<Self> {
        Self::judged(
            config,
            cai_backend::Backend::with_model(&config.into(), model)?,
        )
    }

    /// The environment of [`crate::run()`]: the backend's generators, token counter and template.
    pub fn environment(&self) -> Environment<'_> {
        Environment {
            generators: self.inner.generators(),
            counter: self.inner.counter(),
            template: self.inner.template().to_string(),
            judge: self.judge.as_ref().map(|j| j as &(dyn OptionScorer + Sync)),
        }
    }

    /// The loaded model, if any.
    pub fn model(&self) -> Option<&Arc<LoadedModel>> {
        self.inner.model()
    }
}

/// Loads `config.model` with its device, dtype and chat template.
pub fn load_model(config: &Config) -> Result<LoadedModel> {
    Ok(cai_backend::load_model(&config.into())?)
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
