//! Property tests: JSONL/array round trips for arbitrary text, and no panic on arbitrary or mutated bytes.

use cai_data::jsonl::{JsonStyle, ReadOptions, read_records, read_records_from, to_json_line};
use cai_data::{Message, PreferenceRecord, Role};
use proptest::prelude::*;

use crate::util::{gzip, json_array};

fn text() -> impl Strategy<Value = String> {
    // Any Unicode, including quotes, backslashes, newlines, control characters and astral characters.
    proptest::string::string_regex("(?s).{0,40}").unwrap()
}

fn record() -> impl Strategy<Value = PreferenceRecord> {
    (
        text(),
        text(),
        text(),
        text(),
        proptest::collection::vec((any::<bool>(), text()), 0..3),
    )
        .prop_map(|(id, prompt, chosen, rejected, history)| PreferenceRecord {
            id,
            history: history
                .into_iter()
                .map(|(user, content)| {
                    Message::new(if user { Role::User } else { Role::Assistant }, content)
                })
                .collect(),
            prompt,
            chosen,
            rejected,
            principles: vec![],
            judge: None,
            source: "prop".into(),
        })
}

fn read_all(bytes: Vec<u8>) -> Vec<PreferenceRecord> {
    read_records_from::<PreferenceRecord>(
        "mem.jsonl",
        std::io::Cursor::new(bytes),
        ReadOptions::strict(),
    )
    .unwrap()
    .collect_all()
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn jsonl_round_trips(records in proptest::collection::vec(record(), 0..8), python in any::<bool>(), gz in any::<bool>()) {
        let style = if python { JsonStyle::Python } else { JsonStyle::Compact };
        let mut text = String::new();
        for r in &records {
            text.push_str(&to_json_line(r, style).unwrap());
            text.push('\n');
        }
        let bytes = if gz { gzip(text.as_bytes()) } else { text.into_bytes() };
        prop_assert_eq!(read_all(bytes), records);
    }

    #[test]
    fn array_round_trips(records in proptest::collection::vec(record(), 0..8)) {
        let values: Vec<serde_json::Value> = records.iter().map(|r| serde_json::to_value(r).unwrap()).collect();
        prop_assert_eq!(read_all(json_array(&values).into_bytes()), records.clone());
        prop_assert_eq!(read_all(serde_json::to_vec(&values).unwrap()), records);
    }

    #[test]
    fn writer_and_reader_agree_on_disk(records in proptest::collection::vec(record(), 0..6)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        cai_data::write_jsonl_atomic(&path, &records).unwrap();
        let back = read_records::<PreferenceRecord>(&path, ReadOptions::strict()).unwrap().collect_all().unwrap();
        prop_assert_eq!(back, records);
    }
}

/// Reads `bytes` in every policy; must never panic, and record errors must carry a line.
fn read_never_panics(bytes: &[u8]) {
    for options in [
        ReadOptions::strict(),
        ReadOptions::skip_bad(),
        ReadOptions::report().with_max_record_bytes(64),
    ] {
        let reader = std::io::Cursor::new(bytes.to_vec());
        let Ok(mut records) = read_records_from::<PreferenceRecord>("fuzz.jsonl", reader, options)
        else {
            continue;
        };
        let mut steps = 0;
        while let Some(item) = records.next_with_line() {
            if let Err(cai_data::Error::Record { line, .. }) = &item {
                assert!(*line >= 1);
            }
            steps += 1;
            assert!(steps <= bytes.len() + 2, "reader does not make progress");
        }
        let _ = records.skipped();
    }
}

fn seed_corpus() -> Vec<Vec<u8>> {
    let good =
        "{\"id\":\"a\",\"prompt\":\"p\",\"chosen\":\"c\",\"rejected\":\"r\",\"source\":\"s\"}";
    vec![
        format!("{good}\n{good}\n").into_bytes(),
        format!("[{good},\n{good}]").into_bytes(),
        gzip(format!("{good}\n").as_bytes()),
        b"[\"a\\\"],[\"".to_vec(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        read_never_panics(&bytes);
    }

    #[test]
    fn mutated_records_never_panic(
        seed in 0usize..4,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..8),
    ) {
        let mut bytes = seed_corpus()[seed].clone();
        for (pos, byte, op) in edits {
            let at = if bytes.is_empty() { 0 } else { pos % bytes.len() };
            match op {
                0 if !bytes.is_empty() => bytes[at] = byte,
                1 => bytes.insert(at, byte),
                _ if !bytes.is_empty() => { bytes.remove(at); }
                _ => bytes.push(byte),
            }
        }
        read_never_panics(&bytes);
    }
}
