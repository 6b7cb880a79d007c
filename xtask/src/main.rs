//! Project automation in the cargo-xtask style: `cargo xtask <command>`.
//!
//! xtask links no burn and of our crates only cai-data (the run directory and its manifest); it runs
//! the stage binaries as separate processes, so a single stage can be re-run and each frees its
//! memory when done.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

mod bench;
mod pipeline;
mod run_record;
mod tidy;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  fetch-model        download the default model (SmolLM2-135M-Instruct) if missing; print its path
  pipeline           the whole CAI pipeline (profiles: default, smoke, mistral-7b; runs/pipeline)
  report DIR         rebuild DIR/report.md (and its plots) from a run directory
  bench generate     generation speed vs PyTorch (target/bench/generate.json)
  bench sft          one SFT optimizer step vs PyTorch (target/bench/sft.json)
  bench rm           one reward-model optimizer step vs PyTorch (target/bench/rm.json)
  bench ppo          one PPO iteration (rollout, scoring, updates) vs PyTorch (target/bench/ppo.json)
  tidy               check the workspace rules (crate dependencies, kernel users, file sizes)
  golden             regenerate the golden fixtures with transformers (Python venv, pinned versions)
  ci                 run what CI runs: fmt check, tests, clippy, CUDA type-check
";

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the root")
        .to_path_buf()
}

fn cargo(args: &[&str]) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(args).current_dir(project_root());
    cmd
}

fn run(mut cmd: Command) -> Result<()> {
    eprintln!("$ {cmd:?}");
    let status = cmd.status().with_context(|| format!("starting {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

/// `cai-model fetch` (release build): downloads the default model if missing, prints its path.
fn fetch_model_command() -> Command {
    cargo(&[
        "run",
        "--quiet",
        "--release",
        "-p",
        "cai-cli",
        "--bin",
        "cai-model",
        "--",
        "fetch",
    ])
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("fetch-model") => run(fetch_model_command()),
        Some("pipeline") => pipeline::pipeline(&args[1..]),
        Some("report") => match args.get(1) {
            Some(dir) => pipeline::report_only(std::path::Path::new(dir)),
            None => bail!("usage: cargo xtask report DIR"),
        },
        Some("bench") => match args.get(1).map(String::as_str) {
            Some("generate") => bench::bench("generate", "cai-model"),
            Some("sft") => bench::bench("sft", "cai-sft"),
            Some("rm") => bench::bench("rm", "cai-rm"),
            Some("ppo") => bench::bench("ppo", "cai-ppo"),
            _ => bail!("usage: cargo xtask bench generate|sft|rm|ppo"),
        },
        Some("tidy") => tidy::tidy(),
        Some("golden") => run({
            let mut cmd = Command::new("bash");
            cmd.arg(project_root().join("scripts/golden/regenerate.sh"));
            cmd
        }),
        Some("ci") => run({
            let mut cmd = Command::new("bash");
            cmd.arg(project_root().join(".ci/run"));
            cmd
        }),
        _ => {
            eprint!("{USAGE}");
            bail!("unknown or missing command")
        }
    }
}
