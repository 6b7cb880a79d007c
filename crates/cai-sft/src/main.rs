//! `cai-sft --config sft.toml [--flag value …]`: supervised fine-tuning (see `cai_sft`).

use std::process::ExitCode;

fn main() -> ExitCode {
    cai_model::cli::init_process();
    let result =
        cai_sft::SftConfig::from_args(std::env::args_os()).and_then(|cfg| cai_sft::run(&cfg));
    match result {
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
        Err(cai_sft::SftError::Usage(e)) => e.exit(),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
