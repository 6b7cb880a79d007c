//! Shared helpers: a tiny Mistral directory with a byte-level tokenizer, chat data files, configs.

use std::path::Path;
use std::sync::OnceLock;

use cai_model::burn::tensor::{DType, Device, Tensor};
use cai_model::{LoadOptions, LoadedModel, ModelSpec};
use cai_sft::SftConfig;
use serde_json::json;

/// A directory holding the tiny random Mistral of `cai-model`'s fixtures plus a byte-level
/// tokenizer (`<unk>`, `<s>`, `</s>`, then the 256 bytes), created once per test binary.
pub fn tiny_model_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let src =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../cai-model/tests/fixtures/tiny-mistral");
        for file in ["config.json", "model.safetensors"] {
            std::fs::copy(src.join(file), dir.path().join(file)).unwrap();
        }
        let tokenizer =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/byte-tokenizer.json");
        std::fs::copy(tokenizer, dir.path().join("tokenizer.json")).unwrap();
        let tok_cfg = json!({"bos_token": "<s>", "eos_token": "</s>", "add_bos_token": true});
        std::fs::write(
            dir.path().join("tokenizer_config.json"),
            tok_cfg.to_string(),
        )
        .unwrap();
        dir
    })
    .path()
}

/// The tiny model with the given built-in chat template, on `device`.
pub fn tiny_model(template: &str, device: Device) -> LoadedModel {
    let spec = ModelSpec::parse(tiny_model_dir().to_str().unwrap()).unwrap();
    let opts = LoadOptions {
        device,
        dtype: DType::F32,
        chat_template: Some(template.into()),
    };
    LoadedModel::load(&spec, &opts).unwrap()
}

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

/// Row-major f32 values of a tensor.
pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.cast(DType::F32).into_data().try_to_vec::<f32>().unwrap()
}

/// Largest absolute difference.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Every tensor of a `model.safetensors`, by name, as f32.
pub fn safetensors_values(dir: &Path) -> Vec<(String, Vec<f32>)> {
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut out: Vec<(String, Vec<f32>)> = file
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            let data = view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            (name, data)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Largest difference between the weights of two HF model directories.
pub fn weight_diff(a: &Path, b: &Path) -> f32 {
    let (a, b) = (safetensors_values(a), safetensors_values(b));
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(&b)
        .map(|((na, va), (nb, vb))| {
            assert_eq!(na, nb);
            max_abs_diff(va, vb)
        })
        .fold(0.0, f32::max)
}

/// The parsed lines of a run's `metrics.jsonl`.
pub fn metrics(out: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
