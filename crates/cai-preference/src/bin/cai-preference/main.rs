//! `cai-preference`: RL-CAI preference labelling.
//!
//! `cai-preference [--policy M] --prompts FILE --out DIR [--judge M] [--mode paper]
//! [--candidates K] [--limit N]` samples candidates, judges them and writes the preference data;
//! `cai-preference calibrate [--judge M] --pairs FILE` prints `{"n", "accuracy", "position_bias",
//! "ece"}` as its last line.

mod flags;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use cai_backend::BackendSettings;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cai-preference",
    version,
    about = "RL-CAI preference labelling by AI feedback",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    label: flags::LabelFlags,
}

#[derive(Subcommand)]
enum Command {
    /// Score labelled `{"prompt", "good", "bad"}` pairs and report the judge's calibration.
    Calibrate(flags::CalibrateFlags),
}

fn label(flags: flags::LabelFlags) -> anyhow::Result<()> {
    let config = cai_preference::Config::load(flags.config.as_deref(), flags.overrides()?)?;
    let inputs = cai_preference::read_inputs(&config)?;
    let bar = cai_cli::progress_bar(inputs.prompts.len() as u64, "prompts");
    let summary = cai_preference::load_and_run(&config, inputs, &mut |n| bar.inc(n as u64));
    bar.finish_and_clear();
    let summary = summary?;
    println!("{}", serde_json::to_string(&summary)?);
    Ok(())
}

fn calibrate(flags: flags::CalibrateFlags) -> anyhow::Result<()> {
    let pairs = cai_preference::input::read_calibration_pairs(&flags.pairs)?;
    let constitution = cai_preference::run::load_constitution(&flags.constitution)?;
    let settings = BackendSettings {
        model: flags.judge.clone(),
        device: flags.device.clone(),
        ..(&cai_preference::Config::default()).into()
    };
    let bar = cai_cli::spinner(&format!("loading {}", flags.judge));
    let model = cai_backend::load_model(&settings);
    bar.finish_and_clear();
    let model = model.with_context(|| format!("loading the judge {}", flags.judge))?;
    let judge =
        cai_preference::LocalJudge::new(Arc::new(model), &flags.judge, flags.judge_chat_template);
    let report = cai_preference::calibrate(&judge, &constitution, &pairs, flags.ensemble)?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

fn main() -> ExitCode {
    cai_cli::init_process();
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Calibrate(flags)) => calibrate(flags),
        None => label(cli.label),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
