//! Fuzzes the safetensors side of the loader. The first byte picks the input: `0` makes the
//! rest a `model.safetensors.index.json` (shard names must never be accepted if they leave the
//! directory), anything else a safetensors file whose every tensor is read as `f32`.

#![no_main]

use std::path::{Component, Path};

use cai_model::weights::{SafetensorsWeights, WeightSource, index_shards};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode == 0 {
        let text = String::from_utf8_lossy(rest);
        if let Ok(shards) = index_shards(Path::new("index.json"), &text) {
            for shard in shards {
                let inside = Path::new(&shard)
                    .components()
                    .all(|c| matches!(c, Component::Normal(_)));
                assert!(inside, "accepted shard name {shard:?}");
            }
        }
        return;
    }
    let names: Vec<String> = match safetensors::SafeTensors::deserialize(rest) {
        Ok(st) => st.names().into_iter().map(String::from).collect(),
        Err(_) => Vec::new(),
    };
    let shards = vec![("fuzz.safetensors".into(), rest.to_vec())];
    if let Ok(weights) = SafetensorsWeights::from_shards(Path::new("fuzz"), shards) {
        for name in names
            .iter()
            .map(String::as_str)
            .chain(["model.norm.weight"])
        {
            drop((weights.shape(name), weights.read(name)));
        }
    }
});
