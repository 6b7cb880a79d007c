//! Shared helpers: fixture paths, the shared SmolLM2 instance, golden tensors, greedy decoding;
//! the numeric ones are `cai_model::testing`'s.

use std::path::PathBuf;
use std::sync::OnceLock;

use cai_model::model::rope::RopeTables;
use cai_model::{CausalLm, Engine, LoadOptions, LoadedModel, ModelSpec, TokenBatch};
use safetensors::SafeTensors;
use serde_json::Value;

pub use cai_model::testing::{ids, values};

/// A file under `tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A parsed JSON fixture.
pub fn json_fixture(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap()
}

/// A tensor of a safetensors fixture as f64 values (f32 and f64 tensors).
pub fn golden_tensor(file: &str, name: &str) -> Vec<f64> {
    let bytes = std::fs::read(fixture(file)).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let view = st.tensor(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    match view.dtype() {
        safetensors::Dtype::F32 => view
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64)
            .collect(),
        safetensors::Dtype::F64 => view
            .data()
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
            .collect(),
        other => panic!("{name}: unexpected dtype {other:?}"),
    }
}

/// An engine over the default SmolLM2 model (fetched once per machine), loaded once per test binary.
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        Engine::new(LoadedModel::load(&ModelSpec::Default, &LoadOptions::default()).unwrap())
    })
}

/// The default SmolLM2 model.
pub fn smollm2() -> &'static LoadedModel {
    engine().model()
}

/// Largest absolute difference.
pub fn max_abs_diff(a: &[f32], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (*x as f64 - y).abs())
        .fold(0.0, f64::max)
}

/// Greedy decoding with the KV cache for exactly `n` new tokens (no stop); also returns each
/// step's logits.
pub fn greedy(
    lm: &CausalLm,
    rope: &RopeTables,
    prompt: &[u32],
    n: usize,
) -> (Vec<u32>, Vec<Vec<f32>>) {
    let mut cache = lm.new_cache(1, prompt.len() + n);
    let mut step_input = TokenBatch::single(prompt);
    let mut out = Vec::new();
    let mut step_logits = Vec::new();
    for _ in 0..n {
        let logits = lm.forward(&step_input, rope, Some(&mut cache));
        let [_, t, v] = logits.dims();
        let last = values(logits.slice([0..1, t - 1..t, 0..v]));
        let next = last
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i as u32)
            .unwrap();
        out.push(next);
        step_logits.push(last);
        step_input = TokenBatch::single(&[next]);
    }
    (out, step_logits)
}
