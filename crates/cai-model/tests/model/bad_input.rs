//! Bad input gives typed errors naming the file and tensor or field, never a panic.

use std::path::Path;

use cai_model::gguf::GgufFile;
use cai_model::{LoadOptions, LoadedModel, ModelError, ModelSpec};

use super::common::*;
use super::crafted::{Gguf, Meta};

/// Writes a minimal GGUF v3 file: `general.architecture = llama` and the given tensors
/// (name, ggml dims, type id, raw bytes).
fn write_gguf(path: &Path, tensors: &[(&str, Vec<u64>, u32, Vec<u8>)]) {
    let gguf = tensors.iter().fold(
        Gguf::default().kv("general.architecture", Meta::str("llama")),
        |g, (name, dims, ty, raw)| g.tensor(name, dims, *ty, raw.clone()),
    );
    std::fs::write(path, gguf.bytes()).unwrap();
}

fn load_err(path: &Path) -> String {
    let spec = ModelSpec::parse(path.to_str().unwrap()).unwrap();
    LoadedModel::load(&spec, &LoadOptions::default())
        .unwrap_err()
        .to_string()
}

#[test]
fn missing_file_names_the_path() {
    let err = ModelSpec::parse("/no/such/model.gguf")
        .unwrap_err()
        .to_string();
    assert!(err.contains("/no/such/model.gguf"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let err = load_err(dir.path());
    assert!(err.contains("config.json"), "{err}");
}

#[test]
fn bad_magic_and_truncated_header_are_format_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.gguf");
    std::fs::write(&path, b"NOTAGGUFFILE").unwrap();
    assert!(load_err(&path).contains("bad magic"));
    let real = std::fs::read(
        cai_model::source::default_model_path()
            .exists()
            .then(cai_model::source::default_model_path)
            .unwrap_or_else(|| {
                smollm2();
                cai_model::source::default_model_path()
            }),
    )
    .unwrap();
    std::fs::write(&path, &real[..1000]).unwrap();
    let err = GgufFile::open(&path).unwrap_err().to_string();
    assert!(
        err.contains("truncated GGUF header") && err.contains("bad.gguf"),
        "{err}"
    );
}

#[test]
fn truncated_tensor_data_names_the_tensor() {
    smollm2();
    let real = std::fs::read(cai_model::source::default_model_path()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.gguf");
    std::fs::write(&path, &real[..real.len() / 2]).unwrap();
    let err = GgufFile::open(&path).unwrap_err();
    assert!(matches!(err, ModelError::Format { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("truncated: tensor `") && msg.contains("cut.gguf"),
        "{msg}"
    );
}

#[test]
fn unknown_quant_type_names_the_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q5k.gguf");
    write_gguf(
        &path,
        &[("blk.0.ffn_up.weight", vec![256, 1], 13, vec![0u8; 176])],
    );
    let file = GgufFile::open(&path).unwrap();
    let err = file.read_f32(&file.tensors[0]).unwrap_err();
    assert!(matches!(err, ModelError::UnsupportedQuant { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("blk.0.ffn_up.weight") && msg.contains("Q5_K"),
        "{msg}"
    );
}

#[test]
fn gguf_without_required_metadata_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.gguf");
    write_gguf(
        &path,
        &[("token_embd.weight", vec![4, 2], 0, vec![0u8; 32])],
    );
    let err = load_err(&path);
    assert!(err.contains("llama.embedding_length"), "{err}");
}

fn tiny_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(fixture("tiny-mistral").join(f), dir.path().join(f)).unwrap();
    }
    dir
}

/// Sets `key` of `dir/config.json` to `value`.
pub fn patch_config(dir: &Path, key: &str, value: serde_json::Value) {
    let path = dir.join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    cfg[key] = value;
    std::fs::write(&path, cfg.to_string()).unwrap();
}

fn tiny_err(dir: &Path) -> ModelError {
    let cfg = cai_model::ModelConfig::from_hf_file(&dir.join("config.json")).unwrap();
    let weights = cai_model::weights::SafetensorsWeights::open(dir);
    match weights {
        Err(e) => e,
        Ok(w) => cai_model::CausalLm::from_weights(
            &cfg,
            &w,
            &cai_model::device::default_device(),
            cai_model::burn::tensor::DType::F32,
        )
        .unwrap_err(),
    }
}

#[test]
fn config_weight_shape_mismatch_names_the_tensor() {
    let dir = tiny_copy();
    patch_config(dir.path(), "intermediate_size", serde_json::json!(96));
    let err = tiny_err(dir.path());
    assert!(matches!(err, ModelError::ShapeMismatch { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("model.layers.0.mlp.gate_proj.weight") && msg.contains("[128, 64]"),
        "{msg}"
    );
}

#[test]
fn missing_tensor_is_reported_by_name() {
    let dir = tiny_copy();
    patch_config(dir.path(), "num_hidden_layers", serde_json::json!(3));
    let msg = tiny_err(dir.path()).to_string();
    assert!(
        msg.contains("missing tensor `model.layers.2.self_attn.q_proj.weight`"),
        "{msg}"
    );
}

#[test]
fn corrupt_safetensors_names_the_file() {
    let dir = tiny_copy();
    std::fs::write(
        dir.path().join("model.safetensors"),
        b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}......",
    )
    .unwrap();
    let msg = tiny_err(dir.path()).to_string();
    assert!(
        msg.contains("model.safetensors") && msg.contains("invalid safetensors"),
        "{msg}"
    );
}
