//! `cai-rm`: train a reward model (`cai-rm train`) or score with one (`cai-rm score`).
//!
//! `cai-rm train [--model M] --train FILE [--val FILE] --out DIR [--max-steps N] [--lora-rank R]
//! [--resume]` writes `DIR/model` (the reward model) and `DIR/summary.json` (final validation `acc`
//! and `loss`). `cai-rm score --model DIR --input FILE` prints one JSON object with a `reward` per
//! input line, in order.

mod flags;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use cai_model::LoadOptions;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cai-rm",
    version,
    about = "Reward model: Bradley-Terry on preference pairs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a reward model on preference pairs.
    Train(Box<flags::TrainFlags>),
    /// Score `{"prompt", "response"}` or `{"text"}` lines with a trained reward model.
    Score {
        /// The reward model directory (`cai-rm train`'s `DIR/model`).
        #[arg(long)]
        model: PathBuf,
        /// The inputs, one JSON object per line.
        #[arg(long)]
        input: PathBuf,
        /// Sequences per forward.
        #[arg(long, default_value_t = 8)]
        batch_size: usize,
        /// Device: `cpu`, or `cuda[:N]` with the cuda feature.
        #[arg(long, default_value = "cpu")]
        device: String,
    },
}

fn train(flags: flags::TrainFlags) -> anyhow::Result<()> {
    let cfg = cai_rm::RmConfig::load(flags.config.as_deref(), flags.overrides()?)?;
    let summary = cai_rm::train(&cfg)?;
    let show = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
    println!(
        "{}: {} steps; validation acc {} loss {}; {} training pairs ({} too long); model {}",
        cfg.output_dir.display(),
        summary.steps,
        show(summary.acc),
        show(summary.loss),
        summary.data.train.kept,
        summary.data.train.too_long,
        summary
            .model_dir
            .as_ref()
            .map_or("-".into(), |d| d.display().to_string()),
    );
    Ok(())
}

fn score(model: PathBuf, input: PathBuf, batch_size: usize, device: String) -> anyhow::Result<()> {
    let inputs = cai_rm::data::read_score_inputs(&input)?;
    let opts = LoadOptions {
        device: cai_model::device::parse_device(&device)?,
        ..LoadOptions::default()
    };
    let bar = cai_cli::spinner(&format!("loading {}", model.display()));
    let scorer = cai_rm::Scorer::load(&model, &opts);
    bar.finish_and_clear();
    let scorer = scorer.with_context(|| format!("loading the reward model {}", model.display()))?;
    for scored in scorer.score(&inputs, batch_size)? {
        println!(
            "{}",
            serde_json::json!({"reward": scored.reward, "tokens": scored.tokens})
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    cai_cli::init_process();
    cai_cli::threads::compute_on_this_thread();
    let result = match Cli::parse().command {
        Command::Train(flags) => train(*flags),
        Command::Score {
            model,
            input,
            batch_size,
            device,
        } => score(model, input, batch_size, device),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
