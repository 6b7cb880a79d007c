//! `cargo xtask pipeline`: the whole CAI pipeline, stage after stage, each a release binary in its
//! own process writing under one run directory: SL-CAI critique/revision (`cai-critique`) → SFT
//! (`cai-sft`) → RL-CAI preference labelling (`cai-preference`) → reward model (`cai-rm`) → PPO
//! (`cai-ppo`) → evaluation (`cai-eval`) → `report.md`.
//!
//! Settings come from a profile of `xtask/profiles.toml` (`default`, `smoke`, `mistral-7b`), a
//! `--config` file and flags. Every stage resumes, so re-running continues where a run stopped;
//! a finished stage is not run again. `manifest.json` records each stage's command line, status
//! and timings; a finished stage whose command line would now differ is an error (re-run it and
//! what follows with `--from STAGE`, or use another `--out`), so old and new are never mixed.

mod plots;
mod profile;
mod report;
mod stages;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use cai_data::{RunDir, Stage, StageStatus};

use crate::run_record::{RunRecord, critique_summary, sft_finished};
use crate::{cargo, clean_env, project_root, run};
use profile::{PROFILES_FILE, Profile};
use stages::StageCommand;

/// Usage of the pipeline command.
pub const USAGE: &str = "\
usage: cargo xtask pipeline [--profile default|smoke|mistral-7b] [--config FILE] [--out DIR]
                            [--from STAGE] [--to STAGE] [--limit N] [--tokens N] [--sft-steps N]

  --profile NAME   settings from xtask/profiles.toml (default: default, about 25 minutes on 2 CPU cores)
  --config FILE    TOML file overriding the profile's keys
  --out DIR        run directory (default runs/pipeline); re-running resumes inside it
  --from STAGE     redo STAGE and every stage after it (critique, sft, preference, rm, ppo, eval)
  --to STAGE       stop after STAGE
  --limit N, --tokens N, --sft-steps N
                   override the profile's SL-CAI prompts, tokens and SFT steps
";

/// The pipeline's command-line choices.
#[derive(Debug)]
struct Args {
    profile: String,
    config: Option<PathBuf>,
    out: PathBuf,
    from: Option<Stage>,
    to: Option<Stage>,
    overrides: toml::Table,
}

/// A stage by its name on the command line.
fn parse_stage(name: &str) -> Result<Stage> {
    let alias = if name == "rm" { "reward-model" } else { name };
    Stage::ALL
        .into_iter()
        .find(|s| s.name() == alias)
        .with_context(|| {
            format!("unknown stage `{name}` (one of: critique, sft, preference, rm, ppo, eval)")
        })
}

impl Args {
    fn parse(args: &[String]) -> Result<Self> {
        let mut parsed = Args {
            profile: "default".into(),
            config: None,
            out: project_root().join("runs/pipeline"),
            from: None,
            to: None,
            overrides: toml::Table::new(),
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
            let number = || -> Result<toml::Value> {
                let n: i64 = value
                    .parse()
                    .with_context(|| format!("{flag} {value}: not a whole number"))?;
                if n < 1 {
                    bail!("{flag} {value}: must be at least 1");
                }
                Ok(toml::Value::Integer(n))
            };
            match flag.as_str() {
                "--profile" => parsed.profile = value.clone(),
                "--config" => parsed.config = Some(std::env::current_dir()?.join(value)),
                // Stages run from the project root: make the directory absolute first.
                "--out" => parsed.out = std::env::current_dir()?.join(value),
                "--from" => parsed.from = Some(parse_stage(value)?),
                "--to" => parsed.to = Some(parse_stage(value)?),
                "--limit" => drop(parsed.overrides.insert("limit".into(), number()?)),
                "--tokens" => drop(parsed.overrides.insert("tokens".into(), number()?)),
                "--sft-steps" => drop(parsed.overrides.insert("sft_steps".into(), number()?)),
                _ => bail!("unknown flag {flag}\n{USAGE}"),
            }
        }
        if let (Some(from), Some(to)) = (parsed.from, parsed.to)
            && index(to) < index(from)
        {
            bail!("--to {} comes before --from {}", to.name(), from.name());
        }
        check_out_dir(&parsed.out)?;
        Ok(parsed)
    }
}

