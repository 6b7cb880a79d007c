//! The training loop: global batches of pairs in micro-batches (both sides in one forward), the
//! Bradley-Terry loss, accumulation, clipping and AdamW through `cai-train`, validation every N
//! steps with the best model kept by validation loss, checkpoints with exact resume, and the final
//! reward model in Hugging Face layout with its reward statistics beside it.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::tensor::Tensor;
use cai_model::LoadedModel;
use cai_model::model::rope::RopeTables;
use cai_train::{
    CheckpointDir, DataCursor, MetricsLogger, accumulated_step, load_checkpoint_state,
    next_global_batch, optimizer_for, stable_param_ids,
};
use serde::Serialize;

use crate::checkpoint::{self, RmState};
use crate::config::RmConfig;
use crate::dataset::{DataStats, RawPairs};
use crate::encode::EncodedPair;
use crate::error::{Result, RmError};
use crate::loss::bradley_terry;
use crate::metrics::{PairMetrics, ScoredPair, summarise};
use crate::model::RewardModel;
use crate::stats::{RewardStats, reward_stats};

/// What a run did; also `summary.json` in the output directory.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Optimizer steps done in total.
    pub steps: u64,
    /// Steps of the whole run.
    pub max_steps: u64,
    /// Final validation accuracy (`None` without validation pairs).
    pub acc: Option<f64>,
    /// Final validation loss.
    pub loss: Option<f64>,
    /// All final validation metrics.
    pub validation: Option<PairMetrics>,
    /// Training loss of the last step.
    pub train_loss: Option<f64>,
    /// Best validation loss and its step (its model is `best/`).
    pub best: Option<(f64, u64)>,
    /// The data the run used.
    pub data: DataStats,
    /// Reward mean and standard deviation over the training pairs (also `model/reward_stats.json`).
    pub reward_stats: Option<RewardStats>,
    /// The trained reward model, when the run finished.
    pub model_dir: Option<PathBuf>,
}

/// Rewards of both sides of `pairs`, as `(chosen, rejected)` tensors.
fn pair_rewards(
    rm: &RewardModel,
    rope: &RopeTables,
    pairs: &[&EncodedPair],
    pad: u32,
) -> (Tensor<1>, Tensor<1>) {
    let m = pairs.len();
    let seqs: Vec<&[u32]> = pairs
        .iter()
        .map(|p| p.chosen.as_slice())
        .chain(pairs.iter().map(|p| p.rejected.as_slice()))
        .collect();
    let rewards = rm.rewards(rope, &seqs, pad);
    (rewards.clone().narrow(0, 0, m), rewards.narrow(0, m, m))
}

fn f64s(t: Tensor<1>) -> Vec<f64> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap_or_default()
        .into_iter()
        .map(f64::from)
        .collect()
}

/// Scores `pairs` with the inference copy of `rm`, `micro` pairs per forward.
pub fn score_pairs(
    rm: &RewardModel,
    rope: &RopeTables,
    pairs: &[EncodedPair],
    micro: usize,
    pad: u32,
) -> Vec<ScoredPair> {
    let mut out = Vec::with_capacity(pairs.len());
    for chunk in pairs.chunks(micro.max(1)) {
        let refs: Vec<&EncodedPair> = chunk.iter().collect();
        let (c, r) = pair_rewards(rm, rope, &refs, pad);
        for ((pair, c), r) in chunk.iter().zip(f64s(c)).zip(f64s(r)) {
            out.push(ScoredPair {
                chosen: c,
                rejected: r,
                label: pair.label,
                ai_labelled: pair.ai_labelled,
                answer_tokens: pair.answer_tokens,
            });
        }
    }
    out
}

/// The reward model to train: the backbone `cfg` names (or checkpoint `resume`'s) with a head
/// from the checkpoint, from the source directory when it is a reward model, or fresh.
fn load_reward_model(cfg: &RmConfig, resume: Option<&Path>) -> Result<(LoadedModel, RewardModel)> {
    let model = cfg.model_spec().load(resume)?;
    let device = model.lm.device();
    let hidden = model.config.hidden_size;
    let head = match resume {
        Some(ckpt) => {
            checkpoint::load_head(&ckpt.join(cai_train::trainable::MODEL_DIR), hidden, &device)?
        }
        None => match Path::new(&cfg.model).is_dir() {
            true => cai_model::ScalarHead::load_hf(Path::new(&cfg.model), hidden, &device)?,
            false => None,
        }
        .unwrap_or_else(|| {
            cai_model::ScalarHead::init_seeded(hidden, cfg.head_init_std, cfg.seed, &device)
        }),
    };
    // `model` keeps the text side (tokenizer, template) for encoding and saving; its decoder is a
    // handle on the same weights until the first update (with full fine-tuning, one extra copy of
    // the initial weights then stays alive; LoRA shares the frozen base).
    let lm = model.lm.clone();
    let rm = stable_param_ids(RewardModel { lm, head });
    Ok((model, rm))
}

