//! Crafted model files (issue 19, points 4 and 5): each gets a clear error naming the file and
//! the field or limit, quickly and within bounded memory, never a panic, a stack overflow or an
//! aborting allocation. (Runaway chat templates: `templates`.)

use std::path::Path;
use std::time::{Duration, Instant};

use cai_model::gguf::GgufFile;
use cai_model::weights::{GgufWeights, SafetensorsWeights, WeightSource};
use cai_model::{ChatCodec, LoadOptions, LoadedModel, ModelConfig, ModelSpec};

use super::bad_input::patch_config;
use super::common::fixture;
use super::crafted::{Gguf, Meta, hostile_ggufs, word_level_tokenizer};

fn crafted(name: &str) -> Vec<u8> {
    hostile_ggufs()
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap()
        .1
}

/// Writes `bytes` as `name.gguf` in a new directory.
fn gguf_file(name: &str, bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{name}.gguf"));
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

/// The error of loading a GGUF file completely (config, tokenizer, weights).
fn gguf_load_err(name: &str) -> String {
    let (_dir, path) = gguf_file(name, &crafted(name));
    let started = Instant::now();
    let err = LoadedModel::load(&ModelSpec::Gguf(path), &LoadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{name} took too long"
    );
    assert!(err.contains(&format!("{name}.gguf")), "{err}");
    err
}

#[test]
fn the_tiny_crafted_llama_loads() {
    let (_dir, path) = gguf_file("tiny", &Gguf::tiny_llama().bytes());
    let model = LoadedModel::load(&ModelSpec::Gguf(path), &LoadOptions::default()).unwrap();
    assert_eq!(model.config.vocab_size, super::crafted::VOCAB);
    assert_eq!(model.tokenizer.vocab_size(), super::crafted::VOCAB);
}

#[test]
fn gguf_dims_whose_product_overflows_are_an_error() {
    let err = gguf_load_err("dims-product-overflows");
    assert!(
        err.contains("blk.0.attn_q.weight") && err.contains("overflow"),
        "{err}"
    );
}

#[test]
fn q_rows_that_are_not_whole_heads_fail_before_unpermuting() {
    let (_dir, path) = gguf_file("q", &crafted("q-rows-not-whole-heads"));
    let file = GgufFile::open(&path).unwrap();
    let weights = GgufWeights::new(&file, 4, 4);
    // 6 rows cannot be 4 heads: an error from the header, before any data is read.
    let err = weights
        .read("model.layers.0.self_attn.q_proj.weight")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("blk.0.attn_q.weight") && err.contains("4 heads"),
        "{err}"
    );
    // Through the loader the shape check comes first and names both shapes.
    let err = gguf_load_err("q-rows-not-whole-heads");
    assert!(err.contains("q_proj") && err.contains("[6, 8]"), "{err}");
}

#[test]
fn gguf_sizes_past_the_limits_name_the_field() {
    for (name, field) in [
        ("context-length-u32-max", "llama.context_length"),
        ("block-count-1e9", "llama.block_count"),
        ("head-count-1e6", "llama.attention.head_count"),
        ("alignment-not-power-of-two", "general.alignment"),
    ] {
        let err = gguf_load_err(name);
        assert!(err.contains(field), "{name}: {err}");
        if name != "alignment-not-power-of-two" {
            assert!(err.contains("exceeds the limit"), "{name}: {err}");
        }
    }
}

#[test]
fn deeply_nested_gguf_arrays_are_refused_without_recursing() {
    // The 200,000 levels (2.4 MB): refused at level 8, no stack overflow.
    let bytes = Gguf::tiny_llama()
        .kv("x.nested", Meta::nested(200_000))
        .bytes();
    let (_dir, path) = gguf_file("deep", &bytes);
    let err = GgufFile::open(&path).unwrap_err().to_string();
    assert!(err.contains("nested deeper than 8"), "{err}");
}

