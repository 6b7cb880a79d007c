//! `cargo xtask pipeline`: the CAI pipeline on the default model (SmolLM2-135M-Instruct), stage
//! after stage, each a release binary in its own process writing under one run directory.
//!
//! Built today: SL-CAI data (`cai-critique`: red-team answer → critique → revision, blended with
//! helpfulness chats) → SFT (`cai-sft`) → the SL-CAI model in Hugging Face layout. RL-CAI
//! preference labelling, the reward model and PPO join here as they land. Every stage resumes, so
//! re-running the command after an interruption continues where it stopped. `manifest.json` in the
//! run directory records inputs, configs and each stage's status (see `docs/run-directory.md`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use cai_data::run_dir::{files, read_json};
use cai_data::{RunDir, Stage};
use serde_json::json;

use crate::run_record::{RunRecord, critique_summary, sft_finished};
use crate::{cargo, project_root, run};

/// Usage of the pipeline command.
pub const USAGE: &str = "\
usage: cargo xtask pipeline [--out DIR] [--limit N] [--tokens N] [--sft-steps N]

  --out DIR        run directory (default runs/pipeline); re-running resumes inside it
  --limit N        red-team prompts for SL-CAI (default 16)
  --tokens N       tokens generated per answer, critique and revision (default 128)
  --sft-steps N    SFT optimizer steps of 8 samples, at most 512 tokens each (default 8)

The defaults are sized for a CPU (about 6 minutes on 2 cores after the build); the stage
binaries take the full settings (docs/stages/).
";

/// The pipeline's settings.
struct Settings {
    out: PathBuf,
    limit: usize,
    tokens: usize,
    sft_steps: usize,
}

impl Settings {
    fn parse(args: &[String]) -> Result<Self> {
        let mut settings = Settings {
            out: project_root().join("runs/pipeline"),
            limit: 16,
            tokens: 128,
            sft_steps: 8,
        };
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            if flag == "--help" || flag == "-h" {
                eprint!("{USAGE}");
                std::process::exit(0);
            }
            let value = args
                .next()
                .with_context(|| format!("{flag} needs a value\n{USAGE}"))?;
            let number = || -> Result<usize> {
                value
                    .parse()
                    .with_context(|| format!("{flag} {value}: not a whole number"))
            };
            match flag.as_str() {
                // Stages run from the project root: make the directory absolute first.
                "--out" => settings.out = std::env::current_dir()?.join(value),
                "--limit" => settings.limit = number()?,
                "--tokens" => settings.tokens = number()?,
                "--sft-steps" => settings.sft_steps = number()?,
                _ => bail!("unknown flag {flag}\n{USAGE}"),
            }
        }
        Ok(settings)
    }
}

/// Where cargo builds: `CARGO_TARGET_DIR` (relative to the project root) or `target/`.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => project_root().join(dir),
        None => project_root().join("target"),
    }
}

/// A stage binary of the release build.
fn stage(name: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(target_dir().join("release").join(name));
    cmd.args(args).current_dir(project_root());
    cmd
}

fn path_arg(path: &Path) -> &str {
    path.to_str().expect("run directories are UTF-8 paths")
}

/// The SFT configuration the pipeline trains with, relative to the project root.
const SFT_CONFIG: &str = "crates/cai-sft/sft.example.toml";

/// Runs the pipeline with the flags in `args`.
pub fn pipeline(args: &[String]) -> Result<()> {
    let s = Settings::parse(args)?;
    let mut record = RunRecord::open(RunDir::new(&s.out))?;
    let run_dir = record.run().clone();
    let (critique_dir, sft_dir) = (run_dir.critique(), run_dir.sft());
    record.config(
        "pipeline",
        json!({"limit": s.limit, "tokens": s.tokens, "sft_steps": s.sft_steps}),
    )?;
    record.input("sft-config", &project_root().join(SFT_CONFIG))?;
    eprintln!("== building the stage binaries (release)");
    run(cargo(&[
        "build",
        "--release",
        "-p",
        "cai-critique",
        "-p",
        "cai-sft",
    ]))?;
    eprintln!("== 1/2 SL-CAI: answer, critique and revise red-team prompts");
    let [limit, tokens] = [s.limit, s.tokens].map(|n| n.to_string());
    record.stage(Stage::Critique, || {
        run(stage(
            "cai-critique",
            &[
                "--out",
                path_arg(&critique_dir),
                "--limit",
                &limit,
                "--tokens-to-generate",
                &tokens,
            ],
        ))?;
        critique_summary(&run_dir).map(|_| ())
    })?;
    let critique_config = critique_dir.join(files::CONFIG);
    record.config("critique", read_json(&critique_config)?)?;
    eprintln!("== 2/2 SFT on the SL-CAI blend");
    if sft_finished(&run_dir, s.sft_steps) {
        eprintln!(
            "{} already holds the model of {} steps (delete it to train again)",
            sft_dir.display(),
            s.sft_steps
        );
        record.mark_done(Stage::Sft)?;
    } else {
        let train_file = run_dir.critique_blend();
        record.input("sft-train-file", &train_file)?;
        record.stage(Stage::Sft, || sft(&train_file, &sft_dir, s.sft_steps))?;
    }
    let model = run_dir.sft_model();
    eprintln!(
        "== done\n\
         SL-CAI data:  {}\n\
         SL-CAI model: {}\n\
         manifest:     {}\n\
         serve it:     cargo run --release -p cai-serve -- --model {} --port 5555\n\
         not in the pipeline yet: preference labelling (cai-preference), the reward model (cai-rm); not built: PPO",
        critique_dir.display(),
        model.display(),
        run_dir.manifest().display(),
        model.display(),
    );
    Ok(())
}

/// `cai-sft` on `train_file` for `steps` optimizer steps of 8 samples, into `out`; resumes from
/// the newest checkpoint there.
fn sft(train_file: &Path, out: &Path, steps: usize) -> Result<()> {
    let warmup = (steps / 10).max(1).to_string();
    let steps = steps.to_string();
    run(stage(
        "cai-sft",
        &[
            "--config",
            SFT_CONFIG,
            "--train-file",
            path_arg(train_file),
            "--output-dir",
            path_arg(out),
            "--resume",
            "--max-steps",
            &steps,
            "--warmup-steps",
            &warmup,
            "--micro-batch-size",
            "2",
            "--global-batch-size",
            "8",
            "--max-seq-length",
            "512",
            "--limit-val-batches",
            "4",
        ],
    ))
}
