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
    let config = cai_preference::Config::load(None, flags.overrides()?)?;
    if config.mode == cai_preference::Mode::Nemo {
        anyhow::bail!("mode: calibrate scores option probabilities (paper or cot), not nemo");
    }
    let pairs = cai_preference::input::read_calibration_pairs(&flags.pairs)?;
    let constitution = cai_preference::run::load_constitution(&config.constitution)?;
    let demonstrations = cai_preference::run::read_demonstrations(&config)?;
    let style = cai_preference::run::style(&config, &demonstrations);
    let judge: Box<dyn cai_preference::OptionScorer> = match &config.judge_endpoint {
        Some(url) => {
            let remote = cai_preference::run::judge_remote_config(&config, url)?;
            let judge = cai_judge::RemoteJudge::new(remote)?;
            judge.probe()?;
            Box::new(judge)
        }
        None => {
            let name = config.judge_model().to_string();
            let settings = BackendSettings::from(&config);
            let bar = cai_cli::spinner(&format!("loading {name}"));
            let model = cai_backend::load_model(&settings);
            bar.finish_and_clear();
            let model = model.with_context(|| format!("loading the judge {name}"))?;
            Box::new(cai_preference::LocalJudge::new(
                Arc::new(model),
                name,
                config.judge_chat_template,
            ))
        }
    };
    let bar = cai_cli::spinner(&format!("judging {} pairs in both orders", pairs.len()));
    let report = cai_preference::calibrate(
        judge.as_ref(),
        &constitution,
        &pairs,
        config.ensemble,
        &style,
    );
    bar.finish_and_clear();
    println!("{}", serde_json::to_string(&report?)?);
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