#[test]
fn a_huge_metadata_array_is_refused_before_it_is_read() {
    // The one 64 MB array of bytes (2 GB as parsed values): its header alone is read.
    // The file is sparse, so the test writes (and the reader reads) a few hundred bytes.
    let n: u64 = 64 << 20;
    let mut header = 0u32.to_le_bytes().to_vec(); // items: uint8
    header.extend(n.to_le_bytes());
    let bytes = Gguf::default()
        .kv("general.architecture", Meta::str("llama"))
        .kv("x.big", Meta(9, header))
        .bytes();
    let (_dir, path) = gguf_file("big", &bytes);
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(bytes.len() as u64 + n).unwrap();
    let err = GgufFile::open(&path).unwrap_err().to_string();
    assert!(
        err.contains("bytes of memory") && err.contains("big.gguf"),
        "{err}"
    );
}

/// A copy of the tiny Mistral fixture (config.json, model.safetensors) in `dir/model`.
fn tiny_mistral_in(dir: &Path) -> std::path::PathBuf {
    let model = dir.join("model");
    std::fs::create_dir(&model).unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(fixture("tiny-mistral").join(f), model.join(f)).unwrap();
    }
    model
}

#[test]
fn hf_sizes_past_the_limits_name_the_field() {
    for (field, value) in [
        (
            "max_position_embeddings",
            serde_json::json!(1_000_000_000_000u64),
        ),
        ("num_hidden_layers", serde_json::json!(1_000_000_000u64)),
        ("num_attention_heads", serde_json::json!(1_000_000u64)),
        ("head_dim", serde_json::json!(1_000_000u64)),
        ("vocab_size", serde_json::json!(1u64 << 40)),
        ("hidden_size", serde_json::json!(1u64 << 40)),
        ("intermediate_size", serde_json::json!(1u64 << 40)),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let model = tiny_mistral_in(dir.path());
        patch_config(&model, field, value);
        let err = ModelConfig::from_hf_file(&model.join("config.json"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("config.json") && err.contains(field) && err.contains("limit"),
            "{field}: {err}"
        );
    }
}

#[test]
fn special_token_ids_outside_the_vocabulary_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_mistral_in(dir.path());
    patch_config(&model, "eos_token_id", serde_json::json!([2, 4096]));
    let err = ModelConfig::from_hf_file(&model.join("config.json"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("eos_token_id") && err.contains("4096") && err.contains("512"),
        "{err}"
    );
}

#[test]
fn shard_names_cannot_leave_the_model_directory() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_mistral_in(dir.path());
    // The weights sit in the parent directory: a name that reaches them must be refused.
    std::fs::rename(
        model.join("model.safetensors"),
        dir.path().join("outside.safetensors"),
    )
    .unwrap();
    for name in [
        "../outside.safetensors",
        "/etc/passwd",
        "sub/../../outside.safetensors",
    ] {
        let index = serde_json::json!({"weight_map": {"model.embed_tokens.weight": name}});
        std::fs::write(
            model.join("model.safetensors.index.json"),
            index.to_string(),
        )
        .unwrap();
        let err = SafetensorsWeights::open(&model).err().unwrap().to_string();
        assert!(
            err.contains("model.safetensors.index.json") && err.contains(name),
            "{name}: {err}"
        );
    }
}

#[test]
fn a_tokenizer_larger_than_the_embedding_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_mistral_in(dir.path());
    // The case: SmolLM2's 49,152 tokens for the 512-row embedding.
    std::fs::write(model.join("tokenizer.json"), word_level_tokenizer(49_152)).unwrap();
    let err = ChatCodec::load(&ModelSpec::HfDir(model.clone()), None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("49152") && err.contains("512") && err.contains("tokenizer.json"),
        "{err}"
    );
    // A tokenizer smaller than a padded embedding is fine.
    std::fs::write(model.join("tokenizer.json"), word_level_tokenizer(500)).unwrap();
    ChatCodec::load(&ModelSpec::HfDir(model), None).unwrap();
    // The same check for GGUF: 16 tokens for `llama.vocab_size` 8.
    let err = gguf_load_err("tokenizer-larger-than-vocab");
    assert!(
        err.contains("16 tokens") && err.contains("vocabulary of 8"),
        "{err}"
    );
}
