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
  bench generate     generation speed vs PyTorch and llama.cpp (target/bench/generate.json)
  bench sft          one SFT optimizer step vs PyTorch (target/bench/sft.json)
  bench rm           one reward-model optimizer step vs PyTorch (target/bench/rm.json)
  bench ppo          one PPO iteration (rollout, scoring, updates) vs PyTorch (target/bench/ppo.json)
  bench serve        the server under 16 clients, static vs continuous batching (target/bench/serve.json)
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

/// Whether `name` is a variable that `cargo xtask` (a `cargo run`) set for xtask itself —
/// `CARGO_MANIFEST_DIR`, `CARGO_PKG_*`, `CARGO_CRATE_NAME`, … — rather than one a user sets to
/// configure cargo (`CARGO_HOME`, `CARGO_TARGET_DIR`, `CARGO_BUILD_*`, `CARGO_PROFILE_*`, …).
fn set_by_cargo_for_xtask(name: &str) -> bool {
    /// Cargo's own configuration (`CARGO_<KEY>` of `.cargo/config.toml`, and `CARGO_HOME`).
    const CONFIG: [&str; 3] = ["CARGO_HOME", "CARGO_INCREMENTAL", "CARGO_LOG"];
    const CONFIG_PREFIXES: [&str; 16] = [
        "CARGO_TARGET_", // CARGO_TARGET_DIR, CARGO_TARGET_<TRIPLE>_LINKER / _RUNNER
        "CARGO_BUILD_",
        "CARGO_PROFILE_",
        "CARGO_NET_",
        "CARGO_HTTP_",
        "CARGO_TERM_",
        "CARGO_REGISTRIES_",
        "CARGO_REGISTRY_",
        "CARGO_SOURCE_",
        "CARGO_ALIAS_",
        "CARGO_UNSTABLE_",
        "CARGO_CACHE_",
        "CARGO_INSTALL_",
        "CARGO_RESOLVER_",
        "CARGO_CARGO_NEW_",
        "CARGO_FUTURE_INCOMPAT_REPORT_",
    ];
    name.starts_with("CARGO_")
        && !CONFIG.contains(&name)
        && !CONFIG_PREFIXES
            .iter()
            .any(|prefix| name.starts_with(prefix))
}

/// `cmd` without the `CARGO_*` variables xtask inherited from `cargo xtask`: a build script that
/// tracks one (ring tracks `CARGO_MANIFEST_DIR`) would otherwise see it change between
/// `cargo xtask …` and a plain `cargo build`, and rebuild everything above it each time. Every
/// process xtask starts goes through here.
fn clean_env(cmd: &mut Command) -> &mut Command {
    for (name, _) in std::env::vars_os() {
        if let Some(name) = name.to_str()
            && set_by_cargo_for_xtask(name)
        {
            cmd.env_remove(name);
        }
    }
    cmd
}

fn cargo(args: &[&str]) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    clean_env(&mut cmd).args(args).current_dir(project_root());
    cmd
}

/// `cmd` as a shell line: its program and arguments, quoted (without the variables
/// [`clean_env`] removes, which `Command`'s `Debug` would list).
fn shown(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|part| format!("{part:?}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn run(mut cmd: Command) -> Result<()> {
    clean_env(&mut cmd);
    let line = shown(&cmd);
    eprintln!("$ {line}");
    let status = cmd.status().with_context(|| format!("starting {line}"))?;
    if !status.success() {
        bail!("{line} failed with {status}");
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

fn main() -> std::process::ExitCode {
    match xtask(std::env::args().skip(1).collect()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // Once, with its causes, as the stage binaries print theirs.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn xtask(args: Vec<String>) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("fetch-model") => run(fetch_model_command()),
        Some("pipeline") => pipeline::pipeline(&args[1..]),
        Some("report") => match args.get(1) {
            Some(dir) => pipeline::report_only(std::path::Path::new(dir)),
            None => bail!("usage: cargo xtask report DIR"),
        },
        Some("bench") => match args.get(1).map(String::as_str) {
            Some("generate") => bench::bench_generate(),
            Some("sft") => bench::bench("sft", "cai-sft"),
            Some("rm") => bench::bench("rm", "cai-rm"),
            Some("ppo") => bench::bench("ppo", "cai-ppo"),
            Some("serve") => bench::bench_serve(),
            _ => bail!("usage: cargo xtask bench generate|sft|rm|ppo|serve"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_cargo_set_for_xtask_is_cleared() {
        for name in [
            "CARGO_MANIFEST_DIR",
            "CARGO_MANIFEST_PATH",
            "CARGO_PKG_NAME",
            "CARGO_PKG_VERSION_MAJOR",
            "CARGO_CRATE_NAME",
            "CARGO_BIN_NAME",
            "CARGO_PRIMARY_PACKAGE",
        ] {
            assert!(set_by_cargo_for_xtask(name), "{name}");
        }
        for name in [
            "CARGO",
            "CARGO_HOME",
            "CARGO_TARGET_DIR",
            "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER",
            "CARGO_BUILD_JOBS",
            "CARGO_PROFILE_RELEASE_DEBUG",
            "CARGO_INCREMENTAL",
            "CARGO_NET_OFFLINE",
            "CARGO_REGISTRIES_CRATES_IO_PROTOCOL",
            "CARGO_TERM_COLOR",
            "CARGO_HTTP_TIMEOUT",
            "RUSTFLAGS",
            "PATH",
        ] {
            assert!(!set_by_cargo_for_xtask(name), "{name}");
        }
    }

    #[test]
    fn started_processes_do_not_inherit_them() {
        // The test binary runs under cargo, which set CARGO_MANIFEST_DIR for it as for xtask.
        let mut cmd = Command::new("env");
        clean_env(&mut cmd);
        let removed: Vec<_> = cmd
            .get_envs()
            .filter(|(_, value)| value.is_none())
            .map(|(name, _)| name.to_string_lossy().into_owned())
            .collect();
        let inherited = std::env::var_os("CARGO_MANIFEST_DIR").is_some();
        assert_eq!(
            removed.iter().any(|n| n == "CARGO_MANIFEST_DIR"),
            inherited,
            "{removed:?}"
        );
        assert!(
            removed.iter().all(|n| set_by_cargo_for_xtask(n)),
            "{removed:?}"
        );
    }
}
