//! cai-ppo on the tiny random Mistral with a byte-level tokenizer: at the first step the ratio is
//! 1 and the KL 0 (at a sampling temperature of 0.6, where recomputing without it would not be;
//! with GAE, GRPO and RLOO), a run stopped and resumed equals an uninterrupted one bit for bit,
//! LoRA validates and saves a loadable merged policy, and bad input fails before any rollout.

use std::path::{Path, PathBuf};

use cai_model::testing::{tiny_model_dir, write_tiny_model};
use cai_model::{LoadOptions, LoadedModel, ModelSpec};
use cai_ppo::{PpoConfig, PpoError};
use serde_json::{Value, json};

fn write_prompts(path: &Path, n: usize) {
    let lines: Vec<String> = (0..n)
        .map(|i| json!({"id": format!("q{i}"), "prompt": format!("Say {i}")}).to_string())
        .collect();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn config(work: &Path, out: &str, extra: Value) -> PpoConfig {
    let prompts = work.join("prompts.jsonl");
    if !prompts.exists() {
        write_prompts(&prompts, 6);
    }
    let mut overrides = json!({
        "policy": tiny_model_dir(),
        "chat_template": "mistral",
        "prompts_file": prompts,
        "output_dir": work.join(out),
        "reward": "rule:length=4",
        "steps": 2,
        "rollout_batch": 2,
        "max_new_tokens": 6,
        "ppo_epochs": 1,
        "mini_batch_size": 2,
        "micro_batch_size": 1,
        "train_unfinished": true,
        "lr": 1e-3,
        "min_lr": 1e-4,
        "critic_lr": 1e-3,
        "critic_min_lr": 1e-4,
        "warmup_steps": 0,
        "val_prompts": 0,
        "save_interval": 0,
        "quiet": true,
    });
    for (k, v) in extra.as_object().unwrap() {
        overrides[k] = v.clone();
    }
    PpoConfig::load(None, overrides).unwrap()
}

fn metric_lines(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A metrics line without its timings (which differ between runs).
fn without_timers(mut line: Value) -> Value {
    let map = line.as_object_mut().unwrap();
    map.retain(|k, _| !k.ends_with("_time"));
    line
}

#[test]
fn at_the_first_step_the_ratio_is_one_and_the_kl_zero() {
    let work = tempfile::tempdir().unwrap();
    let group = json!({"samples_per_prompt": 2, "mini_batch_size": 4});
    for (estimator, extra) in [("gae", json!({})), ("grpo", group.clone()), ("rloo", group)] {
        let mut settings = json!({"steps": 1, "temperature": 0.6, "estimator": estimator});
        for (k, v) in extra.as_object().unwrap() {
            settings[k] = v.clone();
        }
        let cfg = config(work.path(), estimator, settings);
        cai_ppo::train(&cfg).unwrap();
        let line = &metric_lines(&cfg.output_dir)[0];
        let get = |k: &str| line[k].as_f64().unwrap_or_else(|| panic!("{k} in {line}"));
        assert!(get("ppo_ratio_max_deviation") < 1e-5, "{estimator}: {line}");
        assert!(get("init_policy_kl").abs() < 1e-5, "{estimator}: {line}");
        assert!(get("logprob_mismatch_max") < 1e-4, "{estimator}: {line}");
        if estimator == "gae" {
            // The random model's samples all reach the token limit, so the rule rewards are
            // equal and the critic-free advantages zero; the critic's values are not.
            assert!(get("grad_norm") > 0.0, "the actor learned nothing: {line}");
        }
    }
}

#[test]
fn a_resumed_run_equals_an_uninterrupted_one() {
    let work = tempfile::tempdir().unwrap();
    let whole = config(work.path(), "whole", json!({"steps": 4}));
    cai_ppo::train(&whole).unwrap();
    let split = config(
        work.path(),
        "split",
        json!({"steps": 4, "stop_after_steps": 2}),
    );
    let first = cai_ppo::train(&split).unwrap();
    assert_eq!(first.steps, 2);
    assert!(first.model_dir.is_none());
    let resumed = config(work.path(), "split", json!({"steps": 4, "resume": true}));
    let summary = cai_ppo::train(&resumed).unwrap();
    assert_eq!(summary.steps, 4);

    let a: Vec<Value> = metric_lines(&whole.output_dir)
        .into_iter()
        .map(without_timers)
        .collect();
    let b: Vec<Value> = metric_lines(&split.output_dir)
        .into_iter()
        .map(without_timers)
        .collect();
    assert_eq!(a.len(), 4);
    assert_eq!(a, b);
    let read = |dir: &PathBuf, file: &str| std::fs::read(dir.join(file)).unwrap();
    assert_eq!(
        read(&whole.output_dir, "rollouts.jsonl"),
        read(&split.output_dir, "rollouts.jsonl")
    );
    assert!(
        read(&whole.output_dir, "model/model.safetensors")
            == read(&split.output_dir, "model/model.safetensors"),
        "the final policies differ"
    );
}

#[test]
fn lora_validates_and_saves_a_loadable_merged_policy() {
    let work = tempfile::tempdir().unwrap();
    let cfg = config(
        work.path(),
        "lora",
        json!({
            "micro_batch_size": 2,
            "peft": "lora",
            "lora_rank": 2,
            "val_prompts": 2,
            "val_check_interval": 1,
        }),
    );
    let summary = cai_ppo::train(&cfg).unwrap();
    assert_eq!(summary.steps, 2);
    assert!(summary.val_rewards_before.is_some() && summary.val_rewards.is_some());
    let lines = metric_lines(&cfg.output_dir);
    assert_eq!(lines.len(), 2);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["step"], json!(i + 1));
        assert!(line["rewards"].is_number() && line["init_policy_kl"].is_number());
    }
    // The adapters moved the policy away from the base it is penalised towards.
    assert!(
        lines[1]["init_policy_kl"].as_f64().unwrap() > 0.0,
        "{}",
        lines[1]
    );
    let rollouts = std::fs::read_to_string(cfg.output_dir.join("rollouts.jsonl")).unwrap();
    assert_eq!(rollouts.lines().count(), 2 * 2);
    let dir = summary.model_dir.unwrap();
    let opts = LoadOptions {
        chat_template: Some("mistral".into()),
        ..LoadOptions::default()
    };
    let saved = LoadedModel::load(&ModelSpec::parse(&dir.to_string_lossy()).unwrap(), &opts);
    assert_eq!(saved.unwrap().config.vocab_size, 512);
}

