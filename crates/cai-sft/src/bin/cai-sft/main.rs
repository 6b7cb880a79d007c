//! `cai-sft --config sft.toml [--flag value …]`: supervised fine-tuning (see `cai_sft`).

mod flags;

use std::process::ExitCode;

use clap::Parser;

fn run(flags: flags::Flags) -> anyhow::Result<cai_sft::Summary> {
    let overrides = cai_cli::given_flags(&flags)?;
    let cfg = cai_sft::SftConfig::load(flags.config.as_deref(), overrides)?;
    Ok(cai_sft::run(&cfg)?)
}

fn main() -> ExitCode {
    cai_cli::init_process();
    cai_cli::threads::compute_on_this_thread();
    match run(flags::Flags::parse()) {
        Ok(summary) => {
            let loss = |v: Option<f64>| v.map_or_else(|| "none".to_string(), |v| format!("{v:.4}"));
            tracing::info!(
                steps = summary.steps,
                loss = %loss(summary.last_loss),
                validation = %loss(summary.validation_loss),
                validation_before = %loss(summary.initial_validation_loss),
                model = %summary
                    .model_dir
                    .as_ref()
                    .map_or_else(|| "none".to_string(), |d| d.display().to_string()),
                "done"
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
