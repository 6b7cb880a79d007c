//! Atomic whole-file writes and append-only writes with a resume index.

use std::io::Write;

use cai_data::jsonl::{
    AtomicJsonl, JsonStyle, JsonlWriter, ReadOptions, read_records, write_jsonl_atomic,
};
use cai_data::{Message, PpoPrompt};

use crate::util::Dir;

fn prompt(i: usize) -> PpoPrompt {
    PpoPrompt {
        id: format!("q{i}"),
        history: vec![],
        prompt: format!("question {i}"),
        source: None,
    }
}

#[test]
fn atomic_write_replaces_the_whole_file() {
    let d = Dir::new();
    let path = d.path("out.jsonl");
    write_jsonl_atomic(&path, &[prompt(0), prompt(1)]).unwrap();
    write_jsonl_atomic(&path, &[prompt(2)]).unwrap();
    let back = read_records::<PpoPrompt>(&path, ReadOptions::strict())
        .unwrap()
        .collect_all()
        .unwrap();
    assert_eq!(back, vec![prompt(2)]);
    // No temporary files are left behind.
    let names: Vec<_> = std::fs::read_dir(d.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("out.jsonl")]);
}

#[test]
fn uncommitted_atomic_writer_leaves_the_old_file() {
    let d = Dir::new();
    let path = d.path("out.jsonl");
    write_jsonl_atomic(&path, &[prompt(0)]).unwrap();
    let before = d.read("out.jsonl");
    {
        let mut w = AtomicJsonl::create(&path, JsonStyle::Compact).unwrap();
        w.write(&prompt(9)).unwrap();
        assert_eq!(w.count(), 1);
        // Dropped without commit, as after a crash or an error.
    }
    assert_eq!(d.read("out.jsonl"), before);
    assert_eq!(std::fs::read_dir(d.dir.path()).unwrap().count(), 1);
}

#[test]
fn appends_are_indexed_and_survive_reopening() {
    let d = Dir::new();
    let path = d.path("log.jsonl");
    {
        let mut w = JsonlWriter::open(&path, Some("id")).unwrap();
        assert!(w.is_empty());
        w.append(&prompt(0)).unwrap();
        w.append(&prompt(1)).unwrap();
        assert_eq!(w.len(), 2);
        assert!(w.contains("q1"));
    }
    let mut w = JsonlWriter::open(&path, Some("id"))
        .unwrap()
        .with_sync_every(10);
    assert_eq!(w.len(), 2);
    assert!(w.contains("q0") && w.contains("q1") && !w.contains("q2"));
    w.append(&prompt(2)).unwrap();
    w.sync().unwrap();
    drop(w);
    let ids: Vec<String> = read_records::<PpoPrompt>(&path, ReadOptions::strict())
        .unwrap()
        .map(|r| r.unwrap().id)
        .collect();
    assert_eq!(ids, ["q0", "q1", "q2"]);
}

#[test]
fn a_torn_last_line_is_cut_off_on_resume() {
    let d = Dir::new();
    let path = d.path("log.jsonl");
    {
        let mut w = JsonlWriter::open(&path, Some("id")).unwrap();
        w.append(&prompt(0)).unwrap();
    }
    // Simulate a crash in the middle of the second append.
    let torn = b"{\"id\":\"q1\",\"prompt\":\"quest";
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(torn)
        .unwrap();
    let mut w = JsonlWriter::open(&path, Some("id")).unwrap();
    assert_eq!(w.index().truncated_bytes, torn.len() as u64);
    assert_eq!(w.len(), 1);
    assert!(!w.contains("q1"));
    w.append(&prompt(1)).unwrap();
    drop(w);
    let back = read_records::<PpoPrompt>(&path, ReadOptions::strict())
        .unwrap()
        .collect_all()
        .unwrap();
    assert_eq!(back, vec![prompt(0), prompt(1)]);
}

#[test]
fn a_complete_last_line_without_newline_is_kept() {
    let d = Dir::new();
    let path = d.write("log.jsonl", "{\"id\":\"x\",\"prompt\":\"p\"}");
    let mut w = JsonlWriter::open(&path, Some("id")).unwrap();
    assert_eq!((w.len(), w.index().truncated_bytes), (1, 0));
    w.append(&prompt(1)).unwrap();
    drop(w);
    assert_eq!(d.read("log.jsonl").lines().count(), 2);
}

#[test]
fn a_corrupt_complete_line_is_an_error_with_its_line() {
    let d = Dir::new();
    let path = d.write("log.jsonl", "{\"id\":\"x\",\"prompt\":\"p\"}\ngarbage\n");
    let err = JsonlWriter::open(&path, Some("id")).err().unwrap();
    assert!(
        err.to_string()
            .starts_with(&format!("{}:2:", path.display())),
        "{err}"
    );
}

#[test]
fn python_style_lines_match_json_dumps() {
    let d = Dir::new();
    let path = d.path("py.jsonl");
    let rec = PpoPrompt {
        id: "é".into(),
        history: vec![Message::user("hi")],
        prompt: "p".into(),
        source: None,
    };
    let mut w = JsonlWriter::open(&path, None)
        .unwrap()
        .with_style(JsonStyle::Python);
    w.append(&rec).unwrap();
    drop(w);
    assert_eq!(
        d.read("py.jsonl"),
        "{\"id\": \"\\u00e9\", \"history\": [{\"role\": \"user\", \"content\": \"hi\"}], \"prompt\": \"p\"}\n"
    );
}
