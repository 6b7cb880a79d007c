//! The PPO loop: per step, rollouts of the current policy on a batch of prompts, their log-probs
//! under the rollout policy and the reference, values, rewards, then advantages and the updates;
//! metrics and rollouts logged, guard-rails checked, validation rollouts every N steps,
//! checkpoints with exact resume, and the final policy in Hugging Face layout.

use std::path::PathBuf;
use std::time::Instant;

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use cai_model::model::rope::RopeTables;
use cai_model::{CausalLm, LoadedModel, RewardModel};
use cai_train::{
    CheckpointDir, DataCursor, MetricsLogger, epoch_order, load_checkpoint_state, load_optimizer,
    next_global_batch, optimizer_for,
};
use serde::Serialize;

use crate::advantage::Estimator;
use crate::checkpoint::{self, CRITIC_OPTIMIZER_FILE, PpoState, Trained};
use crate::config::PpoConfig;
use crate::error::{PpoError, Result};
use crate::experience::{Experience, RolloutStats, Shaping, assemble, shape_rewards};
use crate::guard::{GuardAction, GuardEvent, StepSignals};
use crate::log::{RolloutLog, StepLine};
use crate::prompts::{self, EncodedPrompt};
use crate::reward::{Reward, Scoring};
use crate::roles::{self, Roles};
use crate::rollout::{self, RolloutSettings, Sample};
use crate::update::{
    ActorLoss, ActorStats, CriticStats, CriticUpdate, ValueTargets, actor_step, critic_step,
    critic_step_with_values,
};

/// The "step" whose seeds validation rollouts use, so every validation samples alike.
const VALIDATION_STEP: u64 = u64::MAX;

/// What a run did; also `summary.json` in the output directory.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// PPO steps done in total.
    pub steps: u64,
    /// Steps of the whole run.
    pub max_steps: u64,
    /// The advantage estimator.
    pub estimator: Estimator,
    /// The reward.
    pub reward: String,
    /// Mean rollout reward of the first step.
    pub first_rewards: Option<f64>,
    /// Mean rollout reward of the last step.
    pub last_rewards: Option<f64>,
    /// Mean KL to the reference of the last step.
    pub last_init_policy_kl: Option<f64>,
    /// Mean validation reward before training.
    pub val_rewards_before: Option<f64>,
    /// Mean validation reward after the last validation.
    pub val_rewards: Option<f64>,
    /// The KL coefficient at the end.
    pub kl_coef: f64,
    /// Guard-rail events.
    pub guard_events: Vec<GuardEvent>,
    /// The final policy, when the run finished.
    pub model_dir: Option<PathBuf>,
}

/// Mean reward, length and end fraction of a validation rollout.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Validation {
    rewards: f64,
    generation_length: f64,
    ended: f64,
}

/// Where a step's values come from.
enum CriticValues<'a> {
    /// No critic (RLOO, GRPO).
    None,
    /// An inference pass of the critic at the rollout.
    Pass(&'a RewardModel),
    /// The critic's first update of the step, which gives the values from its own forward
    /// ([`critic_step_with_values`]); the closure runs it and returns the values.
    FirstUpdate(&'a mut FirstCriticUpdate<'a>),
}

/// Runs the critic's first update of a step on the rollout and returns its values.
type FirstCriticUpdate<'a> =
    dyn FnMut(&RopeTables, &[Sample], ValueTargets<'_>) -> Vec<Vec<f32>> + 'a;

/// What the loop carries from step to step besides the models.
struct Run<'a> {
    cfg: &'a PpoConfig,
    reward: Box<dyn Reward>,
    reference: CausalLm,
    train: Vec<EncodedPrompt>,
    validation: Vec<EncodedPrompt>,
    settings: RolloutSettings,
    pad: u32,
}

fn scorings(samples: &[Sample]) -> Vec<Scoring<'_>> {
    samples
        .iter()
        .map(|s| Scoring {
            prompt: &s.prompt_ids,
            response: &s.response,
            text: &s.text,
            ended: s.ended,
        })
        .collect()
}

