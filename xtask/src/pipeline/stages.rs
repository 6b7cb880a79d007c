//! The command line of each stage binary for a profile, and how the pipeline tells that a stage
//! already finished (from its own `summary.json`).

use std::path::{Path, PathBuf};
use std::process::Command;

use cai_data::RunDir;
use cai_data::run_dir::{files, read_json};
use serde_json::{Value, json};

use super::profile::Profile;
use crate::project_root;

/// The SFT configuration the pipeline trains with, relative to the project root.
pub const SFT_CONFIG: &str = "crates/cai-sft/sft.example.toml";
/// The red-team prompts of RL-CAI (labelling and PPO), relative to the project root.
pub const RED_TEAM_PROMPTS: &str = "crates/cai-data/corpus/red_team.jsonl";

/// Where cargo builds: `CARGO_TARGET_DIR` (relative to the project root) or `target/`.
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => project_root().join(dir),
        None => project_root().join("target"),
    }
}

/// A command line being built for a stage binary of the release build.
pub struct StageCommand {
    cmd: Command,
    args: Vec<String>,
}

impl StageCommand {
    fn new(binary: &str) -> Self {
        let mut cmd = Command::new(target_dir().join("release").join(binary));
        cmd.current_dir(project_root());
        Self {
            cmd,
            args: Vec::new(),
        }
    }

    fn arg(mut self, flag: &str, value: impl ToString) -> Self {
        self.args.push(flag.to_string());
        self.args.push(value.to_string());
        self
    }

    fn path(self, flag: &str, value: &Path) -> Self {
        let text = value.to_string_lossy().into_owned();
        self.arg(flag, text)
    }

    fn flag(mut self, flag: &str) -> Self {
        self.args.push(flag.to_string());
        self
    }

    /// `flag value` when `value` is given.
    fn maybe(self, flag: &str, value: Option<&str>) -> Self {
        match value {
            Some(v) => self.arg(flag, v),
            None => self,
        }
    }

    /// The judge: the profile's endpoint (and its model), else the local model `local` under
    /// `local_flag`.
    fn judge(self, p: &Profile, local_flag: Option<&Path>) -> Self {
        match (&p.judge_endpoint, local_flag) {
            (Some(url), _) => self
                .arg("--judge-endpoint", url)
                .maybe("--judge-model", p.judge_model.as_deref()),
            (None, Some(local)) => self.path("--judge", local),
            (None, None) => self,
        }
    }

    /// How the judge labels: the mode and demonstrations when they differ from the defaults.
    fn labelling(self, p: &Profile) -> Self {
        let cmd = self.maybe(
            "--mode",
            (p.preference_mode != "paper").then_some(p.preference_mode.as_str()),
        );
        match p.preference_few_shot {
            0 => cmd,
            n => cmd.arg("--few-shot", n),
        }
    }

    /// LoRA flags when the profile trains adapters.
    fn lora(self, p: &Profile) -> Self {
        match p.lora_rank {
            0 => self,
            r => self.arg("--lora-rank", r),
        }
    }

    /// The command, ready to run.
    pub fn command(mut self) -> Command {
        self.cmd.args(&self.args);
        self.cmd
    }

    /// The arguments, as the manifest records them.
    pub fn recorded(&self) -> Value {
        json!(self.args)
    }
}

/// The SL-CAI critique/revision stage.
pub fn critique(p: &Profile, run: &RunDir) -> StageCommand {
    StageCommand::new("cai-critique")
        .path("--out", &run.critique())
        .arg("--model", &p.policy)
        .arg("--device", &p.device)
        .arg("--limit", p.limit)
        .arg("--tokens-to-generate", p.tokens)
        .arg("--batch-size", 8)
        .maybe(
            "--few-shot",
            p.critique_few_shot.map(|n| n.to_string()).as_deref(),
        )
        .maybe("--system-prompt", p.critique_system_prompt.as_deref())
        .maybe(
            "--penalize-prompt",
            (!p.critique_penalize_prompt).then_some("false"),
        )
        .maybe(
            "--principle-choice",
            (p.critique_principles != "random").then_some(p.critique_principles.as_str()),
        )
        .maybe(
            "--revision-candidates",
            (p.critique_candidates != 1)
                .then(|| p.critique_candidates.to_string())
                .as_deref(),
        )
        .maybe(
            "--helpfulness-ratio",
            p.helpfulness_ratio.map(|r| r.to_string()).as_deref(),
        )
}

