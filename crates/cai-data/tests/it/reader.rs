//! The streaming reader: four file shapes, error locations, skip/report policies, malformed input.

use cai_data::jsonl::{ReadOptions, read_records};
use cai_data::{Error, RedTeamPrompt};
use serde_json::json;

use crate::util::{Dir, json_array, jsonl};

fn prompts() -> Vec<serde_json::Value> {
    (0..5).map(|i| json!({"id": format!("p{i}"), "prompt": format!("prompt number {i}\nwith a newline")})).collect()
}

fn ids(path: &std::path::Path) -> Vec<String> {
    read_records::<RedTeamPrompt>(path, ReadOptions::strict())
        .unwrap()
        .map(|r| r.unwrap().id)
        .collect()
}

#[test]
fn all_four_shapes_give_the_same_records() {
    let d = Dir::new();
    let values = prompts();
    let expected: Vec<String> = (0..5).map(|i| format!("p{i}")).collect();
    let files = [
        d.write("a.jsonl", jsonl(&values)),
        d.write("b.json", json_array(&values)),
        d.write_gz("c.jsonl.gz", jsonl(&values)),
        d.write_gz("d.json.gz", json_array(&values)),
        // Compressed data with a misleading name is still detected.
        d.write_gz("e.jsonl", jsonl(&values)),
    ];
    for f in &files {
        assert_eq!(ids(f), expected, "{}", f.display());
    }
    let array = read_records::<RedTeamPrompt>(&files[1], ReadOptions::strict()).unwrap();
    assert!(array.is_array());
}

#[test]
fn tolerates_bom_crlf_blank_lines_and_empty_files() {
    let d = Dir::new();
    let text =
        "\u{feff}{\"id\":\"a\",\"prompt\":\"x\"}\r\n\r\n   \n{\"id\":\"b\",\"prompt\":\"y\"}";
    assert_eq!(ids(&d.write("a.jsonl", text)), ["a", "b"]);
    assert!(ids(&d.write("empty.jsonl", "")).is_empty());
    assert!(ids(&d.write("empty.json", " [ ] \n")).is_empty());
}

#[test]
fn line_numbers_count_blank_lines_and_array_layout() {
    let d = Dir::new();
    let path = d.write(
        "a.jsonl",
        "{\"id\":\"a\",\"prompt\":\"x\"}\n\n{\"id\":\"b\",\"prompt\":\"y\"}\n",
    );
    let mut records = read_records::<RedTeamPrompt>(&path, ReadOptions::strict()).unwrap();
    assert_eq!(records.next_with_line().unwrap().unwrap().0, 1);
    assert_eq!(records.next_with_line().unwrap().unwrap().0, 3);
    let path = d.write("b.json", json_array(&prompts()[..2]));
    let mut records = read_records::<RedTeamPrompt>(&path, ReadOptions::strict()).unwrap();
    assert_eq!(records.next_with_line().unwrap().unwrap().0, 2);
    assert_eq!(records.next_with_line().unwrap().unwrap().0, 6);
}

/// Reads `text` in report mode and returns the rendered errors.
fn errors_of(d: &Dir, name: &str, text: impl AsRef<[u8]>) -> Vec<String> {
    let path = d.write(name, text);
    read_records::<RedTeamPrompt>(&path, ReadOptions::report().with_max_record_bytes(1000))
        .unwrap()
        .filter_map(|r| r.err())
        .map(|e| e.to_string())
        .collect()
}

#[test]
fn malformed_lines_name_file_line_and_field() {
    let d = Dir::new();
    let mut text = Vec::new();
    text.extend_from_slice(b"{\"id\":\"ok\",\"prompt\":\"fine\"}\n"); // 1
    text.extend_from_slice(b"{\"id\":\"trunc\",\"prompt\":\"no end\n"); // 2: truncated
    text.extend_from_slice(b"{\"id\":7,\"prompt\":\"x\"}\n"); // 3: wrong type
    text.extend_from_slice(b"{\"id\":\"bad\",\"prompt\":\"\xff\xfe\"}\n"); // 4: bad UTF-8
    text.extend_from_slice(b"{\"id\":\"missing\"}\n"); // 5: missing field
    let huge = format!("{{\"id\":\"huge\",\"prompt\":\"{}\"}}", "x".repeat(5000));
    text.extend_from_slice(format!("{huge}\n").as_bytes()); // 6: longer than the limit
    text.extend_from_slice(b"\"just a string\"\n"); // 7: wrong shape
    text.extend_from_slice(b"{\"id\":\"a\",\"prompt\":\"b\"} trailing\n"); // 8
    text.extend_from_slice(b"{\"id\":\"last\",\"prompt\":\"fine\"}\n"); // 9
    let errs = errors_of(&d, "bad.jsonl", &text);
    let file = d.path("bad.jsonl").display().to_string();
    assert_eq!(errs.len(), 7, "{errs:#?}");
    let expect_prefix = [
        format!("{file}:2: prompt: EOF while parsing a string"),
        format!("{file}:3: id: invalid type: integer `7`, expected a string"),
        format!("{file}:4: (root): invalid UTF-8 at byte"),
        format!("{file}:5: (root): missing field `prompt`"),
        format!(
            "{file}:6: (root): line is {} bytes, longer than the limit of 1000 bytes",
            huge.len()
        ),
        format!(
            "{file}:7: (root): invalid type: string \"just a string\", expected struct RedTeamPrompt"
        ),
        format!("{file}:8: (root): trailing characters"),
    ];
    for (err, prefix) in errs.iter().zip(&expect_prefix) {
        assert!(
            err.starts_with(prefix.as_str()),
            "{err:?} does not start with {prefix:?}"
        );
    }
}