impl Run<'_> {
    /// Samples one response per validation prompt with `policy` and scores them.
    fn validate(&self, policy: LoadedModel) -> Result<(LoadedModel, Option<Validation>)> {
        if self.validation.is_empty() {
            return Ok((policy, None));
        }
        let prompts: Vec<(usize, &[u32])> = self
            .validation
            .iter()
            .enumerate()
            .map(|(i, p)| (i, p.ids.as_slice()))
            .collect();
        let (policy, samples) =
            rollout::generate(policy, &prompts, 1, self.settings, VALIDATION_STEP)?;
        let scores = self.reward.score(&scorings(&samples))?;
        let n = samples.len() as f64;
        let v = Validation {
            rewards: scores.iter().sum::<f64>() / n,
            generation_length: samples.iter().map(|s| s.response.len() as f64).sum::<f64>() / n,
            ended: samples.iter().filter(|s| s.ended).count() as f64 / n,
        };
        Ok((policy, Some(v)))
    }

    /// Rollouts of `policy` on the prompts `picked`, scored and turned into experience.
    fn experience(
        &self,
        policy: LoadedModel,
        critic: CriticValues<'_>,
        picked: &[usize],
        step: u64,
        beta: f64,
        timers: &mut Vec<(&'static str, f64)>,
    ) -> Result<(LoadedModel, Experience, RolloutStats, f64)> {
        let cfg = self.cfg;
        let prompts: Vec<(usize, &[u32])> = picked
            .iter()
            .map(|&i| (i, self.train[i].ids.as_slice()))
            .collect();
        let mut clock = Instant::now();
        let mut lap = |name: &'static str, timers: &mut Vec<(&'static str, f64)>| {
            timers.push((name, clock.elapsed().as_secs_f64()));
            clock = Instant::now();
        };
        let (policy, samples) =
            rollout::generate(policy, &prompts, cfg.group_size(), self.settings, step)?;
        lap("rollout_time", timers);
        let refs: Vec<&Sample> = samples.iter().collect();
        let (rope, micro, t) = (&policy.rope, cfg.micro_batch_size, cfg.temperature);
        let old = rollout::logprobs(&policy.lm, rope, &refs, t, micro, self.pad);
        lap("logprobs_time", timers);
        let reference = rollout::logprobs(&self.reference, rope, &refs, t, micro, self.pad);
        lap("init_logprobs_time", timers);
        let scores = self.reward.score(&scorings(&samples))?;
        lap("reward_time", timers);
        let mismatch = samples
            .iter()
            .zip(&old)
            .flat_map(|(s, o)| s.sampler_logprobs.iter().zip(o).map(|(a, b)| (a - b).abs()))
            .fold(0.0f32, f32::max) as f64;
        let shaping = Shaping {
            estimator: cfg.estimator,
            gamma: cfg.gamma,
            lambda: cfg.lambda,
            normalize: cfg.normalize_advantages,
            kl_estimator: cfg.kl_estimator,
            placement: cfg.kl_placement,
            beta,
            group: cfg.group_size(),
            unfinished_penalty: cfg.unfinished_penalty,
        };
        let values = match critic {
            CriticValues::None => Vec::new(),
            CriticValues::Pass(c) => rollout::values(c, rope, &refs, micro, self.pad),
            CriticValues::FirstUpdate(update) => {
                let shaped = shape_rewards(&samples, &old, &reference, &scores, shaping);
                let targets = ValueTargets {
                    token_rewards: &shaped.token_rewards,
                    gamma: cfg.gamma,
                    lambda: cfg.lambda,
                };
                update(rope, &samples, targets)
            }
        };
        lap("values_time", timers);
        let (exp, stats) = assemble(samples, old, reference, values, &scores, shaping);
        Ok((policy, exp, stats, mismatch))
    }
}

fn progress(cfg: &PpoConfig, start: u64) -> indicatif::ProgressBar {
    let bar = if cfg.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        cai_cli::progress_bar(cfg.steps, "steps")
    };
    bar.set_position(start);
    bar
}

/// The optimizers of a fresh run, or those saved in checkpoint `resume`.
fn optimizers(
    cfg: &PpoConfig,
    resume: Option<&std::path::Path>,
    with_critic: bool,
) -> Result<(ModuleOptimizer, Option<ModuleOptimizer>)> {
    let actor = optimizer_for(&cfg.optimizer(), resume)?;
    let critic = match (with_critic, resume) {
        (false, _) => None,
        (true, None) => Some(cfg.optimizer().init()),
        (true, Some(ckpt)) => Some(load_optimizer(
            cfg.optimizer().init(),
            &ckpt.join(CRITIC_OPTIMIZER_FILE),
        )?),
    };
    Ok((actor, critic))
}

