//! End-to-end behaviour of a preference run on a fake generator and a fake judge: counts by
//! reason, the soft labels and their orientation, the output formats, resume after a torn work
//! log, and bad-input errors.

mod common;

use std::path::Path;

use cai_data::{Generator, PreferenceRecord};
use cai_preference::files::{AI_PREFERENCES, WORK_LOG};
use cai_preference::run::Judge;
use cai_preference::{Config, OptionScorer, run};
use common::FakePolicy;
use serde_json::Value;

/// P(A) = 0.8 when option (A) is the good answer, else 0.3; 0.5 either way for prompts about ties.
struct FakeJudge;

impl OptionScorer for FakeJudge {
    fn prob_a(&self, prompts: &[String]) -> cai_judge::Result<Vec<cai_judge::Verdict>> {
        Ok(prompts
            .iter()
            .map(|p| {
                let a = p.lines().find(|l| l.starts_with("(A) ")).unwrap();
                Ok(if p.contains("tie") {
                    0.5
                } else if a.contains("good") {
                    0.8
                } else {
                    0.3
                })
            })
            .collect())
    }

    fn name(&self) -> String {
        "fake-judge".into()
    }
}

fn write_prompts(path: &Path, n: usize) {
    let lines: Vec<String> = (0..n)
        .map(|i| {
            let prompt = if i == 2 {
                "a tie question".to_string()
            } else {
                format!("question {i}")
            };
            serde_json::json!({"id": format!("p{i}"), "prompt": prompt}).to_string()
        })
        .collect();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn config(dir: &Path, limit: Option<usize>) -> Config {
    Config {
        prompts_file: Some(dir.join("prompts.jsonl")),
        output_dir: dir.join("out"),
        limit,
        batch_size: 2,
        ensemble: 1,
        helpful_ratio: 0.5,
        ..Config::default()
    }
}

fn read_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn label(config: &Config, policy: &FakePolicy) -> cai_preference::Summary {
    let inputs = cai_preference::read_inputs(config).unwrap();
    run(
        config,
        inputs,
        &[policy as &dyn Generator],
        Judge::Options(&FakeJudge),
        &mut |_| {},
    )
    .unwrap()
}

#[test]
fn a_run_counts_by_reason_and_writes_oriented_soft_labels() {
    let dir = tempfile::tempdir().unwrap();
    write_prompts(&dir.path().join("prompts.jsonl"), 6);
    let cfg = config(dir.path(), None);
    let summary = label(&cfg, &FakePolicy::default());
    let c = &summary.counts;
    assert_eq!((c.prompts, c.candidates, c.pairs_judged), (6, 12, 6));
    assert_eq!((c.dropped.empty_answer, c.dropped.duplicate_answer), (6, 6));
    assert_eq!(c.dropped.tie, 1, "the tie prompt is dropped, not replaced");
    assert_eq!(
        (c.ai_records, c.helpful_records),
        (5, 3),
        "ratio 0.5 of 5, rounded half-even-free"
    );
    assert_eq!(c.position_disagreements, 0);
    assert_eq!(summary.splits.values().sum::<usize>(), 8);

    let out = cfg.output_dir.as_path();
    let records: Vec<PreferenceRecord> = read_lines(&out.join(AI_PREFERENCES))
        .into_iter()
        .map(|v| serde_json::from_value(v).unwrap())
        .collect();
    assert_eq!(records.len(), 5);
    for r in &records {
        assert!(r.chosen.starts_with("good"), "{r:?}");
        assert!(r.rejected.starts_with("bad"), "{r:?}");
        let judge = r.judge.as_ref().unwrap();
        // p_ab = 0.8 (good as A), p_ba = 0.3 (bad as A): p = ½(0.8 + 1 − 0.3) = 0.75.
        assert!((judge.chosen_score.unwrap() - 0.75).abs() < 1e-12);
        assert!((judge.rejected_score.unwrap() - 0.25).abs() < 1e-12);
        let explanation: Value = serde_json::from_str(judge.explanation.as_ref().unwrap()).unwrap();
        assert_eq!(explanation["p_ab"], 0.8);
        assert_eq!(explanation["p_ba"], 0.3);
        assert_eq!(r.principles.len(), 1);
        assert_eq!(explanation["per_principle"].as_array().unwrap().len(), 1);
        assert_eq!(r.source, "rl-cai");
    }

    for split in ["train", "test"] {
        let prompts = read_lines(&out.join(format!("{split}_prompts_with_chat_prompt.jsonl")));
        let comparisons =
            read_lines(&out.join(format!("{split}_comparisons_with_chat_prompt.jsonl")));
        assert_eq!(comparisons.len(), 2 * prompts.len());
        assert_eq!(summary.splits[split], prompts.len());
        for (prompt, pair) in prompts.iter().zip(comparisons.chunks(2)) {
            let prompt = prompt["text"].as_str().unwrap();
            for text in pair {
                let text = text["text"].as_str().unwrap();
                assert!(text.starts_with(prompt), "{text:?} continues {prompt:?}");
                assert!(
                    text.ends_with("\n<extra_id_1>"),
                    "one normalised ending: {text:?}"
                );
            }
        }
    }
    let summary_json: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary_json["counts"]["dropped"]["tie"], 1);
}

