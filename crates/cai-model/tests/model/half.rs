//! Half-size weights (`--dtype f16|bf16`) against transformers' f32 greedy decoding and log-probs:
//! the tolerances measured here are the ones docs/model.md states.

use burn::tensor::DType;
use cai_model::{Engine, GenerationRequest, LoadOptions, LoadedModel, ModelSpec, Prompt};
use cai_model::{FinishReason, SamplingParams};
use serde_json::Value;

use super::common::*;

/// Largest |Δ log-prob| allowed against transformers' f32, per weight dtype: about 2× what this
/// test measured on the golden prompts on 2026-12-03 (f16 0.0155, bf16 0.0864; docs/model.md).
const F16_TOLERANCE: f64 = 0.03;
const BF16_TOLERANCE: f64 = 0.17;

/// A greedy run that left transformers' tokens: the case, the first step that differs, and
/// transformers' top-1 − top-2 logit margin at that step.
struct Divergence {
    case: String,
    step: usize,
    margin: f64,
}

fn load(dtype: DType) -> LoadedModel {
    let options = LoadOptions {
        dtype,
        ..LoadOptions::default()
    };
    LoadedModel::load(&ModelSpec::Default, &options).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// Runs the golden cases with weights in `dtype`: teacher-forced log-probs and 32 greedy tokens.
/// Returns the largest |Δ log-prob| against the golden ones and where greedy tokens differ from
/// transformers'.
fn measure(dtype: DType) -> (f64, Vec<Divergence>) {
    let model = load(dtype);
    let cases: Vec<(String, Value)> = json_fixture("smollm2.json")["cases"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let seqs: Vec<Vec<u32>> = cases.iter().map(|(_, c)| ids(&c["ids"])).collect();
    let mut worst: f64 = 0.0;
    for ((_, case), lp) in cases.iter().zip(model.token_logprobs(&seqs).unwrap()) {
        worst = worst.max(max_abs_diff(&lp, &floats(&case["per_token_logprobs"])));
    }
    let engine = Engine::new(model);
    let requests: Vec<GenerationRequest> = seqs
        .iter()
        .map(|ids| GenerationRequest {
            prompt: Prompt::Tokens(ids.clone()),
            params: SamplingParams {
                ignore_eos: true,
                ..SamplingParams::greedy(32)
            },
        })
        .collect();
    let out = engine.generate(&requests).unwrap();
    let mut differ = Vec::new();
    for ((name, case), g) in cases.iter().zip(&out) {
        assert_eq!(g.finish_reason, FinishReason::Length);
        let golden = ids(&case["greedy32"]["ids"]);
        if let Some(step) = (0..golden.len()).find(|&i| g.token_ids.get(i) != Some(&golden[i])) {
            let margins = floats(&case["greedy32"]["top1_top2_margin"]);
            differ.push(Divergence {
                case: name.clone(),
                step,
                margin: margins[step],
            });
        }
    }
    let places: Vec<String> = differ
        .iter()
        .map(|d| format!("{} step {} (margin {:.4})", d.case, d.step, d.margin))
        .collect();
    eprintln!("{dtype:?}: max |Δ log-prob| {worst:.4}, greedy differs in {places:?}");
    (worst, differ)
}

#[test]
fn f16_weights_keep_transformers_greedy_tokens_and_log_probs_close() {
    let (worst, differ) = measure(DType::F16);
    assert!(worst < F16_TOLERANCE, "f16: max |Δ log-prob| = {worst}");
    assert!(
        differ.is_empty(),
        "f16 greedy differs in {} cases",
        differ.len()
    );
}

/// bf16 keeps 8 bits of mantissa: its greedy tokens may leave transformers' only at a near-tie,
/// a step where transformers' own top two logits are closer than bf16's error (measured: one
/// case, at step 18 of `chat_redteam_lockpick_sft`, where the margin is 0.004).
#[test]
fn bf16_weights_leave_transformers_greedy_tokens_only_at_near_ties() {
    let (worst, differ) = measure(DType::BF16);
    assert!(worst < BF16_TOLERANCE, "bf16: max |Δ log-prob| = {worst}");
    for d in &differ {
        assert!(
            d.margin < BF16_TOLERANCE / 2.0,
            "bf16 greedy left transformers in {} at step {} (margin {})",
            d.case,
            d.step,
            d.margin
        );
    }
    assert!(
        differ.len() <= 1,
        "bf16 greedy differs in {} cases",
        differ.len()
    );
}
