//! `cai-critique`: SL-CAI data generation with the in-process engine, or through remote endpoints
//! with `--endpoint URL` (see the library docs).
//!
//! `cai-critique --model M --prompts FILE --out DIR [--limit N] [--rounds R] [--helpfulness FILE]
//! [--endpoint URL …]` writes `DIR/trace.jsonl`, `DIR/sft.jsonl` and `DIR/summary.json`; re-running
//! resumes.

mod flags;

use std::process::ExitCode;

use anyhow::Context;
use cai_cli::{init_process, progress_bar, spinner};
use cai_critique::{Backend, Config, Inputs, Observer, Step};
use clap::Parser;
use indicatif::ProgressBar;

/// Draws a progress bar over the generation steps still to do (each prompt's answer, critiques
/// and revisions), moving after every generator call and naming the step.
#[derive(Default)]
struct Bar {
    bar: Option<ProgressBar>,
    saved: usize,
}

impl Observer for Bar {
    fn started(&mut self, pending: usize, done: usize, steps_per_batch: usize) {
        if done > 0 {
            tracing::info!(done, pending, "resuming: skipping prompts finished earlier");
        }
        self.bar = Some(progress_bar((pending * steps_per_batch) as u64, "steps"));
    }

    fn step_done(&mut self, step: Step, prompts: usize) {
        if let Some(bar) = &self.bar {
            bar.inc(prompts as u64);
            bar.set_message(format!("{step} done for {prompts} prompts"));
        }
    }

    fn batch_done(&mut self, prompts: usize) {
        self.saved += prompts;
        tracing::debug!(saved = self.saved, "batch saved to the work log");
    }
}

fn run(flags: flags::Flags) -> anyhow::Result<()> {
    let config = Config::load(flags.config.as_deref(), flags.overrides()?)?;
    let inputs = Inputs::load(&config)?;
    for (what, bad) in [
        ("prompts", &inputs.prompts.bad),
        ("helpfulness", &inputs.helpfulness.bad),
    ] {
        if bad.count > 0 {
            tracing::warn!(
                "{what}: skipped {} bad records (listed in summary.json)",
                bad.count
            );
        }
    }
    let loading =
        Backend::loads_model(&config).then(|| spinner(&format!("loading {}", config.model)));
    let backend = Backend::load(&config);
    if let Some(loading) = loading {
        loading.finish_and_clear();
    }
    let backend =
        backend.with_context(|| format!("setting up generation (model `{}`)", config.model))?;
    let env = backend.environment();
    let mut bar = Bar::default();
    let summary = cai_critique::run(&config, &inputs, &env, &mut bar)?;
    if let Some(bar) = bar.bar {
        bar.finish_and_clear();
    }
    let reasons: Vec<String> = summary
        .counts
        .dropped
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(reason, n)| format!("{reason} {n}"))
        .collect();
    let dropped = summary.counts.dropped.values().sum::<usize>();
    let why = if reasons.is_empty() {
        String::new()
    } else {
        format!(": {}", reasons.join(", "))
    };
    println!(
        "{}: {} traces, {} SL-CAI samples, {} refusing or redirecting ({dropped} dropped{why}), blend of {} in {}; {} generated, {} resumed, {:.1}s",
        config.out.display(),
        summary.counts.traces,
        summary.counts.sl_cai_samples,
        summary.counts.declining_samples,
        summary.counts.blend,
        cai_critique::output::SFT,
        summary.run.prompts_generated,
        summary.run.prompts_resumed,
        summary.run.wall_secs,
    );
    Ok(())
}

fn main() -> ExitCode {
    init_process();
    match run(flags::Flags::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
