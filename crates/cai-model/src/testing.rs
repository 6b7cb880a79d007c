//! Fixtures for the workspace's tests (feature `testing`, enabled only in `[dev-dependencies]`):
//! the tiny random Mistral of `tests/fixtures/tiny-mistral` as a loadable model directory with a
//! byte-level tokenizer, the SmolLM2 golden cases, and the numeric helpers the reference tests
//! compare with. Everything here panics on failure, as a test should.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use burn::tensor::{DType, Device, Tensor};
use serde_json::{Value, json};

use crate::weights::SafetensorsWeights;
use crate::{CausalLm, LoadOptions, LoadedModel, ModelConfig, ModelSpec};

/// The workspace's `crates/` directory.
fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The tiny random Mistral's weights and `config.json` (no tokenizer).
pub fn tiny_mistral_dir() -> PathBuf {
    crates_dir().join("cai-model/tests/fixtures/tiny-mistral")
}

/// The byte-level tokenizer for the tiny model: `<unk>`, `<s>`, `</s>`, then the 256 bytes.
pub fn byte_tokenizer() -> PathBuf {
    crates_dir().join("cai-sft/tests/fixtures/byte-tokenizer.json")
}

/// Writes a loadable tiny model into `dir`: the tiny Mistral, the byte-level tokenizer, and a
/// `tokenizer_config.json` with BOS `<s>` (added) and the given EOS.
pub fn write_tiny_model(dir: &Path, eos: &str) {
    let src = tiny_mistral_dir();
    for file in ["config.json", "model.safetensors"] {
        std::fs::copy(src.join(file), dir.join(file)).unwrap();
    }
    std::fs::copy(byte_tokenizer(), dir.join("tokenizer.json")).unwrap();
    let tok_cfg = json!({"bos_token": "<s>", "eos_token": eos, "add_bos_token": true});
    std::fs::write(dir.join("tokenizer_config.json"), tok_cfg.to_string()).unwrap();
}

/// A directory written by [`write_tiny_model`] with EOS `</s>`, created once per test binary.
pub fn tiny_model_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        write_tiny_model(dir.path(), "</s>");
        dir
    })
    .path()
}

/// The tiny model of [`tiny_model_dir`] in f32 on `device`, with the given chat template (a
/// built-in name or a `.jinja` file).
pub fn tiny_model(template: &str, device: Device) -> LoadedModel {
    let spec = ModelSpec::parse(tiny_model_dir().to_str().unwrap()).unwrap();
    let opts = LoadOptions {
        device,
        dtype: DType::F32,
        chat_template: Some(template.into()),
    };
    LoadedModel::load(&spec, &opts).unwrap()
}

/// The tiny Mistral's configuration.
pub fn tiny_config() -> ModelConfig {
    ModelConfig::from_hf_file(&tiny_mistral_dir().join("config.json")).unwrap()
}

/// The tiny Mistral's decoder in f32 on `device`.
pub fn tiny_lm(cfg: &ModelConfig, device: &Device) -> CausalLm {
    let weights = SafetensorsWeights::open(&tiny_mistral_dir()).unwrap();
    CausalLm::from_weights(cfg, &weights, device, DType::F32).unwrap()
}

/// One case of `tests/fixtures/smollm2.json` (transformers' renderings, ids, labels and losses).
pub fn smollm2_case(name: &str) -> Value {
    let path = crates_dir().join("cai-model/tests/fixtures/smollm2.json");
    let all: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    all["cases"][name].clone()
}

/// The tokens transformers trains on in a golden case: its `sft.labels` that are not -100.
pub fn trained_labels(case: &Value) -> Vec<bool> {
    case["sft"]["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_i64().unwrap() != -100)
        .collect()
}

/// Row-major f32 values of a tensor.
pub fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.cast(DType::F32).into_data().try_to_vec::<f32>().unwrap()
}

/// The numbers of a JSON array as f64.
pub fn doubles(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// The numbers of a JSON array as f32.
pub fn floats(v: &Value) -> Vec<f32> {
    doubles(v).into_iter().map(|x| x as f32).collect()
}

/// The token ids of a JSON array.
pub fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

/// Largest absolute difference of two equally long slices.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Asserts that `ours` and `want` have the same length and differ by less than `tolerance`
/// everywhere; prints the largest difference.
pub fn assert_close(name: &str, ours: &[f32], want: &[f32], tolerance: f32) {
    assert_eq!(ours.len(), want.len(), "{name}: length");
    let worst = ours
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    eprintln!("{name}: max |diff| {worst:.3e}");
    assert!(worst < tolerance, "{name}: max |diff| {worst}");
}

/// A row-major `[rows, cols]` matrix transposed.
pub fn transpose(data: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; data.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = data[r * cols + c];
        }
    }
    out
}

/// Every tensor of the f32 `model.safetensors` in `dir`, by name, sorted by name.
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

/// Largest difference between the weights of two model directories with the same tensors.
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
