//! The binary's contract on bad input: a clear error naming the problem, before any model loads.

use std::process::Command;

fn cai_preference(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cai-preference"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_input_fails_fast_with_the_file_or_flag_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();
    let missing = dir.path().join("missing.jsonl");
    let (ok, err) = cai_preference(&["--prompts", missing.to_str().unwrap(), "--out", out]);
    assert!(!ok && err.contains("missing.jsonl"), "{err}");

    for (args, expected) in [
        (&["--mode", "nemo"][..], "needs --judge-endpoint"),
        (&["--mode", "tournament"][..], "tournament"),
        (
            &["--few-shot", "9"][..],
            "few_shot: 9 demonstrations asked for",
        ),
        (
            &["--judge-endpoint", "localhost:8000"][..],
            "judge_endpoint",
        ),
        (
            &[
                "--judge",
                "default",
                "--judge-endpoint",
                "http://127.0.0.1:1",
            ][..],
            "judge",
        ),
    ] {
        let mut all = vec!["--out", out];
        all.extend_from_slice(args);
        let (ok, err) = cai_preference(&all);
        assert!(!ok && err.contains(expected), "{args:?}: {err}");
    }
    let key_file = dir.path().join("missing-key.txt");
    let (ok, err) = cai_preference(&[
        "--out",
        out,
        "--judge-endpoint",
        "http://127.0.0.1:1",
        "--judge-api-key-file",
        key_file.to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("missing-key.txt"), "{err}");

    let pairs = dir.path().join("pairs.jsonl");
    std::fs::write(&pairs, "{\"prompt\": \"p\", \"good\": \"g\"}\n").unwrap();
    let (ok, err) = cai_preference(&["calibrate", "--pairs", pairs.to_str().unwrap()]);
    assert!(!ok && err.contains("pairs.jsonl:1"), "{err}");
    assert!(!dir.path().join("out").exists(), "nothing written");
}
