//! cai-rm on the tiny random Mistral with a byte-level tokenizer: it learns separable pairs and
//! writes every output, resumes exactly, trains LoRA, scores in order, and names bad input.

use std::path::{Path, PathBuf};

use cai_model::LoadOptions;
use cai_model::testing::{safetensors_values, tiny_model_dir, weight_diff};
use cai_rm::{RmConfig, RmError, Scorer};
use serde_json::{Value, json};

fn write_lines(path: &Path, lines: &[Value]) {
    let text: Vec<String> = lines.iter().map(Value::to_string).collect();
    std::fs::write(path, text.join("\n") + "\n").unwrap();
}

/// 24 preference records: a helpful answer preferred to a curt refusal; every third AI-labelled.
fn write_pairs(path: &Path) {
    let lines: Vec<Value> = (0..24)
        .map(|i| {
            let mut record = json!({
                "id": format!("p{i}"),
                "prompt": format!("What is {i} plus {i}?"),
                "chosen": format!("It is {}. Happy to help!", 2 * i),
                "rejected": "No.",
                "source": "test",
            });
            if i % 3 == 0 {
                record["judge"] =
                    json!({"model": "judge", "chosen_score": 0.8, "rejected_score": 0.2});
            }
            record
        })
        .collect();
    write_lines(path, &lines);
}

fn config(work: &Path, out: &str, extra: Value) -> RmConfig {
    let data = work.join("pairs.jsonl");
    if !data.exists() {
        write_pairs(&data);
    }
    let mut overrides = json!({
        "model": tiny_model_dir(),
        "chat_template": "mistral",
        "train_file": data,
        "output_dir": work.join(out),
        "validation_fraction": 0.25,
        "micro_batch_size": 2,
        "global_batch_size": 4,
        "max_steps": 8,
        "lr": 3e-3,
        "min_lr": 3e-4,
        "warmup_steps": 1,
        "save_interval": 0,
        "val_check_interval": 4,
        "quiet": true,
    });
    for (k, v) in extra.as_object().unwrap() {
        overrides[k] = v.clone();
    }
    RmConfig::load(None, overrides).unwrap()
}

/// burn's device generator is process-wide: the tests that initialise heads take turns.
static GENERATOR: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn separable_pairs_are_learned_and_every_output_is_written() {
    let _turn = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    let work = tempfile::tempdir().unwrap();
    let cfg = config(work.path(), "run", json!({}));
    let summary = cai_rm::train(&cfg).unwrap();
    assert_eq!(summary.steps, 8);
    assert_eq!(
        (summary.data.train.kept, summary.data.validation.kept),
        (18, 6)
    );
    let acc = summary.acc.unwrap();
    assert!(acc >= 5.0 / 6.0, "validation accuracy {acc}");
    let out = work.path().join("run");
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let lines: Vec<Value> = metrics
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let first_val = lines.iter().find(|l| l["split"] == "validation").unwrap();
    assert_eq!(
        first_val["step"], 0,
        "validation runs before the first step"
    );
    let last_val = lines
        .iter()
        .rev()
        .find(|l| l["split"] == "validation")
        .unwrap();
    assert!(last_val["loss"].as_f64().unwrap() < first_val["loss"].as_f64().unwrap());
    for key in [
        "acc",
        "rewards_all_std",
        "margin",
        "calibration_error",
        "length_spearman",
        "grad_norm",
    ] {
        assert!(
            lines.iter().any(|l| l.get(key).is_some()),
            "no `{key}` in metrics.jsonl"
        );
    }
    let model = out.join("model");
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("config.json")).unwrap()).unwrap();
    assert_eq!(
        config["architectures"][0],
        "MistralForSequenceClassification"
    );
    let stats: Value =
        serde_json::from_str(&std::fs::read_to_string(model.join("reward_stats.json")).unwrap())
            .unwrap();
    assert_eq!(stats["n"], 36);
    assert!(stats["std"].as_f64().unwrap() > 0.0);
    assert!(out.join("best/model.safetensors").is_file());
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(written["acc"].as_f64(), Some(acc));

    // The trained model scores in input order, helpful answers above curt ones.
    let input = work.path().join("score.jsonl");
    write_lines(
        &input,
        &[
            json!({"prompt": "What is 30 plus 30?", "response": "No."}),
            json!({"prompt": "What is 30 plus 30?", "response": "It is 60. Happy to help!"}),
        ],
    );
    let opts = LoadOptions {
        chat_template: Some("mistral".into()),
        ..LoadOptions::default()
    };
    let scorer = Scorer::load(&model, &opts).unwrap();
    let inputs = cai_rm::data::read_score_inputs(&input).unwrap();
    let scores = scorer.score(&inputs, 1).unwrap();
    let batched = scorer.score(&inputs, 8).unwrap();
    assert_eq!(scores.len(), 2);
    assert!(scores[1].reward > scores[0].reward, "{scores:?}");
    for (a, b) in scores.iter().zip(&batched) {
        assert!(
            (a.reward - b.reward).abs() < 1e-4,
            "batching changed a score: {a:?} vs {b:?}"
        );
    }
}

