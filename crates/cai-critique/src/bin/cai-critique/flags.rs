//! Command-line flags: one per configuration field (NeMo names for sampling), turned into a JSON
//! object of the flags actually given, which overrides the config file.

use std::path::PathBuf;

use cai_client::RemoteApi;
use clap::{Args, Parser};
use serde::Serialize;
use serde_json::Value;

/// Generates SL-CAI data: answer, critique and revise red-team prompts, then blend with helpfulness
/// data. Writes OUT/trace.jsonl, OUT/sft.jsonl (the blend) and OUT/summary.json; re-running the same
/// command resumes.
#[derive(Debug, Parser, Serialize)]
#[command(name = "cai-critique", version)]
pub struct Flags {
    /// TOML file with any of the fields below (sampling ones under `[sampling]`); flags override it.
    #[arg(long)]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Model: a `.gguf` file, a Hugging Face directory, `hf:REPO[@REV]`, or `default` (SmolLM2).
    #[arg(long)]
    model: Option<String>,
    /// Chat template override: `mistral`, `nemo`, `chatml` or a Jinja file (default: the model's).
    #[arg(long)]
    chat_template: Option<String>,
    /// Device: `cpu`, or `cuda[:N]` with the cuda feature.
    #[arg(long)]
    device: Option<String>,
    /// Compute dtype: f32, bf16 or f16.
    #[arg(long)]
    dtype: Option<String>,
    /// Generate through this server instead of in process (repeatable: batches are spread over
    /// the endpoints): `http://host:port` of cai-serve, vLLM, TGI, or an OpenAI base ending in `/v1`.
    #[arg(long = "endpoint", value_name = "URL")]
    endpoints: Vec<String>,
    /// API of the endpoints: `nemo` (PUT /generate) or `openai` (/v1/...) (default nemo).
    #[arg(long)]
    api: Option<RemoteApi>,
    /// Environment variable holding the endpoints' API key (default CAI_API_KEY).
    #[arg(long, value_name = "VAR")]
    api_key_env: Option<String>,
    /// `model` field of OpenAI requests (default `default`).
    #[arg(long, value_name = "NAME")]
    remote_model: Option<String>,
    /// Requests in flight per endpoint (default 8).
    #[arg(long)]
    concurrency: Option<usize>,
    /// Timeout of one request to an endpoint, in seconds (default 600).
    #[arg(long)]
    request_timeout_secs: Option<u64>,
    /// Red-team prompts in any layout cai-data reads (hh-rlhf red-team included); default: built-in.
    #[arg(long)]
    prompts: Option<PathBuf>,
    /// Helpfulness chats (NeMo chat, HF messages, hh-rlhf pairs); default: built-in.
    #[arg(long)]
    helpfulness: Option<PathBuf>,
    /// Constitution file (repeatable, merged in order); default: built-in.
    #[arg(long)]
    constitution: Vec<PathBuf>,
    /// Output directory.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Use only the first N prompts.
    #[arg(long)]
    limit: Option<usize>,
    /// Critique → revision rounds per prompt (default 1).
    #[arg(long)]
    rounds: Option<usize>,
    /// Principle of each round: `random` (NeMo) or `category` (among those listing the prompt's
    /// category).
    #[arg(long)]
    principle_choice: Option<String>,
    /// Revisions per round; above 1 the model judges them against the principle and keeps the
    /// best (default 1).
    #[arg(long)]
    revision_candidates: Option<usize>,
    /// Temperature of the extra revision candidates (default 0.7).
    #[arg(long)]
    candidate_temperature: Option<f32>,
    /// Leave out revisions cut off at --tokens-to-generate (default true).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    drop_truncated: Option<bool>,
    /// Leave out revisions that share no content word with the prompt (default true).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    drop_off_topic: Option<bool>,
    /// Seed for principle sampling, sampler seeds and the blend shuffle (default 1234).
    #[arg(long)]
    seed: Option<u64>,
    /// Prompts per generator call (default 32).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Use only the first N demonstrations (default: all).
    #[arg(long)]
    few_shot: Option<usize>,
    /// System message before the demonstrations.
    #[arg(long)]
    system_prompt: Option<String>,
    /// Drop SFT samples longer than this many tokens; 0 = no limit (default 4096).
    #[arg(long)]
    max_seq_length: Option<usize>,
    /// Helpfulness samples per SL-CAI sample in the blend (default: all of both).
    #[arg(long)]
    helpfulness_ratio: Option<f64>,
    /// Revisions starting "Here is a revised response:": `strip` the prefix or `drop` the sample.
    #[arg(long)]
    prefix_rule: Option<String>,
    /// Also write Hugging Face `messages` copies of the SFT files.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    hf_messages: Option<bool>,
    /// Generation settings.
    #[command(flatten)]
    sampling: SamplingFlags,
}

/// NeMo `/generate` parameters (defaults: NeMo's SL-CAI settings).
#[derive(Debug, Args, Serialize)]
struct SamplingFlags {
    /// Argmax decoding (default true).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    greedy: Option<bool>,
    /// Softmax temperature.
    #[arg(long)]
    temperature: Option<f32>,
    /// Keep the K most likely tokens (0 = off).
    #[arg(long)]
    top_k: Option<usize>,
    /// Nucleus threshold (1.0 = off).
    #[arg(long)]
    top_p: Option<f32>,
    /// Min-p threshold (0 = off).
    #[arg(long)]
    min_p: Option<f32>,
    /// Repetition penalty (default 1.2).
    #[arg(long)]
    repetition_penalty: Option<f32>,
    /// Apply the repetition penalty to the prompt's tokens too (HF/NeMo; default true), or only to
    /// generated ones (false).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    penalize_prompt: Option<bool>,
    /// Do not stop before this many new tokens (default 1).
    #[arg(long)]
    min_tokens_to_generate: Option<usize>,
    /// Maximum new tokens per reply (default 1024).
    #[arg(long)]
    tokens_to_generate: Option<usize>,
    /// Stop at this string (repeatable).
    #[arg(long)]
    end_strings: Vec<String>,
    /// Base seed of the per-request samplers (default: --seed).
    #[arg(long)]
    random_seed: Option<u64>,
    /// Keep generating past the end-of-sequence token.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    ignore_eos: Option<bool>,
}

impl Flags {
    /// The flags that were given, as a JSON object shaped like the config.
    pub fn overrides(&self) -> anyhow::Result<Value> {
        Ok(cai_cli::given_flags(self)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_given_flags_override() {
        let flags = Flags::parse_from([
            "cai-critique",
            "--limit",
            "4",
            "--greedy",
            "false",
            "--end-strings",
            "</s>",
            "--hf-messages",
        ]);
        assert_eq!(
            flags.overrides().unwrap(),
            json!({"limit": 4, "hf_messages": true, "sampling": {"greedy": false, "end_strings": ["</s>"]}})
        );
        assert_eq!(
            Flags::parse_from(["cai-critique"]).overrides().unwrap(),
            json!({})
        );
    }

    #[test]
    fn endpoints_repeat_and_the_api_is_checked() {
        let flags = Flags::parse_from([
            "cai-critique",
            "--endpoint",
            "http://a:5555",
            "--endpoint",
            "http://b:5555",
            "--api",
            "openai",
            "--remote-model",
            "m",
        ]);
        assert_eq!(
            flags.overrides().unwrap(),
            json!({"endpoints": ["http://a:5555", "http://b:5555"], "api": "openai", "remote_model": "m"})
        );
        assert!(Flags::try_parse_from(["cai-critique", "--api", "tgi"]).is_err());
    }
}