/// Fails unless `out` is a directory or can become one: it, or the nearest of its ancestors that
/// exists, must be a directory (checked before any build).
fn check_out_dir(out: &Path) -> Result<()> {
    let Some(existing) = out.ancestors().find(|a| a.exists()) else {
        return Ok(());
    };
    if existing.is_dir() {
        Ok(())
    } else if existing == out {
        bail!("--out {}: exists and is not a directory", out.display())
    } else {
        bail!(
            "--out {}: {} is a file, not a directory",
            out.display(),
            existing.display()
        )
    }
}

fn index(stage: Stage) -> usize {
    Stage::ALL.iter().position(|s| *s == stage).unwrap_or(0)
}

/// The command of `stage`.
fn command(stage: Stage, p: &Profile, run: &RunDir) -> StageCommand {
    match stage {
        Stage::Critique => stages::critique(p, run),
        Stage::Sft => stages::sft(p, run),
        Stage::Preference => stages::preference(p, run),
        Stage::RewardModel => stages::reward_model(p, run),
        Stage::Ppo => stages::ppo(p, run),
        Stage::Eval => stages::eval(p, run),
    }
}

/// Whether `stage` already holds its finished output (training stages; the others resume
/// cheaply inside their binaries and always run).
fn already_finished(stage: Stage, p: &Profile, run: &RunDir) -> bool {
    match stage {
        Stage::Sft => sft_finished(run, p.sft_steps),
        Stage::RewardModel => stages::trained(&run.reward_model(), p.rm_steps),
        Stage::Ppo => stages::trained(&run.ppo(), p.ppo_steps),
        _ => false,
    }
}

/// Checks what the stages will do against the manifest before any work: a finished stage run
/// with another command line is an error unless `--from` redoes it.
fn check_settings(record: &RunRecord, p: &Profile, run: &RunDir, args: &Args) -> Result<()> {
    for stage in Stage::ALL {
        if args.from.is_some_and(|from| index(stage) >= index(from)) {
            break;
        }
        let key = format!("stage/{}", stage.name());
        let done = record.status(stage) == StageStatus::Done;
        if let (true, Some(before)) = (done, record.config_of(&key)) {
            let now = command(stage, p, run).recorded();
            if *before != now {
                bail!(
                    "{}: stage `{}` finished with other settings\n  before: {before}\n  now:    {now}\n\
                     redo it and the stages after it with `--from {}`, or use another --out",
                    run.root().display(),
                    stage.name(),
                    stage.name()
                );
            }
        }
    }
    Ok(())
}

/// Runs the pipeline with the flags in `args`.
pub fn pipeline(args: &[String]) -> Result<()> {
    let args = Args::parse(args)?;
    let profiles = std::fs::read_to_string(project_root().join(PROFILES_FILE))
        .with_context(|| format!("reading {PROFILES_FILE}"))?;
    let p = profile::resolve(
        &profiles,
        &args.profile,
        args.config.as_deref(),
        args.overrides.clone(),
    )?;
    let mut record = RunRecord::open(RunDir::new(&args.out))?;
    let run_dir = record.run().clone();
    check_settings(&record, &p, &run_dir, &args)?;
    record.config("pipeline", serde_json::to_value(&p)?)?;
    record.config("profile", serde_json::Value::from(args.profile.clone()))?;
    record.input(
        "red-team-prompts",
        &project_root().join(stages::RED_TEAM_PROMPTS),
    )?;
    record.input("sft-config", &project_root().join(stages::SFT_CONFIG))?;
    eprintln!("== building the stage binaries (release)");
    run(cargo(&[
        "build",
        "--release",
        "-p",
        "cai-critique",
        "-p",
        "cai-sft",
        "-p",
        "cai-preference",
        "-p",
        "cai-rm",
        "-p",
        "cai-ppo",
        "-p",
        "cai-eval",
    ]))?;
    let last = args.to.map_or(Stage::ALL.len() - 1, index);
    for (i, stage) in Stage::ALL.into_iter().enumerate().take(last + 1) {
        let redo = args.from.is_some_and(|from| i >= index(from));
        if args.from.is_some_and(|from| i < index(from)) {
            if record.status(stage) != StageStatus::Done {
                bail!(
                    "--from {}: stage `{}` has not finished in {}",
                    args.from.map_or("", Stage::name),
                    stage.name(),
                    run_dir.root().display()
                );
            }
            continue;
        }
        let dir = run_dir.stage(stage);
        if redo && dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
        eprintln!("== {}/{} {}", i + 1, Stage::ALL.len(), stage.name());
        let cmd = command(stage, &p, &run_dir);
        record.config(&format!("stage/{}", stage.name()), cmd.recorded())?;
        // Done in the manifest (with these settings: checked above) means its work finished; the
        // stage is not re-run, so its recorded time stays the time it took.
        let done_before = record.status(stage) == StageStatus::Done && dir.exists();
        if done_before || already_finished(stage, &p, &run_dir) {
            eprintln!(
                "{} already finished (delete it, or --from {}, to redo it)",
                dir.display(),
                stage.name()
            );
            record.mark_done(stage)?;
            continue;
        }
        record.stage(stage, || {
            run(cmd.command())?;
            match stage {
                Stage::Critique => drop(critique_summary(&run_dir)?),
                Stage::Preference => calibrate_judge(&p, &run_dir)?,
                _ => {}
            }
            Ok(())
        })?;
    }
    let report = report::write(&run_dir, &args.profile)?;
    let model = run_dir.ppo().join(cai_data::run_dir::files::MODEL_DIR);
    eprintln!(
        "== done\n\
         report:       {}\n\
         manifest:     {}\n\
         RL-CAI model: {}\n\
         serve it:     cargo run --release -p cai-serve -- --model {} --port 5555",
        report.display(),
        run_dir.manifest().display(),
        model.display(),
        model.display(),
    );
    Ok(())
}