#[test]
fn a_split_run_resumes_to_the_weights_of_a_straight_one() {
    let _turn = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    let work = tempfile::tempdir().unwrap();
    let straight = config(work.path(), "straight", json!({"max_steps": 6}));
    cai_rm::train(&straight).unwrap();
    let first = config(
        work.path(),
        "split",
        json!({"max_steps": 6, "stop_after_steps": 3}),
    );
    let partial = cai_rm::train(&first).unwrap();
    assert_eq!((partial.steps, partial.model_dir.is_none()), (3, true));
    // A fresh start over checkpoints is refused; --resume continues.
    assert!(cai_rm::train(&config(work.path(), "split", json!({"max_steps": 6}))).is_err());
    cai_rm::train(&config(
        work.path(),
        "split",
        json!({"max_steps": 6, "resume": true}),
    ))
    .unwrap();
    let diff = weight_diff(
        &work.path().join("straight/model"),
        &work.path().join("split/model"),
    );
    assert!(diff < 1e-6, "max |Δw| = {diff}");
}

#[test]
fn lora_trains_the_adapters_and_the_head_only() {
    let _turn = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    let work = tempfile::tempdir().unwrap();
    let cfg = config(
        work.path(),
        "lora",
        json!({"max_steps": 3, "peft": "lora", "lora_rank": 4, "lora_target_modules": ["q_proj", "v_proj"]}),
    );
    cai_rm::train(&cfg).unwrap();
    let trained = safetensors_values(&work.path().join("lora/model"));
    let base = safetensors_values(tiny_model_dir());
    let base: std::collections::HashMap<String, Vec<f32>> = base.into_iter().collect();
    let mut changed = Vec::new();
    for (name, values) in &trained {
        match base.get(name) {
            Some(b) if b == values => {}
            _ => changed.push(name.clone()),
        }
    }
    assert!(changed.contains(&"score.weight".to_string()));
    assert!(
        changed
            .iter()
            .all(|n| n == "score.weight" || n.contains("q_proj") || n.contains("v_proj")),
        "{changed:?}"
    );
    assert!(
        changed.len() > 1,
        "the adapters changed the targeted weights"
    );
}

fn train_err(work: &Path, file: &str, lines: &[Value], format: &str) -> String {
    let path: PathBuf = work.join(file);
    write_lines(&path, lines);
    let cfg = RmConfig::load(
        None,
        json!({"model": tiny_model_dir(), "chat_template": "mistral", "train_file": path,
               "output_dir": work.join(format!("out-{file}")), "format": format, "quiet": true}),
    )
    .unwrap();
    cai_rm::train(&cfg).unwrap_err().to_string()
}

#[test]
fn bad_pairs_are_named_by_file_and_line() {
    let work = tempfile::tempdir().unwrap();
    let odd = train_err(
        work.path(),
        "odd.jsonl",
        &[
            json!({"text": "a"}),
            json!({"text": "b"}),
            json!({"text": "c"}),
        ],
        "auto",
    );
    assert!(
        odd.contains("odd.jsonl:3") && odd.contains("odd number"),
        "{odd}"
    );
    let empty = train_err(
        work.path(),
        "empty.jsonl",
        &[json!({"id": "a", "prompt": "p", "chosen": "yes", "rejected": "", "source": "s"})],
        "records",
    );
    assert!(
        empty.contains("empty.jsonl:1") && empty.contains("rejected"),
        "{empty}"
    );
    let unknown = train_err(
        work.path(),
        "unknown.jsonl",
        &[json!({"question": "q"})],
        "auto",
    );
    assert!(unknown.contains("unknown.jsonl:1"), "{unknown}");
    // A model without a head cannot score.
    let err = Scorer::load(tiny_model_dir(), &LoadOptions::default())
        .err()
        .unwrap();
    assert!(matches!(err, RmError::NoHead(_)), "{err}");
}
