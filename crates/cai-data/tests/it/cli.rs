//! The `cai-data` binary's contract: exit codes and output lines that scripts rely on.

use std::process::{Command, Output};

use crate::util::{Dir, fixture};

fn cai_data(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cai-data"))
        .args(args)
        .env("RUST_LOG", "off")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn validate_exits_zero_on_valid_files() {
    let d = Dir::new();
    let file = d.write(
        "p.jsonl",
        "{\"id\":\"a\",\"prompt\":\"x\"}\n{\"id\":\"b\",\"prompt\":\"y\",\"category\":\"c\"}\n",
    );
    let out = cai_data(&[
        "validate",
        file.to_str().unwrap(),
        "--schema",
        "red-team-prompt",
    ]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out), "");
}

#[test]
fn validate_prints_file_line_field_reason_and_exits_one() {
    let d = Dir::new();
    let file = d.write(
        "p.jsonl",
        "{\"id\":\"a\",\"prompt\":\"x\"}\n{\"id\":\"b\"}\n{\"id\":\"c\",\"prompt\":5}\nnot json\n{\"id\":\"d\",\"prompt\":\"ok\"}\n",
    );
    let f = file.to_str().unwrap();
    let out = cai_data(&["validate", f, "--schema", "red-team-prompt"]);
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!("{f}:2: (root): ")) && lines[0].contains("prompt"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with(&format!("{f}:3: prompt: ")),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with(&format!("{f}:4: (root): ")),
        "{}",
        lines[2]
    );
}

#[test]
fn validate_rejects_unknown_schemas_and_missing_files() {
    let d = Dir::new();
    let file = d.write("p.jsonl", "{}\n");
    assert_eq!(
        cai_data(&["validate", file.to_str().unwrap(), "--schema", "nope"])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        cai_data(&["validate", "/no/such/file.jsonl", "--schema", "preference"])
            .status
            .code(),
        Some(1)
    );
}

/// `cai-data convert --from hh-red-team --to prompts` of `records` (as `rt.jsonl` in `d`); the
/// output and the path written.
fn red_team_to_prompts(d: &Dir, records: &str) -> (Output, std::path::PathBuf) {
    let input = d.write("rt.jsonl", records);
    let output = d.path("prompts.jsonl");
    let out = cai_data(&[
        "convert",
        "--from",
        "hh-red-team",
        "--to",
        "prompts",
        input.to_str().unwrap(),
        output.to_str().unwrap(),
    ]);
    (out, output)
}

#[test]
fn convert_reports_written_and_skipped() {
    let d = Dir::new();
    let (out, output) = red_team_to_prompts(
        &d,
        "{\"transcript\":\"\\n\\nHuman: hi\\n\\nAssistant: hello\"}\n{\"transcript\":\"nothing\"}\n",
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        stdout(&out).trim(),
        "wrote 1 records, skipped 1 (no Human turn: 1)"
    );
    let nemo = d.path("rm");
    let pairs = d.path("pairs.jsonl");
    assert!(
        cai_data(&["corpus", "helpful-pairs", pairs.to_str().unwrap()])
            .status
            .success()
    );
    let out = cai_data(&[
        "convert",
        "--from",
        "preference",
        "--to",
        "nemo-rm",
        "--end",
        "bare",
        "--prefix",
        "train",
        pairs.to_str().unwrap(),
        nemo.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        nemo.join("train_comparisons_with_chat_prompt.jsonl")
            .exists()
    );
    assert!(nemo.join("train_prompts_with_chat_prompt.jsonl").exists());
    let bad = cai_data(&[
        "convert",
        "--from",
        "prompts",
        "--to",
        "trl",
        output.to_str().unwrap(),
        d.path("x").to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("cannot convert"));
}

#[test]
fn convert_exits_non_zero_when_every_record_is_skipped() {
    let d = Dir::new();
    let records = "{\"transcript\":\"nothing\"}\n{\"transcript\":\"still nothing\"}\n";
    let (out, _) = red_team_to_prompts(&d, records);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        stdout(&out).trim(),
        "wrote 0 records, skipped 2 (no Human turn: 2)"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("every record") && stderr.contains("rt.jsonl"),
        "{stderr}"
    );
}

#[test]
fn stats_counts_words_or_tokens() {
    let d = Dir::new();
    let file = d.write("p.jsonl", "{\"id\":\"a\",\"prompt\":\"one two three\"}\n{\"id\":\"b\",\"prompt\":\"four five\"}\nbroken\n");
    let out = cai_data(&["stats", file.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["records"], 2);
    assert_eq!(v["invalid"], 1);
    assert_eq!(v["unit"], "whitespace words");
    assert_eq!(v["fields"]["prompt"]["max"], 3);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no --tokenizer"));
    let tok = fixture("smollm2-tokenizer.json");
    let out = cai_data(&[
        "stats",
        file.to_str().unwrap(),
        "--tokenizer",
        tok.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).contains("unit: tokens"));
}

#[test]
fn corpus_and_constitution_commands() {
    let d = Dir::new();
    let out = d.path("benign.jsonl");
    let o = cai_data(&["corpus", "eval-benign", out.to_str().unwrap()]);
    assert!(o.status.success());
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 50);
    let o = cai_data(&["constitution"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("critique/revision principles: 16"));
}

#[test]
fn download_without_hub_gives_a_clear_error() {
    let d = Dir::new();
    let out = Command::new(env!("CARGO_BIN_EXE_cai-data"))
        .args([
            "download",
            "Anthropic/hh-rlhf",
            "red-team-attempts/red_team_attempts.jsonl.gz",
        ])
        .env("HF_ENDPOINT", "http://127.0.0.1:9")
        .env("HF_HOME", d.dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot fetch red-team-attempts/red_team_attempts.jsonl.gz from dataset Anthropic/hh-rlhf@main"), "{err}");
    assert!(err.contains("pass its local path"), "{err}");
}
