//! The training loop: global batches of micro-batches, one backward per micro-batch with
//! gradient accumulation, global-norm clipping, AdamW at the scheduled rate, metrics, validation,
//! checkpoints, and the final model in Hugging Face layout.

use std::time::Instant;

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use cai_model::CausalLm;
use cai_model::model::rope::RopeTables;
use cai_train::{
    CheckpointDir, DataCursor, LoraSettings, MetricsLogger, StepOutcome, accumulated_step,
    load_checkpoint_state, merged, next_global_batch, optimizer_for, save_checkpoint,
};
use indicatif::ProgressBar;

use crate::batches::{MicroBatch, Row};
use crate::checkpoint::TrainState;
use crate::config::SftConfig;
use crate::dataset::{Conversations, Dataset};
use crate::error::{Result, SftError};
use crate::loss::mean_target_nll;

/// What a run did; also written to `summary.json` in the output directory (the pipeline reads it
/// back with the same type).
pub use cai_data::SftSummary as Summary;

/// Mean of the micro-batch losses of `rows` (NeMo's validation loss), without gradients kept.
fn validation_loss(
    lm: &CausalLm,
    rope: &RopeTables,
    rows: &[Row],
    cfg: &SftConfig,
    pad: u32,
) -> Option<f64> {
    let chunks: Vec<Vec<&Row>> = rows
        .chunks(cfg.micro_batch_size)
        .take(cfg.limit_val_batches.unwrap_or(usize::MAX))
        .map(|c| c.iter().collect())
        .collect();
    if chunks.is_empty() {
        return None;
    }
    // The inference copy: no graph is recorded and the loss skips its gradient GEMMs.
    let lm = &lm.valid();
    let total: f64 = chunks
        .iter()
        .map(|rows| {
            let loss: f32 = mean_target_nll(lm, rope, &MicroBatch::new(rows, pad)).into_scalar();
            loss as f64
        })
        .sum();
    Some(total / chunks.len() as f64)
}

/// One optimizer step over the global batch `rows`, in micro-batches of the configured size.
fn optimizer_step(
    lm: CausalLm,
    rope: &RopeTables,
    optim: &mut ModuleOptimizer,
    rows: &[&Row],
    cfg: &SftConfig,
    lr: f64,
    pad: u32,
) -> (StepOutcome<CausalLm>, usize) {
    let micro_batches: Vec<MicroBatch> = rows
        .chunks(cfg.micro_batch_size)
        .map(|rows| MicroBatch::new(rows, pad))
        .collect();
    let tokens = micro_batches.iter().map(|b| b.real_tokens).sum();
    let outcome = accumulated_step(
        lm,
        optim,
        &micro_batches,
        lr,
        cfg.gradient_clip_val,
        |lm, batch| mean_target_nll(lm, rope, batch),
    );
    (outcome, tokens)
}

fn progress(cfg: &SftConfig, max_steps: u64, start: u64) -> ProgressBar {
    let bar = if cfg.quiet {
        ProgressBar::hidden()
    } else {
        cai_cli::progress_bar(max_steps, "steps")
    };
    bar.set_position(start);
    bar
}

