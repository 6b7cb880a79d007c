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
    match run(flags::Flags::parse()) {
        Ok(summary) => {
            tracing::info!(
                steps = summary.steps,
                loss = ?summary.last_loss,
                validation = ?summary.validation_loss,
                model = ?summary.model_dir,
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
