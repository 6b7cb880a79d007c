//! Training runs on the tiny model: overfitting and outputs, exact resume, LoRA resume and merge.

use cai_model::burn::tensor::Device;
use cai_model::{LoadOptions, LoadedModel, ModelSpec, TokenBatch};
use cai_train::LoraSettings;
use std::path::Path;

use cai_sft::SftConfig;

use super::common::{max_abs_diff, metrics, tiny_config, tiny_model, values, weight_diff};

#[test]
fn a_few_steps_overfit_eight_conversations_and_write_every_output() {
    let work = tempfile::tempdir().unwrap();
    let cfg = tiny_config(
        work.path(),
        "run",
        &[
            "--max-steps",
            "12",
            "--validation-fraction",
            "0.25",
            "--global-batch-size",
            "2",
            "--val-check-interval",
            "6",
        ],
    );
    let summary = cai_sft::run(&cfg).unwrap();
    let (first, last) = (summary.first_loss.unwrap(), summary.last_loss.unwrap());
    assert!(last < 0.5 * first, "loss {first} → {last}");
    assert_eq!(
        (summary.train_data.kept, summary.validation_data.kept),
        (6, 2)
    );
    let out = work.path().join("run");
    let lines = metrics(&out);
    let train: Vec<_> = lines.iter().filter(|l| l["split"] == "train").collect();
    assert_eq!(train.len(), 12);
    for key in ["loss", "lr", "grad_norm", "tokens_per_s"] {
        assert!(
            train.iter().all(|l| l[key].as_f64().unwrap().is_finite()),
            "{key}"
        );
    }
    // Validation before the first step, at step 6 and at the end.
    let validation: Vec<_> = lines
        .iter()
        .filter(|l| l["split"] == "validation")
        .collect();
    let steps: Vec<u64> = validation
        .iter()
        .map(|l| l["step"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, [0, 6, 12]);
    assert_eq!(
        validation[0]["loss"].as_f64(),
        summary.initial_validation_loss
    );
    assert_eq!(validation[2]["loss"].as_f64(), summary.validation_loss);
    assert_eq!(
        std::fs::read_dir(out.join("tensorboard")).unwrap().count(),
        1
    );
    // The exported model loads, with the chat template it was trained with.
    let reloaded = LoadedModel::load(
        &ModelSpec::parse(out.join("model").to_str().unwrap()).unwrap(),
        &LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(
        reloaded.chat_template.as_ref().unwrap().source(),
        tiny_model("mistral", Device::flex())
            .template()
            .unwrap()
            .source()
    );
}

#[test]
fn resuming_after_five_steps_gives_the_weights_of_ten_straight_steps() {
    let work = tempfile::tempdir().unwrap();
    let split = [
        "--max-steps",
        "10",
        "--packing",
        "--max-seq-length",
        "64",
        "--save-interval",
        "5",
    ];
    let first = tiny_config(
        work.path(),
        "split",
        &[&split[..], &["--stop-after-steps", "5"]].concat(),
    );
    let half = cai_sft::run(&first).unwrap();
    assert_eq!(half.steps, 5);
    assert!(half.model_dir.is_none());
    assert!(
        work.path()
            .join("split/checkpoints/ckpt-5/optimizer.bpk")
            .is_file()
    );
    // A fresh start over existing checkpoints is refused.
    assert!(cai_sft::run(&tiny_config(work.path(), "split", &split)).is_err());
    let rest = cai_sft::run(&tiny_config(
        work.path(),
        "split",
        &[&split[..], &["--resume"]].concat(),
    ))
    .unwrap();
    assert_eq!(rest.steps, 10);

    let straight_again = tiny_config(
        work.path(),
        "straight64",
        &["--max-steps", "10", "--packing", "--max-seq-length", "64"],
    );
    cai_sft::run(&straight_again).unwrap();
    let diff = weight_diff(
        &work.path().join("straight64/model"),
        &work.path().join("split/model"),
    );
    assert!(diff < 1e-6, "max |Δw| = {diff}");
    // The metrics of the resumed run read as one run.
    let steps: Vec<u64> = metrics(&work.path().join("split"))
        .iter()
        .filter(|l| l["split"] == "train")
        .map(|l| l["step"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, (1..=10).collect::<Vec<_>>());
    // Training moved the weights far more than the tolerance.
    let base = super::common::tiny_model_dir();
    assert!(weight_diff(&work.path().join("split/model"), base) > 1e-3);
}

#[test]
fn validation_before_training_is_measured_once_across_a_resume() {
    let work = tempfile::tempdir().unwrap();
    let args = [
        "--max-steps",
        "4",
        "--validation-fraction",
        "0.25",
        "--global-batch-size",
        "2",
        "--val-check-interval",
        "2",
        "--save-interval",
        "2",
    ];
    let config = |extra: &[&str]| tiny_config(work.path(), "run", &[&args[..], extra].concat());
    let half = cai_sft::run(&config(&["--stop-after-steps", "2"])).unwrap();
    let initial = half
        .initial_validation_loss
        .expect("a validation set exists");
    assert!(initial.is_finite());
    let rest = cai_sft::run(&config(&["--resume"])).unwrap();
    assert_eq!(rest.initial_validation_loss, Some(initial));
    let validation: Vec<(u64, f64)> = metrics(&work.path().join("run"))
        .iter()
        .filter(|l| l["split"] == "validation")
        .map(|l| (l["step"].as_u64().unwrap(), l["loss"].as_f64().unwrap()))
        .collect();
    let steps: Vec<u64> = validation.iter().map(|(step, _)| *step).collect();
    assert_eq!(steps, [0, 2, 4], "one step-0 record after the resume");
    assert_eq!(validation[0].1, initial);
    // Without validation data there is nothing to measure.
    let none = cai_sft::run(&tiny_config(work.path(), "none", &["--max-steps", "1"])).unwrap();
    assert_eq!(none.initial_validation_loss, None);
}

/// burn's device generator is process-wide: LoRA initialisation and dropout draw from it, so the
/// tests that depend on its sequence take turns.
static GENERATOR: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// LoRA flags for 6 steps with a checkpoint at 3, and the given dropout.
fn lora_args(dropout: &'static str) -> Vec<&'static str> {
    vec![
        "--peft",
        "lora",
        "--lora-rank",
        "4",
        "--lora-alpha",
        "8",
        "--lora-dropout",
        dropout,
        "--lora-target-modules",
        "q_proj,v_proj,down_proj",
        "--max-steps",
        "6",
        "--save-interval",
        "3",
    ]
}

/// Trains `straight` in one go and `split` as 3 steps + resume; asserts equal weights and returns
/// the split run's first config.
fn assert_lora_resumes_exactly(work: &Path, lora: &[&str]) -> SftConfig {
    cai_sft::run(&tiny_config(work, "straight", lora)).unwrap();
    let first = tiny_config(
        work,
        "split",
        &[lora, &["--stop-after-steps", "3"]].concat(),
    );
    cai_sft::run(&first).unwrap();
    cai_sft::run(&tiny_config(work, "split", &[lora, &["--resume"]].concat())).unwrap();
    let diff = weight_diff(&work.join("straight/model"), &work.join("split/model"));
    assert!(diff < 1e-6, "max |Δw| = {diff}");
    first
}

#[test]
fn lora_dropout_resumes_exactly_and_changes_training() {
    let _turn = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    let work = tempfile::tempdir().unwrap();
    assert_lora_resumes_exactly(work.path(), &lora_args("0.3"));
    let plain = work.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    cai_sft::run(&tiny_config(&plain, "straight", &lora_args("0"))).unwrap();
    let diff = weight_diff(
        &work.path().join("straight/model"),
        &plain.join("straight/model"),
    );
    assert!(diff > 1e-6, "dropout left the training unchanged");
}

#[test]
fn lora_resumes_exactly_and_merges_into_the_same_logits() {
    let _turn = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    let work = tempfile::tempdir().unwrap();
    let first = assert_lora_resumes_exactly(work.path(), &lora_args("0"));

    // Base + adapter (from the step-3 checkpoint) vs merged weights vs the exported HF model.
    let ckpt = work.path().join("split/checkpoints/ckpt-3");
    let adapted = first.model_spec().load(Some(&ckpt)).unwrap();
    let tokens = TokenBatch::single(&[1, 50, 60, 70, 80, 90, 100]);
    let with_adapter = values(adapted.lm.forward(&tokens, &adapted.rope, None));
    let merged_lm = LoraSettings::merge(adapted.lm);
    let merged = values(merged_lm.forward(&tokens, &adapted.rope, None));
    assert!(max_abs_diff(&with_adapter, &merged) < 1e-5);
    let exported = LoadedModel::load(
        &ModelSpec::parse(ckpt.join("model").to_str().unwrap()).unwrap(),
        &LoadOptions::default(),
    )
    .unwrap();
    let exported = values(exported.lm.forward(&tokens, &exported.rope, None));
    assert!(max_abs_diff(&with_adapter, &exported) < 1e-5);
    // The adapters did change the model, and only the targeted weights.
    let base = tiny_model("mistral", Device::flex());
    let base_logits = values(base.lm.forward(&tokens, &base.rope, None));
    assert!(max_abs_diff(&with_adapter, &base_logits) > 1e-4);
    let base_dir = super::common::tiny_model_dir();
    let changed: Vec<String> = super::common::safetensors_values(&ckpt.join("model"))
        .into_iter()
        .zip(super::common::safetensors_values(base_dir))
        .filter(|((_, a), (_, b))| max_abs_diff(a, b) > 0.0)
        .map(|((name, _), _)| name)
        .collect();
    assert!(!changed.is_empty());
    assert!(
        changed
            .iter()
            .all(|n| n.contains("q_proj") || n.contains("v_proj") || n.contains("down_proj")),
        "{changed:?}"
    );
}