/// Runs supervised fine-tuning as `cfg` describes; see the crate documentation.
pub fn run(cfg: &SftConfig) -> Result<Summary> {
    // The data first: a missing or bad file fails before anything is written or loaded.
    let conversations = Conversations::read(cfg)?;
    let out = &cfg.output_dir;
    std::fs::create_dir_all(out).map_err(|e| SftError::io(out, e))?;
    let ckpts = CheckpointDir::new(out.join("checkpoints"), Some(cfg.keep_checkpoints));
    let resume = ckpts.resume_point(cfg.resume)?;
    let resume_dir = resume.as_ref().map(|(_, path)| path.as_path());
    let config_json =
        serde_json::to_string_pretty(cfg).map_err(|e| SftError::Config(e.to_string()))?;
    cai_model::save::write_atomic(&out.join("config.json"), config_json.as_bytes())?;

    let mut model = cfg.model_spec().load(resume_dir)?;
    let data = Dataset::encode(&model, conversations, cfg)?;
    let pad = model.config.pad_token_id.unwrap_or(0);
    let steps_per_epoch = (data.train.len() / cfg.global_batch_size) as u64;
    if steps_per_epoch == 0 {
        return Err(SftError::Config(format!(
            "{} training rows cannot fill one global batch of {}",
            data.train.len(),
            cfg.global_batch_size
        )));
    }
    let max_steps = cfg.max_steps.unwrap_or(cfg.max_epochs * steps_per_epoch);
    let mut state = TrainState {
        step: 0,
        max_steps,
        cursor: DataCursor::default(),
        seed: cfg.seed,
        rows: data.train.len(),
        global_batch_size: cfg.global_batch_size,
        consumed_samples: 0,
        initial_validation_loss: None,
    };
    if let Some((_, path)) = &resume {
        let saved: TrainState = load_checkpoint_state(path)?;
        saved.check_compatible(&state, path)?;
        tracing::info!(step = saved.step, dir = %path.display(), "resuming");
        state = saved;
    }
    let mut optim = optimizer_for(&cfg.optimizer(), resume_dir)?;
    let schedule = cfg.schedule(max_steps);
    let mut metrics = MetricsLogger::open(out, resume.as_ref().map(|(step, _)| *step))?;
    let lora = cfg.lora().is_some();
    let stop_at = cfg.stop_after_steps.map_or(max_steps, |s| s.min(max_steps));
    let bar = progress(cfg, max_steps, state.step);
    let (mut first_loss, mut last_loss, mut validation) = (None, None, None);

    let mut lm = model.lm;
    if resume.is_none() {
        // The loss to compare the run's validation losses with: a resumed run has it in its state
        // and its metrics (kept up to the checkpoint), so it is measured once.
        state.initial_validation_loss =
            validation_loss(&lm, &model.rope, &data.validation, cfg, pad);
        if let Some(loss) = state.initial_validation_loss {
            metrics.log("validation", 0, &[("loss", loss)])?;
            bar.suspend(|| tracing::info!(step = 0, loss, "validation before training"));
        }
    }
    while state.step < stop_at {
        let started = Instant::now();
        let picked = next_global_batch(
            state.rows,
            cfg.global_batch_size,
            cfg.seed,
            &mut state.cursor,
        )
        .expect("steps_per_epoch > 0 guarantees a full batch");
        let rows: Vec<&Row> = picked.iter().map(|&i| &data.train[i]).collect();
        let lr = schedule.lr_at(state.step);
        if cfg.lora_dropout > 0.0 {
            LoraSettings::seed_dropout(&lm.device(), cfg.seed, state.step);
        }
        let (outcome, tokens) = optimizer_step(lm, &model.rope, &mut optim, &rows, cfg, lr, pad);
        lm = outcome.module;
        state.step += 1;
        state.consumed_samples += rows.len() as u64;
        let secs = started.elapsed().as_secs_f64();
        first_loss.get_or_insert(outcome.loss);
        last_loss = Some(outcome.loss);
        metrics.log(
            "train",
            state.step,
            &[
                ("loss", outcome.loss),
                ("lr", lr),
                ("grad_norm", outcome.grad_norm),
                ("tokens_per_s", tokens as f64 / secs),
                ("step_time", secs),
                ("consumed_samples", state.consumed_samples as f64),
                ("epoch", state.cursor.epoch as f64),
            ],
        )?;
        tracing::debug!(
            step = state.step,
            loss = outcome.loss,
            lr,
            grad_norm = outcome.grad_norm
        );
        bar.set_position(state.step);
        bar.set_message(format!("loss {:.4} lr {lr:.2e}", outcome.loss));

        let last = state.step == max_steps;
        if (cfg.val_check_interval > 0 && state.step.is_multiple_of(cfg.val_check_interval)) || last
        {
            validation = validation_loss(&lm, &model.rope, &data.validation, cfg, pad);
            if let Some(loss) = validation {
                metrics.log("validation", state.step, &[("loss", loss)])?;
                bar.suspend(|| tracing::info!(step = state.step, loss, "validation"));
            }
        }
        let periodic = cfg.save_interval > 0 && state.step.is_multiple_of(cfg.save_interval);
        if !last && (periodic || state.step == stop_at) {
            metrics.flush()?;
            model.lm = lm;
            let saved = save_checkpoint(&ckpts, state.step, &model, &optim, &state, lora);
            lm = model.lm;
            saved?;
        }
    }
    model.lm = lm;
    metrics.flush()?;
    bar.finish_and_clear();

    let model_dir = if state.step == max_steps {
        let dir = out.join("model");
        merged(model, lora).save_hf(&dir)?;
        Some(dir)
    } else {
        None
    };
    let summary = Summary {
        steps: state.step,
        max_steps,
        first_loss,
        last_loss,
        validation_loss: validation,
        initial_validation_loss: state.initial_validation_loss,
        train_data: data.train_stats,
        validation_data: data.validation_stats,
        model_dir,
    };
    cai_data::write_json_atomic(out.join(cai_data::run_dir::files::SUMMARY), &summary)?;
    Ok(summary)
}