/// SFT on the SL-CAI blend (resuming from the newest checkpoint).
pub fn sft(p: &Profile, run: &RunDir) -> StageCommand {
    StageCommand::new("cai-sft")
        .arg("--config", SFT_CONFIG)
        .arg("--model", &p.policy)
        .arg("--device", &p.device)
        .arg("--dtype", &p.dtype)
        .path("--train-file", &run.critique_blend())
        .path("--output-dir", &run.sft())
        .flag("--resume")
        .arg("--max-steps", p.sft_steps)
        .maybe("--lr", p.sft_lr.map(|lr| lr.to_string()).as_deref())
        .arg("--warmup-steps", (p.sft_steps / 10).max(1))
        .arg("--micro-batch-size", 2)
        .arg("--global-batch-size", 8)
        .arg("--max-seq-length", 512)
        .arg("--limit-val-batches", 4)
        .lora(p)
}

/// RL-CAI preference labelling with the SL-CAI model as policy and judge.
pub fn preference(p: &Profile, run: &RunDir) -> StageCommand {
    StageCommand::new("cai-preference")
        .path("--policy", &run.sft_model())
        .arg("--prompts", RED_TEAM_PROMPTS)
        .path("--out", &run.preference())
        .arg("--device", &p.device)
        .arg("--limit", p.preference_limit)
        .arg("--candidates", p.preference_candidates)
        .arg("--tokens-to-generate", p.preference_tokens)
        .judge(p, None)
        .labelling(p)
}

/// The clear-cut pairs the judge is calibrated on, relative to the project root.
pub const CALIBRATION_PAIRS: &str = "crates/cai-preference/calibration/clear_cut.jsonl";
/// Where the pipeline keeps the judge's calibration, in the preference stage's directory.
pub const CALIBRATION_FILE: &str = "calibration.json";

/// The judge's calibration on labelled clear-cut pairs (it prints one JSON line).
pub fn calibration(p: &Profile, run: &RunDir) -> StageCommand {
    StageCommand::new("cai-preference")
        .flag("calibrate")
        .judge(p, Some(&run.sft_model()))
        .arg("--pairs", CALIBRATION_PAIRS)
        .arg("--device", &p.device)
        .labelling(p)
}

/// The reward model on the blended preferences, from the SL-CAI model.
pub fn reward_model(p: &Profile, run: &RunDir) -> StageCommand {
    let pref = run.preference();
    StageCommand::new("cai-rm")
        .flag("train")
        .path("--model", &run.sft_model())
        .arg("--device", &p.device)
        .arg("--dtype", &p.dtype)
        .path("--train", &pref.join("train.jsonl"))
        .path("--val", &pref.join("test.jsonl"))
        .path("--out", &run.reward_model())
        .arg("--max-steps", p.rm_steps)
        .arg("--warmup-steps", (p.rm_steps / 10).max(1))
        .arg("--micro-batch-size", p.rm_batch.min(2))
        .arg("--global-batch-size", p.rm_batch)
        .flag("--resume")
        .flag("--quiet")
        .lora(p)
}

/// PPO of the SL-CAI model against the reward model.
pub fn ppo(p: &Profile, run: &RunDir) -> StageCommand {
    let batch = p.ppo_rollout_batch;
    let cmd = StageCommand::new("cai-ppo")
        .path("--policy", &run.sft_model())
        .arg("--prompts", RED_TEAM_PROMPTS)
        .path("--reward-model", &run.reward_model().join(files::MODEL_DIR))
        .path("--out", &run.ppo())
        .arg("--device", &p.device)
        .arg("--steps", p.ppo_steps)
        .arg("--rollout-batch", batch)
        .arg("--max-new-tokens", p.ppo_tokens)
        .arg("--mini-batch-size", batch)
        .arg("--micro-batch-size", batch.min(4))
        .arg("--val-prompts", batch.min(8))
        .arg("--val-check-interval", p.ppo_steps.div_ceil(2).max(1))
        .flag("--resume")
        .flag("--quiet")
        .lora(p);
    match p.ppo_train_unfinished {
        true => cmd.flag("--train-unfinished"),
        false => cmd,
    }
}