/// Runs PPO as `cfg` describes; see the crate documentation.
pub fn train(cfg: &PpoConfig) -> Result<Summary> {
    // The prompts first: a bad file fails before anything is written or loaded.
    let sets = prompts::read(cfg)?;
    let out = &cfg.output_dir;
    std::fs::create_dir_all(out).map_err(|e| cai_model::ModelError::io(out, e))?;
    let ckpts = CheckpointDir::new(out.join("checkpoints"), Some(cfg.keep_checkpoints));
    let resume = ckpts.resume_point(cfg.resume)?;
    let resume_dir = resume.as_ref().map(|(_, path)| path.as_path());
    cai_data::write_json_atomic(out.join("config.json"), cfg)?;
    let Roles {
        mut policy,
        mut actor,
        reference,
        critic,
        reward,
    } = roles::load(cfg, resume_dir)?;
    let context = policy.rope.max_positions();
    let train = prompts::encode(
        &policy,
        &sets.train,
        cfg.max_new_tokens,
        context,
        &cfg.prompts_file,
    )?;
    let val_file = cfg.val_prompts_file.as_ref().unwrap_or(&cfg.prompts_file);
    let validation = prompts::encode(
        &policy,
        &sets.validation,
        cfg.max_new_tokens,
        context,
        val_file,
    )?;
    if cfg.top_k > 0 || cfg.top_p < 1.0 {
        tracing::warn!(
            "top-k/top-p sampling: the ratio uses the untruncated distribution's log-probs, which \
             differ from the sampler's by the log of the kept mass"
        );
    }
    let (mut critic_shell, mut critic) = critic.unzip();
    let (mut actor_optim, mut critic_optim) = optimizers(cfg, resume_dir, critic.is_some())?;
    let mut state = PpoState {
        step: 0,
        steps: cfg.steps,
        cursor: DataCursor::default(),
        seed: cfg.seed,
        prompts: train.len(),
        rollout_samples: cfg.rollout_samples(),
        kl: cfg.kl_controller(),
        first_response_length: None,
        guard_events: Vec::new(),
    };
    if let Some((_, path)) = &resume {
        let saved: PpoState = load_checkpoint_state(path)?;
        saved.check_compatible(&state, path)?;
        tracing::info!(step = saved.step, dir = %path.display(), "resuming");
        state = saved;
    }
    let resumed_at = resume.as_ref().map(|(step, _)| *step);
    let mut metrics = MetricsLogger::open(out, resumed_at)?;
    let mut rollouts = RolloutLog::open(out, resumed_at)?;
    let run = Run {
        cfg,
        reward,
        reference,
        train,
        validation,
        settings: RolloutSettings {
            max_new_tokens: cfg.max_new_tokens,
            temperature: cfg.temperature,
            top_k: cfg.top_k,
            top_p: cfg.top_p,
            micro_batch: cfg.rollout_micro_batch,
            seed: cfg.seed,
        },
        pad: policy.config.pad_token_id.unwrap_or(0),
    };
    let lora = cfg.lora().is_some();
    let bar = progress(cfg, state.step);
    let mut summary = Summary {
        steps: state.step,
        max_steps: cfg.steps,
        estimator: cfg.estimator,
        reward: run.reward.describe(),
        first_rewards: None,
        last_rewards: None,
        last_init_policy_kl: None,
        val_rewards_before: None,
        val_rewards: None,
        kl_coef: state.kl.coef,
        guard_events: state.guard_events.clone(),
        model_dir: None,
    };
    if state.step == 0 {
        policy.lm = actor.valid();
        let (p, v) = run.validate(policy)?;
        policy = p;
        summary.val_rewards_before = v.map(|v| v.rewards);
        if let Some(v) = v {
            bar.suspend(|| tracing::info!(rewards = v.rewards, "validation before training"));
        }
    }
    let (actor_schedule, critic_schedule) = (cfg.actor_schedule(), cfg.critic_schedule());
    let samples = cfg.rollout_samples();
    let stop_at = cfg.stop_after_steps.map_or(cfg.steps, |s| s.min(cfg.steps));
    while state.step < stop_at {
        let started = Instant::now();
        let picked = next_global_batch(
            run.train.len(),
            cfg.rollout_batch,
            cfg.seed,
            &mut state.cursor,
        )
        .expect("prompts::read guarantees one rollout batch");
        let mut timers = Vec::new();
        policy.lm = actor.valid();
        let (mut astats, mut cstats) = (ActorStats::default(), CriticStats::default());
        let first_update = state.step * cfg.updates_per_step();
        let order_seed = cfg.seed ^ state.step.wrapping_mul(0x2545_F491);
        // With one minibatch per epoch, the critic's first update runs at the rollout's weights
        // on the whole rollout, so its forward gives the values too (one pass fewer).
        let fused = critic.is_some() && cfg.mini_batch_size >= samples;
        let critic_update = |lr| CriticUpdate {
            micro: cfg.micro_batch_size,
            lr,
            max_grad_norm: cfg.gradient_clip_val,
            pad: run.pad,
            value_clip: cfg.value_clip,
        };
        let critic_view = (!fused)
            .then(|| critic.as_ref().map(Module::valid))
            .flatten();
        let mut first_critic_update =
            |rope: &RopeTables, rollout: &[Sample], targets: ValueTargets<'_>| {
                let (c, optim) = (critic.take(), critic_optim.as_mut());
                let (c, optim) = (
                    c.expect("fused with a critic"),
                    optim.expect("its optimizer"),
                );
                let (c, values) = critic_step_with_values(
                    c,
                    optim,
                    rope,
                    rollout,
                    targets,
                    &epoch_order(samples, order_seed, 0),
                    &critic_update(critic_schedule.lr_at(first_update)),
                    &mut cstats,
                );
                critic = Some(c);
                values
            };
        let values = match &critic_view {
            _ if fused => CriticValues::FirstUpdate(&mut first_critic_update),
            Some(view) => CriticValues::Pass(view),
            None => CriticValues::None,
        };
        let (p, exp, rstats, mismatch) = run.experience(
            policy,
            values,
            &picked,
            state.step,
            state.kl.coef,
            &mut timers,
        )?;
        policy = p;
        drop(critic_view);
        let train_started = Instant::now();
        let loss = ActorLoss {
            clip: cfg.clip(),
            temperature: cfg.temperature,
            kl_estimator: cfg.kl_estimator,
            placement: cfg.kl_placement,
            beta: state.kl.coef,
            entropy_bonus: cfg.entropy_bonus,
            train_unfinished: cfg.train_unfinished,
            ratio_outlier: cfg.guards.ratio_outlier,
        };
        let mut update = first_update;
        let (mut lr, mut critic_lr) = (0.0, 0.0);
        for epoch in 0..cfg.ppo_epochs {
            let order = epoch_order(samples, order_seed, epoch as u64);
            for (i, mini) in order.chunks(cfg.mini_batch_size).enumerate() {
                lr = actor_schedule.lr_at(update);
                critic_lr = critic_schedule.lr_at(update);
                if state.step >= cfg.critic_warmup_steps {
                    actor = actor_step(
                        actor,
                        &mut actor_optim,
                        &policy.rope,
                        &exp,
                        mini,
                        cfg.micro_batch_size,
                        lr,
                        cfg.gradient_clip_val,
                        run.pad,
                        &loss,
                        &mut astats,
                    );
                }
                // The fused pass took the critic's first step already.
                let taken = fused && epoch == 0 && i == 0;
                let pending = critic.take_if(|_| !taken);
                if let (Some(c), Some(optim)) = (pending, critic_optim.as_mut()) {
                    critic = Some(critic_step(
                        c,
                        optim,
                        &policy.rope,
                        &exp,
                        mini,
                        &critic_update(critic_lr),
                        &mut cstats,
                    ));
                }
                update += 1;
            }
        }
        timers.push(("train_time", train_started.elapsed().as_secs_f64()));
        state.kl.update(rstats.init_policy_kl, samples);
        let first_len = *state
            .first_response_length
            .get_or_insert(rstats.generation_length);
        let astats_means = astats.metrics();
        let signals = StepSignals {
            approx_kl: astats.approx_kl / astats.tokens.max(1) as f64,
            clip_fraction: astats.clipped as f64 / astats.tokens.max(1) as f64,
            outlier_fraction: astats.outliers as f64 / astats.tokens.max(1) as f64,
            response_length: rstats.generation_length,
            first_response_length: first_len,
        };
        let events = cfg.guards.check(state.step + 1, &signals);
        for e in &events {
            bar.suspend(|| {
                tracing::warn!(step = e.step, guard = %e.guard, value = e.value, bound = e.bound, "guard-rail")
            });
        }
        state.guard_events.extend(events.iter().cloned());
        rollouts.write(state.step + 1, &exp, &run.train)?;
        state.step += 1;
        summary.first_rewards.get_or_insert(rstats.rewards);
        summary.last_rewards = Some(rstats.rewards);
        summary.last_init_policy_kl = Some(rstats.init_policy_kl);
        let last = state.step == cfg.steps;
        let check = cfg.val_check_interval > 0 && state.step.is_multiple_of(cfg.val_check_interval);
        let mut val = None;
        if check || last {
            let t = Instant::now();
            policy.lm = actor.valid();
            let (p, v) = run.validate(policy)?;
            policy = p;
            val = v;
            timers.push(("validation_time", t.elapsed().as_secs_f64()));
            if let Some(v) = v {
                summary.val_rewards = Some(v.rewards);
                bar.suspend(|| {
                    tracing::info!(step = state.step, rewards = v.rewards, "validation")
                });
            }
        }
        let mut line = StepLine::default();
        line.extend_serialized(&rstats);
        line.extend(&astats_means);
        line.extend(&[
            ("critic_loss", cstats.loss / cstats.steps.max(1) as f64),
            (
                "critic_grad_norm",
                cstats.grad_norm / cstats.steps.max(1) as f64,
            ),
            ("lr", lr),
            ("critic_lr", critic_lr),
            ("kl_coef", state.kl.coef),
            ("logprob_mismatch_max", mismatch),
            ("consumed_samples", (state.step as usize * samples) as f64),
            ("epoch", state.cursor.epoch as f64),
            ("step_time", started.elapsed().as_secs_f64()),
        ]);
        line.extend(&timers);
        if let Some(v) = val {
            line.extend(&[
                ("val_rewards", v.rewards),
                ("val_generation_length", v.generation_length),
                ("val_fraction_of_samples_properly_ended", v.ended),
            ]);
        }
        metrics.log("train", state.step, &line.values())?;
        // A step takes seconds to minutes: flushing each one lets a watcher follow the run.
        metrics.flush()?;
        rollouts.flush()?;
        bar.set_position(state.step);
        bar.set_message(format!(
            "reward {:.3} kl {:.4}",
            rstats.rewards, rstats.init_policy_kl
        ));
        let periodic = cfg.save_interval > 0 && state.step.is_multiple_of(cfg.save_interval);
        let stop = cfg.guards.action == GuardAction::Stop && !events.is_empty();
        if !last && (periodic || state.step == stop_at || stop) {
            let trained = Trained {
                policy: &mut policy,
                actor: &actor,
                actor_optim: &actor_optim,
                lora,
                critic: match (
                    critic_shell.as_mut(),
                    critic.as_ref(),
                    critic_optim.as_ref(),
                ) {
                    (Some(s), Some(c), Some(o)) => Some((s, c, o)),
                    _ => None,
                },
            };
            checkpoint::save(&ckpts, trained, &state)?;
        }
        if stop {
            let reason = events
                .iter()
                .map(|e| e.guard.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            metrics.flush()?;
            return Err(PpoError::Guard {
                step: state.step,
                reason,
            });
        }
    }
    metrics.flush()?;
    rollouts.flush()?;
    bar.finish_and_clear();
    summary.steps = state.step;
    summary.kl_coef = state.kl.coef;
    summary.guard_events = state.guard_events.clone();
    if state.step == cfg.steps {
        let dir = out.join("model");
        checkpoint::save_policy(&mut policy, &actor, lora, &dir)?;
        summary.model_dir = Some(dir);
    }
    cai_data::write_json_atomic(out.join("summary.json"), &summary)?;
    Ok(summary)
}
