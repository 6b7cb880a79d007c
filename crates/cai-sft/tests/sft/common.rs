//! Shared helpers: chat data files, configs, metrics; the tiny model and the numeric helpers are
//! `cai_model::testing`'s.

use std::path::Path;

use cai_sft::SftConfig;
use serde_json::json;

pub use cai_model::testing::{
    max_abs_diff, safetensors_values, tiny_model, tiny_model_dir, values, weight_diff,
};

/// Eight short arithmetic conversations in NeMo chat format.
pub fn write_chat_file(path: &Path) {
    let lines: Vec<String> = (0..8)
        .map(|i| {
            json!({
                "system": "", "mask": "User", "dataset": "test",
                "conversations": [
                    {"from": "User", "value": format!("{i}+{i}?"), "label": null},
                    {"from": "Assistant", "value": format!("It is {}.", 2 * i), "label": null}
                ]
            })
            .to_string()
        })
        .collect();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

/// A run on the tiny model over eight conversations: global batch 4 in micro-batches of 2,
/// AdamW at a constant-ish rate, no validation, no periodic checkpoints; `extra` flags override.
pub fn tiny_config(work: &Path, out: &str, extra: &[&str]) -> SftConfig {
    let data = work.join("train.jsonl");
    if !data.exists() {
        write_chat_file(&data);
    }
    let mut args: Vec<String> = [
        "cai-sft",
        "--model",
        tiny_model_dir().to_str().unwrap(),
        "--chat-template",
        "mistral",
        "--train-file",
        data.to_str().unwrap(),
        "--output-dir",
        work.join(out).to_str().unwrap(),
        "--validation-fraction",
        "0",
        "--micro-batch-size",
        "2",
        "--global-batch-size",
        "4",
        "--lr",
        "1e-2",
        "--min-lr",
        "1e-3",
        "--warmup-steps",
        "2",
        "--constant-steps",
        "0",
        "--save-interval",
        "0",
        "--quiet",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    config_from_flags(&args)
}

/// The configuration that `cai-sft` builds from command-line flags (`--key value`, or a bare
/// `--key` for `true`): each flag becomes the override of the field of that name.
pub fn config_from_flags<S: AsRef<str>>(args: &[S]) -> SftConfig {
    let mut overrides = serde_json::Map::new();
    let mut args = args.iter().map(AsRef::as_ref).skip(1).peekable();
    while let Some(flag) = args.next() {
        let key = flag.strip_prefix("--").expect("a flag").replace('-', "_");
        let value = match args.peek() {
            Some(next) if !next.starts_with("--") => args.next().unwrap(),
            _ => "true",
        };
        let value = if key == "lora_target_modules" {
            serde_json::json!(value.split(',').collect::<Vec<_>>())
        } else {
            serde_json::from_str(value).unwrap_or_else(|_| serde_json::json!(value))
        };
        overrides.insert(key, value);
    }
    SftConfig::load(None, overrides.into()).unwrap()
}

/// The parsed lines of a run's `metrics.jsonl`.
pub fn metrics(out: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
