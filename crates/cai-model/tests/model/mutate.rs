//! Stand-ins for the cargo-fuzz targets (`crates/cai-model/fuzz`) that run in `cargo test` on
//! stable: seeded random mutations of the crafted files and templates, a bounded number of cases
//! each, through the same entry points. Any panic fails the test and keeps the input on disk.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Component, Path, PathBuf};

use cai_model::gguf::GgufFile;
use cai_model::weights::{
    GgufWeights, SafetensorsWeights, WeightSource, check_shard_name, expected_tensors, index_shards,
};
use cai_model::{ModelConfig, Tokenizer};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::crafted::{hostile_ggufs, safetensors};

const INTERESTING: [u64; 7] = [0, 1, 0x7fff_ffff, 0xffff_ffff, 1 << 32, 1 << 62, u64::MAX];

/// `seed` with a few random edits: byte changes, interesting 8-byte values, cuts, repeats.
fn mutate(rng: &mut StdRng, seed: &[u8]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for _ in 0..rng.random_range(1..4) {
        if out.is_empty() {
            break;
        }
        let at = rng.random_range(0..out.len());
        match rng.random_range(0..4) {
            0 => out[at] = rng.random(),
            1 if at + 8 <= out.len() => {
                let v = INTERESTING[rng.random_range(0..INTERESTING.len())];
                out[at..at + 8].copy_from_slice(&v.to_le_bytes());
            }
            2 => out.truncate(at),
            _ => {
                let end = (at + rng.random_range(1..64)).min(out.len());
                let chunk = out[at..end].to_vec();
                out.splice(at..at, chunk);
            }
        }
    }
    out
}

/// Runs `check` on `input` (also written to a scratch file, passed to `check`); a panic fails the test naming a file that keeps the input.
pub fn no_panic(kind: &str, case: usize, input: &[u8], check: impl FnOnce(&Path)) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{kind}-{case}"));
    std::fs::write(&path, input).unwrap();
    if catch_unwind(AssertUnwindSafe(|| check(&path))).is_err() {
        let kept: PathBuf = std::env::temp_dir().join(format!("cai-model-{kind}-{case}.bin"));
        std::fs::write(&kept, input).unwrap();
        panic!(
            "{kind} case {case} panicked; input kept at {}",
            kept.display()
        );
    }
}

/// Everything the loader does with a GGUF file, short of building the decoder.
pub fn exercise_gguf(path: &Path) {
    let Ok(file) = GgufFile::open(path) else {
        return;
    };
    for info in &file.tensors {
        let _ = file.read_f32(info);
    }
    let _ = Tokenizer::from_gguf(&file);
    let Ok(cfg) = ModelConfig::from_gguf(&file) else {
        return;
    };
    let weights = GgufWeights::new(&file, cfg.num_attention_heads, cfg.num_key_value_heads);
    for (name, _) in expected_tensors(&cfg) {
        let _ = weights.shape(&name);
        let _ = weights.read(&name);
    }
}

#[test]
fn mutated_gguf_files_never_panic() {
    let mut rng = StdRng::seed_from_u64(19);
    let seeds = hostile_ggufs();
    for case in 0..200 {
        let (_, seed) = &seeds[case % seeds.len()];
        let input = mutate(&mut rng, seed);
        no_panic("gguf", case, &input, exercise_gguf);
    }
}

#[test]
fn mutated_safetensors_headers_never_panic() {
    let mut rng = StdRng::seed_from_u64(19);
    let name = "model.embed_tokens.weight";
    let seed = safetensors(name, &[4, 2]);
    for case in 0..200 {
        let input = mutate(&mut rng, &seed);
        no_panic("safetensors", case, &input, |path| {
            let shards = vec![(path.to_path_buf(), input.clone())];
            if let Ok(weights) = SafetensorsWeights::from_shards(Path::new("dir"), shards) {
                let _ = weights.shape(name);
                let _ = weights.read(name);
            }
        });
    }
}

#[test]
fn accepted_shard_names_stay_inside_the_directory() {
    let mut rng = StdRng::seed_from_u64(19);
    let alphabet = ['.', '/', 'a', '\\', ':', '\0', '~', ' '];
    let index = Path::new("model.safetensors.index.json");
    for _ in 0..2000 {
        let name: String = (0..rng.random_range(0..8))
            .map(|_| alphabet[rng.random_range(0..alphabet.len())])
            .collect();
        if check_shard_name(index, &name).is_ok() {
            let escapes = Path::new(&name)
                .components()
                .any(|c| !matches!(c, Component::Normal(_)));
            assert!(!escapes && !name.is_empty(), "accepted `{name:?}`");
        }
    }
    let seed = br#"{"weight_map":{"a":"model-00001-of-00002.safetensors","b":"x.safetensors"}}"#;
    for case in 0..200 {
        let input = mutate(&mut rng, seed);
        no_panic("index", case, &input, |_| {
            let _ = index_shards(index, &String::from_utf8_lossy(&input));
        });
    }
}