fn progress(cfg: &RmConfig, max_steps: u64, start: u64) -> indicatif::ProgressBar {
    let bar = if cfg.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        cai_cli::progress_bar(max_steps, "steps")
    };
    bar.set_position(start);
    bar
}

/// Trains a reward model as `cfg` describes; see the crate documentation.
pub fn train(cfg: &RmConfig) -> Result<Summary> {
    // The data first: a bad file fails before anything is written or loaded.
    let raw = RawPairs::read(cfg)?;
    let out = &cfg.output_dir;
    std::fs::create_dir_all(out).map_err(|e| cai_model::ModelError::io(out, e))?;
    let ckpts = CheckpointDir::new(out.join("checkpoints"), Some(cfg.keep_checkpoints));
    let resume = ckpts.resume_point(cfg.resume)?;
    let resume_dir = resume.as_ref().map(|(_, path)| path.as_path());
    cai_data::write_json_atomic(out.join("config.json"), cfg)?;
    let (mut model, mut rm) = load_reward_model(cfg, resume_dir)?;
    let data = raw.encode(&model, cfg)?;
    let pad = model.config.pad_token_id.unwrap_or(0);
    let steps_per_epoch = (data.train.len() / cfg.global_batch_size) as u64;
    if steps_per_epoch == 0 {
        return Err(RmError::Config(format!(
            "{} training pairs cannot fill one global batch of {}",
            data.train.len(),
            cfg.global_batch_size
        )));
    }
    let max_steps = cfg.max_steps.unwrap_or(cfg.max_epochs * steps_per_epoch);
    let mut state = RmState {
        step: 0,
        max_steps,
        cursor: DataCursor::default(),
        seed: cfg.seed,
        pairs: data.train.len(),
        global_batch_size: cfg.global_batch_size,
        consumed_samples: 0,
        best: None,
    };
    if let Some((_, path)) = &resume {
        let saved: RmState = load_checkpoint_state(path)?;
        saved.check_compatible(&state, path)?;
        tracing::info!(step = saved.step, dir = %path.display(), "resuming");
        state = saved;
    }
    let mut optim = optimizer_for(&cfg.optimizer(), resume_dir)?;
    let schedule = cfg.schedule(max_steps);
    let mut metrics = MetricsLogger::open(out, resume.as_ref().map(|(step, _)| *step))?;
    let lora = cfg.lora().is_some();
    let loss_settings = cfg.loss();
    let bar = progress(cfg, max_steps, state.step);
    let (mut train_loss, mut validation) = (None, None);
    let rope = model.rope.clone();
    if state.step == 0 && !data.validation.is_empty() {
        let before = validate(&rm, &rope, &data.validation, cfg, pad);
        metrics.log("validation", 0, &metric_values(&before))?;
        bar.suspend(|| {
            tracing::info!(
                loss = before.loss,
                acc = before.acc,
                "validation before training"
            )
        });
    }
    let stop_at = cfg.stop_after_steps.map_or(max_steps, |s| s.min(max_steps));
    while state.step < stop_at {
        let started = Instant::now();
        let picked = next_global_batch(
            state.pairs,
            cfg.global_batch_size,
            cfg.seed,
            &mut state.cursor,
        )
        .expect("steps_per_epoch > 0 guarantees a full batch");
        let pairs: Vec<&EncodedPair> = picked.iter().map(|&i| &data.train[i]).collect();
        let micro: Vec<&[&EncodedPair]> = pairs.chunks(cfg.micro_batch_size).collect();
        let lr = schedule.lr_at(state.step);
        let mut scored = Vec::new();
        let outcome = accumulated_step(
            rm,
            &mut optim,
            &micro,
            lr,
            cfg.gradient_clip_val,
            |rm, batch| {
                let (c, r) = pair_rewards(rm, &rope, batch, pad);
                let labels: Vec<f64> = batch.iter().map(|p| p.label).collect();
                let (cv, rv) = (f64s(c.clone().inner()), f64s(r.clone().inner()));
                for ((p, c), r) in batch.iter().zip(cv).zip(rv) {
                    scored.push(ScoredPair {
                        chosen: c,
                        rejected: r,
                        label: p.label,
                        ai_labelled: p.ai_labelled,
                        answer_tokens: p.answer_tokens,
                    });
                }
                bradley_terry(c, r, &labels, loss_settings)
            },
        );
        rm = outcome.module;
        state.step += 1;
        state.consumed_samples += pairs.len() as u64;
        train_loss = Some(outcome.loss);
        let step_metrics = summarise(&scored, loss_settings);
        let secs = started.elapsed().as_secs_f64();
        let mut values = metric_values(&step_metrics);
        values.extend([
            ("loss", outcome.loss),
            ("lr", lr),
            ("grad_norm", outcome.grad_norm),
            ("step_time", secs),
            ("consumed_samples", state.consumed_samples as f64),
            ("epoch", state.cursor.epoch as f64),
        ]);
        metrics.log("train", state.step, &values)?;
        bar.set_position(state.step);
        bar.set_message(format!(
            "loss {:.4} acc {:.2}",
            outcome.loss, step_metrics.acc
        ));

        let last = state.step == max_steps;
        let check = cfg.val_check_interval > 0 && state.step.is_multiple_of(cfg.val_check_interval);
        if (check || last) && !data.validation.is_empty() {
            let m = validate(&rm, &rope, &data.validation, cfg, pad);
            metrics.log("validation", state.step, &metric_values(&m))?;
            bar.suspend(|| {
                tracing::info!(step = state.step, loss = m.loss, acc = m.acc, "validation")
            });
            if state.best.is_none_or(|(best, _)| m.loss < best) {
                state.best = Some((m.loss, state.step));
                checkpoint::save_reward_model(&mut model, &rm, lora, &out.join("best"))?;
            }
            validation = Some(m);
        }
        let periodic = cfg.save_interval > 0 && state.step.is_multiple_of(cfg.save_interval);
        if !last && (periodic || state.step == stop_at) {
            metrics.flush()?;
            checkpoint::save(&ckpts, &mut model, &rm, &optim, &state, lora)?;
        }
    }
    metrics.flush()?;
    bar.finish_and_clear();
    let (reward_stats, model_dir) = if state.step == max_steps {
        let dir = out.join("model");
        let train_scores = score_pairs(&rm.valid(), &rope, &data.train, cfg.micro_batch_size, pad);
        let stats = reward_stats(&train_scores);
        checkpoint::save_reward_model(&mut model, &rm, lora, &dir)?;
        cai_data::write_json_atomic(dir.join(crate::stats::REWARD_STATS_FILE), &stats)?;
        (Some(stats), Some(dir))
    } else {
        (None, None)
    };
    let summary = Summary {
        steps: state.step,
        max_steps,
        acc: validation.as_ref().map(|m| m.acc),
        loss: validation.as_ref().map(|m| m.loss),
        validation,
        train_loss,
        best: state.best,
        data: data.stats,
        reward_stats,
        model_dir,
    };
    cai_data::write_json_atomic(out.join("summary.json"), &summary)?;
    Ok(summary)
}

