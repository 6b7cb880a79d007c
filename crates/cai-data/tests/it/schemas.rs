//! JSON Schemas: every example in data-schemas/examples validates (or fails) as labelled, matches the Rust type,
//! and the built-in corpus validates against its schema.

use std::path::{Path, PathBuf};

use cai_data::jsonl::{ReadOptions, read_records};
use cai_data::schema::{SCHEMAS, Schema};
use cai_data::{
    CandidateSet, ChatSample, PpoPrompt, PreferenceRecord, RedTeamPrompt, SlCaiTrace, TextLine,
    corpus,
};
use serde::de::DeserializeOwned;

use crate::util::Dir;

fn examples(name: &str, kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../data-schemas/examples/{name}.{kind}.jsonl"))
}

fn deserializes<T: DeserializeOwned>(path: &Path) -> bool {
    read_records::<T>(path, ReadOptions::strict())
        .unwrap()
        .collect_all()
        .is_ok()
}

#[test]
fn valid_examples_pass_and_invalid_ones_fail_record_by_record() {
    for (name, _) in SCHEMAS {
        let schema = Schema::load(name).unwrap();
        let valid = schema.validate_file(&examples(name, "valid")).unwrap();
        assert!(
            valid.records > 0 && valid.errors.is_empty(),
            "{name}: {:?}",
            valid.errors
        );
        let invalid = schema.validate_file(&examples(name, "invalid")).unwrap();
        assert!(invalid.records > 0, "{name}");
        assert_eq!(
            invalid.errors.len() as u64,
            invalid.records,
            "{name}: every invalid example must fail"
        );
    }
}

#[test]
fn valid_examples_deserialize_into_the_rust_types() {
    let check = |name: &str, ok: bool| assert!(ok, "{name} valid examples do not deserialize");
    check(
        "red-team-prompt",
        deserializes::<RedTeamPrompt>(&examples("red-team-prompt", "valid")),
    );
    check(
        "chat-sample",
        deserializes::<ChatSample>(&examples("chat-sample", "valid")),
    );
    check(
        "sl-cai-trace",
        deserializes::<SlCaiTrace>(&examples("sl-cai-trace", "valid")),
    );
    check(
        "candidate-set",
        deserializes::<CandidateSet>(&examples("candidate-set", "valid")),
    );
    check(
        "preference",
        deserializes::<PreferenceRecord>(&examples("preference", "valid")),
    );
    check(
        "ppo-prompt",
        deserializes::<PpoPrompt>(&examples("ppo-prompt", "valid")),
    );
    check(
        "nemo-rm-comparison",
        deserializes::<TextLine>(&examples("nemo-rm-comparison", "valid")),
    );
}

#[test]
fn rust_types_reject_what_the_schemas_reject_structurally() {
    // Missing required fields and unknown fields fail in both.
    assert!(!deserializes::<PreferenceRecord>(&examples(
        "preference",
        "invalid"
    )));
    assert!(!deserializes::<RedTeamPrompt>(&examples(
        "red-team-prompt",
        "invalid"
    )));
    assert!(!deserializes::<PpoPrompt>(&examples(
        "ppo-prompt",
        "invalid"
    )));
}

#[test]
fn violations_name_the_field() {
    let d = Dir::new();
    let path = d.write(
        "chat.jsonl",
        "{\"system\":\"\",\"mask\":\"User\",\"dataset\":\"d\",\"conversations\":[{\"from\":\"User\",\"value\":1}]}\n",
    );
    let report = Schema::load("chat-sample")
        .unwrap()
        .validate_file(&path)
        .unwrap();
    let msg = report.errors[0].to_string();
    assert!(
        msg.starts_with(&format!("{}:1: conversations[0].value: ", path.display())),
        "{msg}"
    );
}

#[test]
fn corpus_records_satisfy_their_schemas() {
    let d = Dir::new();
    let files = [
        (
            "red-team-prompt",
            serde_json::to_value(corpus::red_team_prompts()).unwrap(),
        ),
        (
            "red-team-prompt",
            serde_json::to_value(corpus::eval_red_team()).unwrap(),
        ),
        (
            "red-team-prompt",
            serde_json::to_value(corpus::eval_benign()).unwrap(),
        ),
        (
            "chat-sample",
            serde_json::to_value(corpus::helpful_chats()).unwrap(),
        ),
        (
            "preference",
            serde_json::to_value(corpus::helpful_pairs()).unwrap(),
        ),
    ];
    for (i, (name, array)) in files.iter().enumerate() {
        let path = d.write(&format!("{i}.json"), array.to_string());
        let report = Schema::load(name).unwrap().validate_file(&path).unwrap();
        assert!(
            report.records >= 50 && report.errors.is_empty(),
            "{name}: {:?}",
            report.errors
        );
    }
}

#[test]
fn schema_files_on_disk_load_by_path() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data-schemas/preference.json");
    assert!(Schema::load(path.to_str().unwrap()).is_ok());
    assert!(Schema::load("not-a-schema").is_err());
}
