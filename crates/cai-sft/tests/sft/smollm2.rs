//! SmolLM2: the loss of the golden SFT case against transformers, and overfitting a few samples.

use std::sync::OnceLock;

use cai_model::testing::{smollm2_case, trained_labels};
use cai_model::{LoadOptions, LoadedModel, Message, ModelSpec};
use cai_sft::batches::{MicroBatch, Row};
use cai_sft::conversation::Conversation;
use cai_sft::encode::encode;
use cai_sft::loss::mean_target_nll;

fn smollm2() -> &'static LoadedModel {
    static MODEL: OnceLock<LoadedModel> = OnceLock::new();
    MODEL.get_or_init(|| LoadedModel::load(&ModelSpec::Default, &LoadOptions::default()).unwrap())
}

#[test]
fn golden_case_mask_and_loss_match_transformers() {
    let case = smollm2_case("chat_redteam_lockpick_sft");
    let messages: Vec<Message> = serde_json::from_value(case["messages"].clone()).unwrap();
    let conv = Conversation {
        messages,
        masked_roles: vec!["user".into()],
        ..Default::default()
    };
    let model = smollm2();
    let example = encode(model, &conv).unwrap();
    let want_ids: Vec<u32> = serde_json::from_value(case["ids"].clone()).unwrap();
    assert_eq!(example.ids, want_ids);
    assert_eq!(example.trained, trained_labels(&case));
    let row = Row {
        examples: vec![example],
    };
    let loss: f32 =
        mean_target_nll(&model.lm, &model.rope, &MicroBatch::new(&[&row], 0)).into_scalar();
    let want = case["sft"]["hf_loss_mean_nll"].as_f64().unwrap();
    assert!(
        (loss as f64 - want).abs() < 1e-3,
        "mean NLL {loss} vs transformers {want}"
    );
}

#[test]
fn full_fine_tuning_overfits_eight_conversations() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("train.jsonl");
    // Hugging Face `messages` layout, to cover that reader too.
    let lines: Vec<String> = (0..8)
        .map(|i| {
            serde_json::json!({"messages": [
                {"role": "user", "content": format!("Say the secret word number {i}.")},
                {"role": "assistant", "content": format!("The secret word {i} is zebra{i}.")}
            ]})
            .to_string()
        })
        .collect();
    std::fs::write(&data, lines.join("\n")).unwrap();
    let out = work.path().join("out");
    let cfg = super::common::config_from_flags(&[
        "cai-sft",
        "--train-file",
        data.to_str().unwrap(),
        "--output-dir",
        out.to_str().unwrap(),
        "--validation-fraction",
        "0",
        "--micro-batch-size",
        "4",
        "--global-batch-size",
        "4",
        "--max-steps",
        "4",
        "--lr",
        "1e-4",
        "--min-lr",
        "1e-5",
        "--warmup-steps",
        "0",
        "--constant-steps",
        "0",
        "--save-interval",
        "0",
        "--quiet",
    ]);
    let summary = cai_sft::run(&cfg).unwrap();
    let (first, last) = (summary.first_loss.unwrap(), summary.last_loss.unwrap());
    assert!(last < 0.6 * first, "loss {first} → {last}");
    assert!(out.join("model/model.safetensors").is_file());
}