#[test]
fn a_rerun_after_a_torn_work_log_redoes_only_the_missing_prompts() {
    let dir = tempfile::tempdir().unwrap();
    write_prompts(&dir.path().join("prompts.jsonl"), 6);
    label(&config(dir.path(), Some(4)), &FakePolicy::default());
    // Simulate a kill mid-append: cut the last line (prompt p3) in half.
    let log = dir.path().join("out").join(WORK_LOG);
    let text = std::fs::read_to_string(&log).unwrap();
    let last_start = text.trim_end().rfind('\n').unwrap() + 1;
    std::fs::write(&log, &text[..last_start + (text.len() - last_start) / 2]).unwrap();

    let policy = FakePolicy::default();
    let summary = label(&config(dir.path(), None), &policy);
    let mut seen = policy.seen.lock().unwrap().clone();
    seen.dedup();
    assert_eq!(seen, ["question 3", "question 4", "question 5"]);
    assert_eq!(
        (summary.counts.prompts, summary.counts.prompts_resumed),
        (6, 3)
    );
    let keys: Vec<String> = read_lines(&log)
        .iter()
        .map(|v| v["key"].as_str().unwrap().to_string())
        .collect();
    let mut unique = keys.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        (keys.len(), unique.len()),
        (6, 6),
        "nothing lost, nothing duplicated"
    );
    assert_eq!(summary.counts.ai_records, 5);
}

#[test]
fn bad_inputs_are_named_before_any_model_loads() {
    let dir = tempfile::tempdir().unwrap();
    let prompts = dir.path().join("prompts.jsonl");
    std::fs::write(&prompts, "{\"prompt\": \"fine\"}\n{\"text\": 3}\n").unwrap();
    let err = cai_preference::read_inputs(&config(dir.path(), None))
        .unwrap_err()
        .to_string();
    assert!(err.contains("prompts.jsonl") && err.contains('2'), "{err}");

    std::fs::write(&prompts, "{\"prompt\": \"fine\"}\n{not json\n").unwrap();
    let err = cai_preference::read_inputs(&config(dir.path(), None))
        .unwrap_err()
        .to_string();
    assert!(err.contains("prompts.jsonl:2"), "{err}");

    let missing = Config {
        prompts_file: Some(dir.path().join("nope.jsonl")),
        ..Config::default()
    };
    let err = cai_preference::read_inputs(&missing)
        .unwrap_err()
        .to_string();
    assert!(err.contains("nope.jsonl"), "{err}");

    let constitution = dir.path().join("c.toml");
    std::fs::write(
        &constitution,
        "name = \"x\"\n[[critique_revision]]\nid = \"a\"\ncritique_request = \"c?\"\nrevision_request = \"r.\"\n",
    )
    .unwrap();
    std::fs::write(&prompts, "{\"prompt\": \"fine\"}\n").unwrap();
    let cfg = Config {
        constitution: vec![constitution],
        ..config(dir.path(), None)
    };
    let err = cai_preference::read_inputs(&cfg).unwrap_err().to_string();
    assert!(
        err.contains("c.toml") && err.contains("judging principles"),
        "{err}"
    );

    for (layer, expected) in [
        (
            serde_json::json!({"mode": "nemo"}),
            "needs --judge-endpoint",
        ),
        (serde_json::json!({"judge_endpoint": "x:1"}), "http://"),
        (
            serde_json::json!({"judge": "default", "judge_endpoint": "http://x"}),
            "give one judge",
        ),
        (
            serde_json::json!({"mode": "nemo", "judge_endpoint": "http://x", "few_shot": 2}),
            "few_shot",
        ),
    ] {
        let err = Config::load(None, layer.clone()).unwrap_err().to_string();
        assert!(err.contains(expected), "{layer}: {err}");
    }
    let cfg = Config {
        few_shot: 5,
        ..config(dir.path(), None)
    };
    let err = cai_preference::read_inputs(&cfg).unwrap_err().to_string();
    assert!(err.contains("5 demonstrations asked for"), "{err}");
}

#[test]
fn an_ensemble_judges_each_pair_under_distinct_principles() {
    let dir = tempfile::tempdir().unwrap();
    write_prompts(&dir.path().join("prompts.jsonl"), 2);
    let cfg = Config {
        ensemble: 3,
        ..config(dir.path(), None)
    };
    label(&cfg, &FakePolicy::default());
    for line in read_lines(&cfg.output_dir.join(WORK_LOG)) {
        for pair in line["pairs"].as_array().unwrap() {
            let mut ids: Vec<&str> = pair["principles"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap())
                .collect();
            assert_eq!(pair["per_principle"].as_array().unwrap().len(), 3);
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), 3, "distinct principles");
        }
    }
}
