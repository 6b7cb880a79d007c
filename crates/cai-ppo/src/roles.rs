//! The four roles of one PPO process, loaded and checked before any rollout: the **actor**
//! (trainable, full or LoRA), the **reference** (the frozen initial policy; with LoRA the base
//! weights the adapters sit on, shared, not copied), the **critic** (GAE only: from the reward
//! model, or the policy's backbone with a fresh value head under a rule reward) and the
//! **reward** (the frozen reward model or a rule).

use std::path::Path;

use burn::module::Module;
use cai_model::{CausalLm, LoadOptions, LoadedModel, ModelConfig, RewardModel, ScalarHead};
use cai_train::trainable::{ADAPTER_FILE, read_adapter};
use cai_train::{load_named_tensors, stable_param_ids};

use crate::checkpoint::CRITIC_DIR;
use crate::config::PpoConfig;
use crate::error::{PpoError, Result};
use crate::reward::{ModelReward, Reward, RuleReward};

/// Standard deviation of a fresh value head.
const VALUE_HEAD_STD: f64 = 0.02;

/// Everything a PPO step runs on.
pub struct Roles {
    /// The policy's text side (tokenizer, template); its decoder is lent to the engine.
    pub policy: LoadedModel,
    /// The trainable policy (autodiff device).
    pub actor: CausalLm,
    /// The frozen reference policy (inference).
    pub reference: CausalLm,
    /// The critic's text side and the critic (GAE only).
    pub critic: Option<(LoadedModel, RewardModel)>,
    /// The reward.
    pub reward: Box<dyn Reward>,
}

/// The shape fields two decoders must share to be compared token by token.
fn shape(c: &ModelConfig) -> (usize, usize, usize, usize, usize) {
    (
        c.vocab_size,
        c.hidden_size,
        c.num_hidden_layers,
        c.num_attention_heads,
        c.num_key_value_heads,
    )
}

/// Loads the roles for `cfg`, the actor and critic from checkpoint `resume` when given.
pub fn load(cfg: &PpoConfig, resume: Option<&Path>) -> Result<Roles> {
    let lora = cfg.lora();
    let base = cfg.train_spec(&cfg.policy).load(None)?;
    let reference = match &cfg.reference {
        Some(source) => {
            let other = cfg.train_spec(source).load(None)?;
            if shape(&other.config) != shape(&base.config) {
                return Err(PpoError::Mismatch(format!(
                    "reference {source} and policy {} disagree in shape (vocabulary, hidden, \
                     layers, heads, kv heads: {:?} vs {:?})",
                    cfg.policy,
                    shape(&other.config),
                    shape(&base.config)
                )));
            }
            other.lm.valid()
        }
        None => base.lm.valid(),
    };
    let (policy, actor) = match (&lora, resume) {
        (Some(settings), _) => {
            let mut actor = stable_param_ids(settings.apply(base.lm.clone())?);
            if let Some(ckpt) = resume {
                actor = load_named_tensors(actor, read_adapter(&ckpt.join(ADAPTER_FILE))?)?;
            }
            (base, actor)
        }
        (None, Some(ckpt)) => {
            let saved = cfg.train_spec(&cfg.policy).load(Some(ckpt))?;
            let actor = saved.lm.clone();
            (saved, actor)
        }
        (None, None) => {
            let actor = base.lm.clone();
            (base, actor)
        }
    };
    let reward = load_reward(cfg, &policy)?;
    let critic = match cfg.estimator.needs_critic() {
        true => Some(load_critic(cfg, &policy, resume)?),
        false => None,
    };
    Ok(Roles {
        policy,
        actor,
        reference,
        critic,
        reward,
    })
}

/// The reward model or rule of `cfg`.
fn load_reward(cfg: &PpoConfig, policy: &LoadedModel) -> Result<Box<dyn Reward>> {
    match (&cfg.reward_model, &cfg.reward) {
        (Some(dir), _) => {
            let opts = LoadOptions {
                device: cai_model::device::parse_device(&cfg.device)?,
                dtype: cai_model::device::parse_dtype(&cfg.dtype)?,
                chat_template: cfg.chat_template.clone(),
            };
            let rm = ModelReward::load(dir, &opts, policy, cfg.reward_clip, cfg.micro_batch_size)?;
            Ok(Box::new(rm))
        }
        (None, Some(rule)) => Ok(Box::new(RuleReward::parse(rule)?)),
        (None, None) => Err(PpoError::Config("no reward".into())),
    }
}

/// The critic: from checkpoint `resume`, else the reward model, else the policy's backbone with
/// a fresh value head.
fn load_critic(
    cfg: &PpoConfig,
    policy: &LoadedModel,
    resume: Option<&Path>,
) -> Result<(LoadedModel, RewardModel)> {
    let source = match (resume, &cfg.reward_model) {
        (Some(ckpt), _) => ckpt.join(CRITIC_DIR).to_string_lossy().into_owned(),
        (None, Some(rm)) => rm.to_string_lossy().into_owned(),
        (None, None) => cfg.policy.clone(),
    };
    let shell = cfg.train_spec(&source).load(None)?;
    if shape(&shell.config).0 != policy.config.vocab_size {
        return Err(PpoError::Mismatch(format!(
            "critic {source}: vocabulary {} differs from the policy's {}",
            shell.config.vocab_size, policy.config.vocab_size
        )));
    }
    let device = shell.lm.device();
    let hidden = shell.config.hidden_size;
    let dir = Path::new(&source);
    let head = match dir.is_dir() {
        true => ScalarHead::load_hf(dir, hidden, &device)?,
        false => None,
    };
    let head = match head {
        Some(head) => head,
        None if resume.is_some() => {
            return Err(PpoError::Checkpoint {
                path: dir.to_path_buf(),
                reason: "the critic has no value head".into(),
            });
        }
        None => ScalarHead::init_seeded(hidden, VALUE_HEAD_STD, cfg.seed, &device),
    };
    let critic = stable_param_ids(RewardModel {
        lm: shell.lm.clone(),
        head,
    });
    Ok((shell, critic))
}