#[test]
fn bad_input_fails_before_any_rollout() {
    let work = tempfile::tempdir().unwrap();
    // A prompt that leaves no room for the new tokens in the 512-token context.
    let long = work.path().join("long.jsonl");
    std::fs::write(
        &long,
        json!({"id": "huge", "prompt": "x".repeat(600)}).to_string()
            + "\n"
            + &json!({"id": "ok", "prompt": "hi"}).to_string(),
    )
    .unwrap();
    let cfg = config(
        work.path(),
        "long",
        json!({"prompts_file": long, "rollout_batch": 1, "mini_batch_size": 1}),
    );
    let err = cai_ppo::train(&cfg).unwrap_err().to_string();
    assert!(
        err.contains("long.jsonl") && err.contains("`huge`"),
        "{err}"
    );
    assert!(!cfg.output_dir.join("metrics.jsonl").exists(), "{err}");

    // A reward model whose tokenizer ends sequences differently.
    let other = work.path().join("other-rm");
    std::fs::create_dir_all(&other).unwrap();
    write_tiny_model(&other, "<s>");
    let cfg = config(
        work.path(),
        "rm",
        json!({"reward": null, "reward_model": other}),
    );
    let err = cai_ppo::train(&cfg).unwrap_err();
    assert!(matches!(err, PpoError::Mismatch(_)), "{err}");
    assert!(err.to_string().contains("another tokenizer"), "{err}");

    // A reference of another shape.
    let small = work.path().join("small");
    std::fs::create_dir_all(&small).unwrap();
    write_tiny_model(&small, "</s>");
    let mut config_json: Value =
        serde_json::from_str(&std::fs::read_to_string(small.join("config.json")).unwrap()).unwrap();
    config_json["num_hidden_layers"] = json!(1);
    std::fs::write(small.join("config.json"), config_json.to_string()).unwrap();
    let cfg = config(work.path(), "ref", json!({"reference": small}));
    let err = cai_ppo::train(&cfg).unwrap_err().to_string();
    assert!(err.contains("disagree in shape"), "{err}");

    // A bad record names its file and line before any model loads.
    let bad = work.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"prompt\": \"fine\"}\n{\"nothing\": 1}\n").unwrap();
    let cfg = config(work.path(), "bad", json!({"prompts_file": bad}));
    let err = cai_ppo::train(&cfg).unwrap_err().to_string();
    assert!(err.contains("bad.jsonl") && err.contains('2'), "{err}");
}