#[test]
fn nested_field_paths_are_reported() {
    let d = Dir::new();
    let path = d.write(
        "chat.jsonl",
        "{\"system\":\"\",\"mask\":\"User\",\"dataset\":\"d\",\"conversations\":[{\"from\":\"User\",\"value\":\"a\"},{\"from\":3,\"value\":\"b\"}]}\n",
    );
    let err = read_records::<cai_data::ChatSample>(&path, ReadOptions::strict())
        .unwrap()
        .next()
        .unwrap()
        .unwrap_err();
    match err {
        Error::Record {
            line, field, kind, ..
        } => {
            assert_eq!(
                (line, field.as_str(), kind),
                (1, "conversations[1].from", "shape")
            );
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn skip_mode_counts_bad_records_and_keeps_good_ones() {
    let d = Dir::new();
    let path = d.write(
        "mixed.jsonl",
        "{\"id\":\"a\",\"prompt\":\"x\"}\nnot json\n{\"id\":1}\n{\"id\":\"b\",\"prompt\":\"y\"}\n",
    );
    let mut records = read_records::<RedTeamPrompt>(&path, ReadOptions::skip_bad()).unwrap();
    let got: Vec<String> = records.by_ref().map(|r| r.unwrap().id).collect();
    assert_eq!(got, ["a", "b"]);
    let skipped = records.skipped();
    assert_eq!(skipped.total, 2);
    assert_eq!(skipped.by_kind.get("syntax"), Some(&1));
    assert_eq!(skipped.by_kind.get("shape"), Some(&1));
    assert_eq!(skipped.examples.len(), 2);
}

#[test]
fn strict_mode_stops_at_the_first_error() {
    let d = Dir::new();
    let path = d.write(
        "s.jsonl",
        "{\"id\":\"a\",\"prompt\":\"x\"}\nbad\n{\"id\":\"b\",\"prompt\":\"y\"}\n",
    );
    let results: Vec<_> = read_records::<RedTeamPrompt>(&path, ReadOptions::strict())
        .unwrap()
        .collect();
    assert_eq!(results.len(), 2);
    assert!(results[1].is_err());
    assert!(
        read_records::<RedTeamPrompt>(&path, ReadOptions::strict())
            .unwrap()
            .collect_all()
            .is_err()
    );
}

#[test]
fn array_elements_are_checked_one_by_one() {
    let d = Dir::new();
    let text = "[\n  {\"id\":\"a\",\"prompt\":\"x\"},\n  {\"id\":2,\"prompt\":\"x\"},\n  {\"id\":\"c\",\"prompt\":\"z\"}\n]\n";
    let path = d.write("a.json", text);
    let mut records = read_records::<RedTeamPrompt>(&path, ReadOptions::skip_bad()).unwrap();
    let got: Vec<String> = records.by_ref().map(|r| r.unwrap().id).collect();
    assert_eq!(got, ["a", "c"]);
    let err = records.skipped().examples[0].to_string();
    assert!(
        err.starts_with(&format!("{}:3: id:", path.display())),
        "{err}"
    );
}

#[test]
fn broken_array_structure_is_fatal_with_a_line() {
    let d = Dir::new();
    for (name, text, needle) in [
        (
            "trunc.json",
            "[\n{\"id\":\"a\",\"prompt\":\"x\"},\n{\"id\":\"b\",",
            "unexpected end of file",
        ),
        (
            "open.json",
            "[\n{\"id\":\"a\",\"prompt\":\"x\"}",
            "unexpected end of file",
        ),
        (
            "trail.json",
            "[{\"id\":\"a\",\"prompt\":\"x\"}] junk",
            "trailing characters",
        ),
        ("unbalanced.json", "[{\"id\":\"a\"}}]", "unbalanced"),
    ] {
        let path = d.write(name, text);
        let errs: Vec<Error> = read_records::<RedTeamPrompt>(&path, ReadOptions::skip_bad())
            .unwrap()
            .filter_map(|r| r.err())
            .collect();
        assert_eq!(errs.len(), 1, "{name}: {errs:?}");
        assert!(
            matches!(&errs[0], Error::Structure { .. }),
            "{name}: {}",
            errs[0]
        );
        assert!(errs[0].to_string().contains(needle), "{name}: {}", errs[0]);
        assert!(errs[0].to_string().starts_with(&path.display().to_string()));
    }
}

#[test]
fn corrupt_gzip_is_a_structure_error() {
    let d = Dir::new();
    let mut gz = crate::util::gzip(jsonl(&prompts()).as_bytes());
    let n = gz.len();
    gz.truncate(n / 2);
    let path = d.write("cut.jsonl.gz", gz);
    let results: Vec<_> = read_records::<RedTeamPrompt>(&path, ReadOptions::skip_bad())
        .unwrap()
        .collect();
    let last = results.last().unwrap();
    assert!(matches!(last, Err(Error::Structure { .. })), "{last:?}");
}

#[test]
fn missing_file_names_the_path() {
    let err = read_records::<RedTeamPrompt>("/definitely/not/here.jsonl", ReadOptions::strict())
        .err()
        .unwrap();
    assert!(
        err.to_string().starts_with("/definitely/not/here.jsonl: "),
        "{err}"
    );
}
