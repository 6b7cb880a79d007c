//! LoRA on the decoder's linear layers through burn's built-in weight-space adapters
//! (`W = W₀ + (α / r) · A B`, `A ~ N(0, 1/r)`, `B = 0`), merged into the weights on export.
//!
//! Target names are the HF/PEFT leaf names (`q_proj`, `k_proj`, `v_proj`, `o_proj`, `gate_proj`,
//! `up_proj`, `down_proj`, `lm_head`); NeMo's `attention_qkv` is `q_proj,k_proj,v_proj`.
//! Every other parameter (embedding, norms) is frozen, as in PEFT.

use burn::module::{Lora, Module, ParamGroup};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use cai_model::CausalLm;
use cai_model::{ModelError, Result};

/// Names LoRA can target.
const TARGETS: [&str; 8] = [
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
    "lm_head",
];

/// LoRA hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoraSettings {
    /// Rank `r` of the factors.
    pub rank: usize,
    /// Scale numerator: the update is `(alpha / rank) · A B`.
    pub alpha: f64,
    /// Dropout on the adapter input while training, in `[0, 1)` (NeMo's default is `0.0`). It acts on
    /// the decoder layers' projections; an adapted `lm_head` trains without it.
    pub dropout: f64,
    /// Leaf names of the linear layers to adapt.
    pub target_modules: Vec<String>,
}

impl LoraSettings {
    /// The regular expression selecting the targeted weights by module path.
    fn pattern(&self) -> Result<String> {
        if self.rank == 0 {
            return Err(ModelError::Invalid("LoRA rank must be at least 1".into()));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(ModelError::Invalid(format!(
                "LoRA dropout {} is outside [0, 1)",
                self.dropout
            )));
        }
        if self.target_modules.is_empty() {
            return Err(ModelError::Invalid(
                "LoRA needs at least one target module".into(),
            ));
        }
        for name in &self.target_modules {
            if !TARGETS.contains(&name.as_str()) {
                return Err(ModelError::Invalid(format!(
                    "unknown LoRA target `{name}` (one of {})",
                    TARGETS.join(", ")
                )));
            }
        }
        let names = self.target_modules.join("|");
        Ok(format!(r"(^|\.)({names})\.weight$"))
    }

    /// Attaches adapters to the targeted linears of `lm` and freezes everything else.
    pub fn apply(&self, lm: CausalLm) -> Result<CausalLm> {
        let pattern = self.pattern()?;
        let group = ParamGroup::from_regex(&pattern)
            .map_err(|e| ModelError::Invalid(format!("LoRA targets `{pattern}`: {e:?}")))?;
        let lora = Lora::new(self.rank, self.alpha).set_param_group(group);
        Ok(lm.apply_lora(lora).with_lora_dropout(self.dropout))
    }

    /// Seeds `device`'s generator at the start of optimizer step `step`, so the dropout masks of
    /// the step's micro-batches depend only on `(seed, step)` and a resumed run draws the same masks
    /// as an uninterrupted one.
    pub fn seed_dropout(device: &Device, seed: u64, step: u64) {
        let mixed = seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(step.wrapping_mul(0xC2B2_AE3D_27D4_EB4F));
        device.seed(mixed);
    }

    /// Merges the adapters into the weights (`W₀ + (α / r) · A B`), leaving a plain model.
    pub fn merge(lm: CausalLm) -> CausalLm {
        lm.materialize().with_lora_dropout(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(targets: &[&str]) -> LoraSettings {
        LoraSettings {
            rank: 4,
            alpha: 8.0,
            dropout: 0.0,
            target_modules: targets.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn pattern_matches_only_the_named_leaves() {
        let re = regex_lite(&settings(&["q_proj", "v_proj"]).pattern().unwrap());
        assert!(re("layers.3.self_attn.q_proj.weight"));
        assert!(re("layers.0.self_attn.v_proj.weight"));
        assert!(!re("layers.0.self_attn.k_proj.weight"));
        assert!(!re("layers.0.mlp.up_proj.weight"));
    }

    #[test]
    fn bad_settings_are_rejected() {
        assert!(settings(&["qkv"]).pattern().is_err());
        assert!(settings(&[]).pattern().is_err());
        let mut s = settings(&["q_proj"]);
        s.dropout = 1.0;
        assert!(s.pattern().is_err());
        s.dropout = 0.1;
        assert!(s.pattern().is_ok());
    }

    /// Matches through burn's own `ParamGroup` so the test checks what `apply` uses.
    fn regex_lite(pattern: &str) -> impl Fn(&str) -> bool + use<> {
        let group = ParamGroup::from_regex(pattern).unwrap();
        move |path| group.matches(&burn::module::ParamId::new(), Some(path))
    }
}