fn validate(
    rm: &RewardModel,
    rope: &RopeTables,
    pairs: &[EncodedPair],
    cfg: &RmConfig,
    pad: u32,
) -> PairMetrics {
    let limit = cfg
        .limit_val_batches
        .map_or(pairs.len(), |b| (b * cfg.micro_batch_size).min(pairs.len()));
    let scored = score_pairs(
        &rm.valid(),
        rope,
        &pairs[..limit],
        cfg.micro_batch_size,
        pad,
    );
    summarise(&scored, cfg.loss())
}

fn metric_values(m: &PairMetrics) -> Vec<(&'static str, f64)> {
    let mut v = vec![
        ("loss", m.loss),
        ("acc", m.acc),
        ("rewards_chosen_mean", m.rewards_chosen_mean),
        ("rewards_rejected_mean", m.rewards_rejected_mean),
        ("rewards_all_mean", m.rewards_all_mean),
        ("rewards_all_std", m.rewards_all_std),
        ("margin", m.margin),
        ("calibration_error", m.calibration_error),
        ("length_spearman", m.length_spearman),
    ];
    if let Some(a) = m.acc_ai {
        v.push(("acc_ai", a));
    }
    if let Some(a) = m.acc_human {
        v.push(("acc_human", a));
    }
    v
}
