//! Fuzzes the GGUF reader: any bytes as a `.gguf` file, then everything the loader derives from
//! it (tensors dequantised, config, tokenizer, weights under Hugging Face names); must never
//! panic, recurse without bound or allocate past the file's budget.

#![no_main]

use std::sync::OnceLock;

use cai_model::gguf::GgufFile;
use cai_model::weights::{GgufWeights, WeightSource, expected_tensors};
use cai_model::{ModelConfig, Tokenizer};
use libfuzzer_sys::fuzz_target;

/// One scratch file per fuzzing process (the reader takes a path).
fn scratch() -> &'static std::path::Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a scratch directory"))
        .path()
}

fuzz_target!(|data: &[u8]| {
    let path = scratch().join("input.gguf");
    std::fs::write(&path, data).expect("writing the scratch file");
    let Ok(file) = GgufFile::open(&path) else {
        return;
    };
    file.tensors
        .iter()
        .for_each(|info| drop(file.read_f32(info)));
    drop(Tokenizer::from_gguf(&file));
    if let Ok(config) = ModelConfig::from_gguf(&file) {
        let heads = (config.num_attention_heads, config.num_key_value_heads);
        let weights = GgufWeights::new(&file, heads.0, heads.1);
        for (name, _shape) in expected_tensors(&config) {
            drop((weights.shape(&name), weights.read(&name)));
        }
    }
});
