//! A random tiny Mistral (sliding window 16) from safetensors, against transformers at every position.

use std::sync::OnceLock;

use cai_model::device::default_device;
use cai_model::model::rope::RopeTables;
use cai_model::testing::{tiny_config, tiny_lm};
use cai_model::{CausalLm, ModelConfig, TokenBatch};
use serde_json::Value;

use super::common::*;

const LOGITS: &str = "tiny_mistral_logits.safetensors";

fn tiny() -> &'static (ModelConfig, CausalLm, RopeTables) {
    static TINY: OnceLock<(ModelConfig, CausalLm, RopeTables)> = OnceLock::new();
    TINY.get_or_init(|| {
        let cfg = tiny_config();
        let device = default_device();
        let lm = tiny_lm(&cfg, &device);
        let rope = RopeTables::new(
            cfg.head_dim,
            cfg.rope_theta,
            cfg.max_position_embeddings,
            &device,
        );
        (cfg, lm, rope)
    })
}

fn cases() -> Vec<(String, Value)> {
    json_fixture("tiny_mistral.json")["cases"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[test]
fn config_has_the_window() {
    let (cfg, lm, _) = tiny();
    assert_eq!(cfg.sliding_window, Some(16));
    assert_eq!(lm.sliding_window, 16);
    assert!(lm.lm_head.is_some(), "untied head");
}

#[test]
fn logits_at_every_position_within_1e_4_with_and_without_window() {
    let (_, lm, rope) = tiny();
    let mut no_window = lm.clone();
    no_window.sliding_window = 0;
    for (name, case) in cases() {
        let batch = TokenBatch::single(&ids(&case["ids"]));
        let diff = max_abs_diff(
            &values(lm.forward(&batch, rope, None)),
            &golden_tensor(LOGITS, &name),
        );
        assert!(diff < 1e-4, "{name}: max |Δ| = {diff}");
        let diff = max_abs_diff(
            &values(no_window.forward(&batch, rope, None)),
            &golden_tensor(LOGITS, &format!("{name}.nowindow")),
        );
        assert!(diff < 1e-4, "{name} (no window): max |Δ| = {diff}");
    }
}

#[test]
fn greedy_decode_across_the_window_matches() {
    let (_, lm, rope) = tiny();
    for (name, case) in cases() {
        let (got, _) = greedy(lm, rope, &ids(&case["ids"]), 32);
        assert_eq!(got, ids(&case["greedy32"]["ids"]), "{name}");
    }
}

#[test]
fn kv_cache_decode_equals_full_recompute() {
    let (_, lm, rope) = tiny();
    let case = &json_fixture("tiny_mistral.json")["cases"]["len10_decode_crosses_window"];
    let prompt = ids(&case["ids"]);
    let (generated, step_logits) = greedy(lm, rope, &prompt, 24);
    let mut full: Vec<u32> = prompt.clone();
    full.extend(&generated);
    let logits = values(lm.forward(&TokenBatch::single(&full), rope, None));
    let vocab = step_logits[0].len();
    for (step, cached) in step_logits.iter().enumerate() {
        let pos = prompt.len() - 1 + step;
        let recomputed: Vec<f64> = logits[pos * vocab..(pos + 1) * vocab]
            .iter()
            .map(|&x| x as f64)
            .collect();
        let diff = max_abs_diff(cached, &recomputed);
        assert!(diff < 1e-4, "step {step}: max |Δ| = {diff}");
    }
}

#[test]
fn left_and_right_padding_leave_rows_unchanged() {
    let (_, lm, rope) = tiny();
    let all: Vec<Vec<u32>> = cases()
        .iter()
        .map(|(_, c)| ids(&c["ids"]))
        .take(4)
        .collect();
    for batch in [
        TokenBatch::left_padded(&all, 0),
        TokenBatch::right_padded(&all, 0),
    ] {
        let logits = values(lm.forward(&batch, rope, None));
        let t = batch.seq_len();
        for (r, seq) in all.iter().enumerate() {
            let alone = values(lm.forward(&TokenBatch::single(seq), rope, None));
            let vocab = alone.len() / seq.len();
            let offset = batch.row_valid(r).iter().position(|&v| v).unwrap();
            for pos in 0..seq.len() {
                let start = (r * t + offset + pos) * vocab;
                let row: Vec<f64> = alone[pos * vocab..(pos + 1) * vocab]
                    .iter()
                    .map(|&x| x as f64)
                    .collect();
                let diff = max_abs_diff(&logits[start..start + vocab], &row);
                assert!(diff < 1e-4, "row {r} pos {pos}: max |Δ| = {diff}");
            }
        }
    }
}
