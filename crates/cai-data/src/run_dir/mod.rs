//! The run directory of the pipeline: one subdirectory per stage with fixed names
//! ([`Stage::dir_name`]), the files each stage writes there ([`files`]), the typed summaries the
//! pipeline reads back ([`summary`]) and the run manifest ([`manifest`], `manifest.json` at the
//! root). See `docs/run-directory.md`.
//!
//! ```text
//! RUN/
//!   manifest.json      inputs (sha256), resolved configs, version, per-stage status and timings
//!   01-critique/       SL-CAI data (cai-critique)
//!   02-sft/            the SL-CAI model (cai-sft): summary.json, model/, checkpoints
//!   03-preference/     RL-CAI preference labels (reserved)
//!   04-rm/             the reward model (reserved)
//!   05-ppo/            the RL-CAI policy (reserved)
//!   06-eval/           evaluation (reserved)
//! ```

pub mod files;
pub mod manifest;
pub mod summary;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use manifest::{InputFile, Manifest, StageRecord, StageStatus};
pub use summary::{CritiqueCounts, CritiqueSummary, EncodeStats, SftSummary, read_json};

/// A pipeline stage, in run order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// SL-CAI data: answer, critique and revise red-team prompts (`cai-critique`).
    Critique,
    /// Supervised fine-tuning on the SL-CAI blend (`cai-sft`).
    Sft,
    /// RL-CAI preference labelling by a feedback model.
    Preference,
    /// The reward model trained on the preferences.
    RewardModel,
    /// PPO of the SL-CAI model against the reward model.
    Ppo,
    /// Evaluation of the models.
    Eval,
}

impl Stage {
    /// Every stage, in run order.
    pub const ALL: [Stage; 6] = [
        Stage::Critique,
        Stage::Sft,
        Stage::Preference,
        Stage::RewardModel,
        Stage::Ppo,
        Stage::Eval,
    ];

    /// The stage's name in the manifest (`critique`, `sft`, `preference`, `reward-model`, `ppo`,
    /// `eval`).
    pub fn name(self) -> &'static str {
        match self {
            Stage::Critique => "critique",
            Stage::Sft => "sft",
            Stage::Preference => "preference",
            Stage::RewardModel => "reward-model",
            Stage::Ppo => "ppo",
            Stage::Eval => "eval",
        }
    }

    /// The stage's directory under the run directory (`01-critique` … `06-eval`).
    pub fn dir_name(self) -> &'static str {
        match self {
            Stage::Critique => "01-critique",
            Stage::Sft => "02-sft",
            Stage::Preference => "03-preference",
            Stage::RewardModel => "04-rm",
            Stage::Ppo => "05-ppo",
            Stage::Eval => "06-eval",
        }
    }
}

/// A run directory: where every stage's directory and files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// The run directory at `root` (nothing is created).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The run directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `manifest.json`.
    pub fn manifest(&self) -> PathBuf {
        self.root.join(files::MANIFEST)
    }

    /// The directory of `stage`.
    pub fn stage(&self, stage: Stage) -> PathBuf {
        self.root.join(stage.dir_name())
    }

    /// `01-critique/`.
    pub fn critique(&self) -> PathBuf {
        self.stage(Stage::Critique)
    }

    /// `01-critique/sft.jsonl`: the blend SFT trains on.
    pub fn critique_blend(&self) -> PathBuf {
        self.critique().join(files::critique::SFT)
    }

    /// `01-critique/summary.json`.
    pub fn critique_summary(&self) -> PathBuf {
        self.critique().join(files::SUMMARY)
    }

    /// `02-sft/`.
    pub fn sft(&self) -> PathBuf {
        self.stage(Stage::Sft)
    }

    /// `02-sft/summary.json`.
    pub fn sft_summary(&self) -> PathBuf {
        self.sft().join(files::SUMMARY)
    }

    /// `02-sft/model/`: the SL-CAI model in Hugging Face layout.
    pub fn sft_model(&self) -> PathBuf {
        self.sft().join(files::MODEL_DIR)
    }

    /// `03-preference/`.
    pub fn preference(&self) -> PathBuf {
        self.stage(Stage::Preference)
    }

    /// `04-rm/`.
    pub fn reward_model(&self) -> PathBuf {
        self.stage(Stage::RewardModel)
    }

    /// `05-ppo/`.
    pub fn ppo(&self) -> PathBuf {
        self.stage(Stage::Ppo)
    }

    /// `06-eval/`.
    pub fn eval(&self) -> PathBuf {
        self.stage(Stage::Eval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_directories_keep_the_names_of_earlier_runs() {
        let run = RunDir::new("/r");
        assert_eq!(run.critique_blend(), Path::new("/r/01-critique/sft.jsonl"));
        assert_eq!(run.sft_summary(), Path::new("/r/02-sft/summary.json"));
        assert_eq!(run.sft_model(), Path::new("/r/02-sft/model"));
        assert_eq!(run.manifest(), Path::new("/r/manifest.json"));
        let dirs: Vec<_> = Stage::ALL.iter().map(|s| s.dir_name()).collect();
        assert_eq!(
            dirs,
            [
                "01-critique",
                "02-sft",
                "03-preference",
                "04-rm",
                "05-ppo",
                "06-eval"
            ]
        );
    }
}