/// Runs the judge's calibration on clear-cut pairs and keeps its line in the preference stage's
/// directory, for the report.
fn calibrate_judge(p: &Profile, run_dir: &RunDir) -> Result<()> {
    if p.preference_mode == "nemo" {
        eprintln!("judge calibration skipped: the nemo judge gives no option probabilities");
        return Ok(());
    }
    let mut cmd = stages::calibration(p, run_dir).command();
    let out = clean_env(&mut cmd)
        .output()
        .context("running cai-preference calibrate")?;
    if !out.status.success() {
        bail!(
            "cai-preference calibrate failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or("{}");
    let value: serde_json::Value =
        serde_json::from_str(line).context("reading the calibration line")?;
    let path = run_dir.preference().join(stages::CALIBRATION_FILE);
    cai_data::write_json_atomic(&path, &value)?;
    eprintln!("judge calibration on clear-cut pairs: {line}");
    Ok(())
}

/// Rebuilds `report.md` of the run directory `dir` from what its stages wrote.
pub fn report_only(dir: &std::path::Path) -> Result<()> {
    let run = RunDir::new(dir);
    let profile = cai_data::Manifest::load(&run.manifest())?
        .and_then(|m| {
            m.configs
                .get("profile")
                .and_then(|p| p.as_str().map(String::from))
        })
        .unwrap_or_else(|| "?".into());
    let path = report::write(&run, &profile)?;
    eprintln!("report: {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn stages_and_flags_are_checked_before_any_work() {
        let a = Args::parse(&strings(&["--from", "rm", "--to", "eval", "--limit", "3"])).unwrap();
        assert_eq!(
            (a.from, a.to),
            (Some(Stage::RewardModel), Some(Stage::Eval))
        );
        assert_eq!(a.overrides["limit"].as_integer(), Some(3));
        let err = Args::parse(&strings(&["--from", "judge"])).unwrap_err();
        assert!(err.to_string().contains("unknown stage `judge`"), "{err}");
        let err = Args::parse(&strings(&["--from", "ppo", "--to", "sft"])).unwrap_err();
        assert!(err.to_string().contains("comes before"), "{err}");
        assert!(Args::parse(&strings(&["--steps", "3"])).is_err());
        let err = Args::parse(&strings(&["--limit", "0"])).unwrap_err();
        assert_eq!(err.to_string(), "--limit 0: must be at least 1");
    }

    #[test]
    fn an_out_that_cannot_be_a_directory_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("notes.txt");
        std::fs::write(&file, "").unwrap();
        let out = file.to_str().unwrap();
        let err = Args::parse(&strings(&["--out", out])).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("--out {out}: exists and is not a directory")
        );
        let below = format!("{out}/run");
        let err = Args::parse(&strings(&["--out", &below])).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("--out {below}: {out} is a file, not a directory")
        );
        let fresh = dir.path().join("runs/new");
        assert!(Args::parse(&strings(&["--out", fresh.to_str().unwrap()])).is_ok());
    }
}
