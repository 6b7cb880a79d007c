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

    for (flag, value) in [
        ("--mode", "cot"),
        ("--judge-endpoint", "http://127.0.0.1:1"),
    ] {
        let (ok, err) = cai_preference(&["--out", out, flag, value]);
        assert!(!ok && err.contains("not implemented yet"), "{flag}: {err}");
    }

    let pairs = dir.path().join("pairs.jsonl");
    std::fs::write(&pairs, "{\"prompt\": \"p\", \"good\": \"g\"}\n").unwrap();
    let (ok, err) = cai_preference(&["calibrate", "--pairs", pairs.to_str().unwrap()]);
    assert!(!ok && err.contains("pairs.jsonl:1"), "{err}");
    assert!(!dir.path().join("out").exists(), "nothing written");
}
