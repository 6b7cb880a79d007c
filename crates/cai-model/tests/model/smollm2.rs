//! SmolLM2-135M-Instruct (Q4_1 GGUF) against transformers 5.23 on the same file.

use cai_model::testing::trained_labels;
use cai_model::{Message, TokenBatch, masked_mean_nll};
use serde_json::Value;

use super::common::*;

const LOGITS: &str = "smollm2_logits.safetensors";

fn cases() -> Vec<(String, Value)> {
    let golden = json_fixture("smollm2.json");
    golden["cases"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn messages(case: &Value) -> Vec<Message> {
    serde_json::from_value(case["messages"].clone()).unwrap()
}

#[test]
fn chat_template_renders_exactly_as_transformers() {
    let model = smollm2();
    for (name, case) in cases() {
        let text = case["text"].as_str().unwrap();
        match case["kind"].as_str().unwrap() {
            "chat" => assert_eq!(
                model
                    .template()
                    .unwrap()
                    .render(&messages(&case), true)
                    .unwrap(),
                text,
                "{name}"
            ),
            "chat_full" => assert_eq!(
                model
                    .template()
                    .unwrap()
                    .render(&messages(&case), false)
                    .unwrap(),
                text,
                "{name}"
            ),
            _ => {}
        }
    }
}

#[test]
fn token_ids_are_exact() {
    let model = smollm2();
    for (name, case) in cases() {
        let got = model
            .tokenizer
            .encode_raw(case["text"].as_str().unwrap())
            .unwrap();
        assert_eq!(got, ids(&case["ids"]), "{name}");
    }
}

#[test]
fn tokenizer_edge_cases_match_transformers() {
    let model = smollm2();
    let cases = json_fixture("tokenizer_cases.json");
    for case in cases["cases"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let got = model.tokenizer.encode_raw(text).unwrap();
        assert_eq!(got, ids(&case["ids"]), "{text:?}");
        assert_eq!(
            model.tokenizer.decode(&got, false).unwrap(),
            text,
            "{text:?}"
        );
    }
}

#[test]
fn per_token_logprobs_within_5e_4() {
    let model = smollm2();
    let all = cases();
    let seqs: Vec<Vec<u32>> = all.iter().map(|(_, c)| ids(&c["ids"])).collect();
    // One batched, right-padded call: padding must not disturb any row.
    let got = model.token_logprobs(&seqs).unwrap();
    for ((name, case), lp) in all.iter().zip(got) {
        let want: Vec<f64> = case["per_token_logprobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let diff = max_abs_diff(&lp, &want);
        assert!(diff < 5e-4, "{name}: max |Δ logprob| = {diff}");
    }
}

#[test]
fn last_position_logits_within_1e_3() {
    let model = smollm2();
    for (name, case) in cases() {
        let ids = ids(&case["ids"]);
        let logits = model
            .lm
            .forward(&TokenBatch::single(&ids), &model.rope, None);
        let [_, t, v] = logits.dims();
        let last = values(logits.slice([0..1, t - 1..t, 0..v]));
        let want = golden_tensor(LOGITS, &format!("{name}.last"));
        let diff = max_abs_diff(&last, &want);
        assert!(diff < 1e-3, "{name}: max |Δ logit| = {diff}");
    }
}

#[test]
fn every_position_logits_within_1e_3() {
    let model = smollm2();
    let case = &json_fixture("smollm2.json")["cases"]["plain_capital"];
    let logits = model
        .lm
        .forward(&TokenBatch::single(&ids(&case["ids"])), &model.rope, None);
    let diff = max_abs_diff(&values(logits), &golden_tensor(LOGITS, "plain_capital.all"));
    assert!(diff < 1e-3, "max |Δ logit| = {diff}");
}

#[test]
fn greedy_kv_cache_decoding_matches_token_for_token() {
    let model = smollm2();
    for (name, case) in cases().into_iter().take(4) {
        let (got, _) = greedy(&model.lm, &model.rope, &ids(&case["ids"]), 32);
        assert_eq!(got, ids(&case["greedy32"]["ids"]), "{name}");
    }
}

#[test]
fn assistant_only_mask_and_loss_match_transformers() {
    let model = smollm2();
    let case = &json_fixture("smollm2.json")["cases"]["chat_redteam_lockpick_sft"];
    let enc = model.encode_chat_with_mask(&messages(case)).unwrap();
    assert_eq!(enc.ids, ids(&case["ids"]));
    assert_eq!(enc.assistant_mask, trained_labels(case));
    let lp = model
        .token_logprobs(std::slice::from_ref(&enc.ids))
        .unwrap()
        .remove(0);
    let nll = masked_mean_nll(&lp, &enc.assistant_mask).unwrap();
    let want = case["sft"]["hf_loss_mean_nll"].as_f64().unwrap();
    assert!((nll - want).abs() < 1e-3, "mean NLL {nll} vs {want}");
}