/// The evaluation of the base, SL-CAI and RL-CAI models.
pub fn eval(p: &Profile, run: &RunDir) -> StageCommand {
    let model = |name: &str, dir: &Path| format!("{name}={}", dir.display());
    StageCommand::new("cai-eval")
        .arg("--model", format!("base={}", p.policy))
        .arg("--model", model("sl-cai", &run.sft_model()))
        .arg(
            "--model",
            model("rl-cai", &run.ppo().join(files::MODEL_DIR)),
        )
        .path("--reward-model", &run.reward_model().join(files::MODEL_DIR))
        .judge(p, Some(&run.sft_model()))
        .path("--out", &run.eval())
        .arg("--device", &p.device)
        .arg("--limit", p.eval_limit)
        .arg("--max-new-tokens", p.eval_tokens)
        .flag("--quiet")
}

/// Whether a training stage in `dir` finished its `steps` and saved `model/` (its summary.json
/// says `steps`).
pub fn trained(dir: &Path, steps: usize) -> bool {
    let Ok(summary) = read_json::<Value>(&dir.join(files::SUMMARY)) else {
        return false;
    };
    summary["steps"].as_u64() == Some(steps as u64) && dir.join(files::MODEL_DIR).is_dir()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::profile::{PROFILES_FILE, resolve};

    fn profile(name: &str) -> Profile {
        let text = std::fs::read_to_string(project_root().join(PROFILES_FILE)).unwrap();
        resolve(&text, name, None, toml::Table::new()).unwrap()
    }

    fn args(cmd: &StageCommand) -> Vec<String> {
        cmd.args.clone()
    }

    #[test]
    fn the_judge_is_local_unless_the_profile_names_an_endpoint() {
        let run = RunDir::new("/tmp/run");
        let default = profile("default");
        let labelling = args(&preference(&default, &run));
        assert!(
            !labelling
                .iter()
                .any(|a| a.starts_with("--judge") || a == "--mode")
        );
        assert!(args(&eval(&default, &run)).contains(&"--judge".to_string()));

        let mistral = profile("mistral-7b");
        let labelling = args(&preference(&mistral, &run)).join(" ");
        assert!(
            labelling.contains("--judge-endpoint http://localhost:8000/v1"),
            "{labelling}"
        );
        assert!(labelling.contains("--mode nemo"), "{labelling}");
        let eval = args(&eval(&mistral, &run)).join(" ");
        assert!(
            eval.contains("--judge-endpoint") && !eval.contains("--judge "),
            "{eval}"
        );
    }

    #[test]
    fn critique_settings_become_flags_only_when_they_leave_nemo_defaults() {
        let run = RunDir::new("/tmp/run");
        let mut p = profile("mistral-7b");
        (p.critique_few_shot, p.critique_penalize_prompt) = (None, true);
        (p.critique_principles, p.critique_candidates) = ("random".into(), 1);
        p.helpfulness_ratio = None;
        let nemo = args(&critique(&p, &run)).join(" ");
        for flag in [
            "--system-prompt",
            "--few-shot",
            "--penalize-prompt",
            "--principle-choice",
            "--revision-candidates",
            "--helpfulness-ratio",
        ] {
            assert!(!nemo.contains(flag), "{nemo}");
        }
        (p.critique_few_shot, p.critique_penalize_prompt) = (Some(1), false);
        (p.critique_principles, p.critique_candidates) = ("category".into(), 2);
        p.helpfulness_ratio = Some(3.0);
        p.critique_system_prompt = Some("Be brief.".into());
        let tuned = args(&critique(&p, &run)).join(" ");
        for flag in [
            "--system-prompt Be brief.",
            "--few-shot 1",
            "--penalize-prompt false",
            "--principle-choice category",
            "--revision-candidates 2",
            "--helpfulness-ratio 3",
        ] {
            assert!(tuned.contains(flag), "{flag}: {tuned}");
        }
    }
}
