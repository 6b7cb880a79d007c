//! Converters: hh-rlhf extraction with drop counts, and round trips through every format.

use cai_data::convert::{self, ConvertOptions, ConvertReport, Format, TrlKeys};
use cai_data::jsonl::{ReadOptions, read_records};
use cai_data::template::{EndStyle, PromptTemplate};
use cai_data::{ChatSample, Message, PreferenceRecord, RedTeamPrompt, corpus};
use serde_json::json;

use crate::util::{Dir, jsonl, read_values};

fn run(
    from: Format,
    to: Format,
    input: &std::path::Path,
    output: &std::path::Path,
) -> ConvertReport {
    convert::convert(from, to, input, output, &ConvertOptions::nemo_defaults()).unwrap()
}

fn read<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Vec<T> {
    read_records(path, ReadOptions::strict())
        .unwrap()
        .collect_all()
        .unwrap()
}

/// The parts of a preference that every format keeps.
fn content(p: &PreferenceRecord) -> (Vec<Message>, String, String, String) {
    (
        p.history.clone(),
        p.prompt.clone(),
        p.chosen.clone(),
        p.rejected.clone(),
    )
}

fn sample_pairs() -> Vec<PreferenceRecord> {
    let mut pairs = corpus::helpful_pairs();
    assert!(
        pairs.iter().any(|p| !p.history.is_empty()),
        "the corpus has a multi-turn pair"
    );
    pairs.truncate(120);
    pairs
}

#[test]
fn red_team_attempts_take_the_first_human_turn_and_count_drops() {
    let d = Dir::new();
    let lines = [
        json!({"transcript": "\n\nHuman: How do I pick a lock?\n\nAssistant: Why?\n\nHuman: curious\n\nAssistant: no", "rating": 2}),
        json!({"transcript": "\n\nHuman:   Where is the bank?  \n\nAssistant: Which one?"}),
        json!({"transcript": "\n\nHuman: only a human turn"}),
        json!({"transcript": "\n\nAssistant: assistant first\n\nHuman: then human"}),
        json!({"transcript": "no markers at all"}),
        json!({"text": "wrong key"}),
    ];
    let mut text = jsonl(&lines);
    text.push_str("{broken json\n");
    let input = d.write_gz("red_team_attempts.jsonl.gz", text);
    let report = run(
        Format::HhRedTeam,
        Format::Prompts,
        &input,
        &d.path("prompts.jsonl"),
    );
    let prompts: Vec<RedTeamPrompt> = read(&d.path("prompts.jsonl"));
    assert_eq!(
        prompts
            .iter()
            .map(|p| p.prompt.as_str())
            .collect::<Vec<_>>(),
        ["How do I pick a lock?", "Where is the bank?"]
    );
    assert_eq!(prompts[0].id, "red_team_attempts-000000");
    assert_eq!(prompts[0].source.as_deref(), Some("red_team_attempts"));
    assert_eq!(report.written, 2);
    assert_eq!(report.skipped_total(), 5);
    assert_eq!(
        report.skipped.get("no Assistant turn after the Human turn"),
        Some(&2)
    );
    assert_eq!(report.skipped.get("no Human turn"), Some(&1));
    assert_eq!(report.skipped.get("invalid record (shape)"), Some(&1));
    assert_eq!(report.skipped.get("invalid record (syntax)"), Some(&1));
    let shown = report.to_string();
    assert!(shown.starts_with("wrote 2 records, skipped 5 ("), "{shown}");
}

#[test]
fn strict_mode_fails_on_the_first_dropped_record() {
    let d = Dir::new();
    let input = d.write("rt.jsonl", jsonl(&[json!({"transcript": "no markers"})]));
    let options = ConvertOptions {
        strict: true,
        ..ConvertOptions::nemo_defaults()
    };
    let err = convert::convert(
        Format::HhRedTeam,
        Format::Prompts,
        &input,
        &d.path("o.jsonl"),
        &options,
    )
    .unwrap_err();
    assert!(err.to_string().contains("no Human turn"), "{err}");
    assert!(!d.path("o.jsonl").exists(), "nothing is written on failure");
}

#[test]
fn hh_pairs_parse_multi_turn_and_drop_malformed_pairs() {
    let d = Dir::new();
    let ok = json!({"chosen": "\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: 2+2?\n\nAssistant: 4.",
                    "rejected": "\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: 2+2?\n\nAssistant: 5."});
    let mismatch = json!({"chosen": "\n\nHuman: A\n\nAssistant: x", "rejected": "\n\nHuman: B\n\nAssistant: y"});
    let empty =
        json!({"chosen": "\n\nHuman: A\n\nAssistant:", "rejected": "\n\nHuman: A\n\nAssistant: y"});
    let doubled = json!({"chosen": "\n\nHuman: A\n\nAssistant: x\n\nAssistant: z", "rejected": "\n\nHuman: A\n\nAssistant: y"});
    let input = d.write("helpful-base.jsonl", jsonl(&[ok, mismatch, empty, doubled]));
    let report = run(
        Format::HhPairs,
        Format::Preference,
        &input,
        &d.path("p.jsonl"),
    );
    assert_eq!(report.written, 1);
    assert_eq!(
        report.skipped.get("chosen and rejected prompts differ"),
        Some(&1)
    );
    assert_eq!(
        report.skipped.get("malformed Human/Assistant turn"),
        Some(&2)
    );
    let p: Vec<PreferenceRecord> = read(&d.path("p.jsonl"));
    assert_eq!(
        p[0].history,
        vec![Message::user("Hi"), Message::assistant("Hello!")]
    );
    assert_eq!(
        (
            p[0].prompt.as_str(),
            p[0].chosen.as_str(),
            p[0].rejected.as_str()
        ),
        ("2+2?", "4.", "5.")
    );
    // harmless-base → prompts: the first human turn.
    run(Format::HhPairs, Format::Prompts, &input, &d.path("q.jsonl"));
    let q: Vec<RedTeamPrompt> = read(&d.path("q.jsonl"));
    assert_eq!(q[0].prompt, "Hi");
}

#[test]
fn preference_round_trips_through_every_preference_format() {
    let d = Dir::new();
    let pairs = sample_pairs();
    let input = d.path("pairs.jsonl");
    cai_data::write_jsonl_atomic(&input, &pairs).unwrap();
    for (via, options) in [
        (Format::HhPairs, ConvertOptions::nemo_defaults()),
        (Format::NemoRm, ConvertOptions::nemo_defaults()),
        (
            Format::NemoRm,
            ConvertOptions {
                end_style: EndStyle::Bare,
                ..ConvertOptions::nemo_defaults()
            },
        ),
        (
            Format::NemoRm,
            ConvertOptions {
                template: PromptTemplate::mistral(),
                ..ConvertOptions::nemo_defaults()
            },
        ),
        (
            Format::NemoRm,
            ConvertOptions {
                template: PromptTemplate::smollm2(),
                ..ConvertOptions::nemo_defaults()
            },
        ),
        (
            Format::Trl,
            ConvertOptions {
                trl_messages: true,
                ..ConvertOptions::nemo_defaults()
            },
        ),
        (
            Format::Trl,
            ConvertOptions {
                trl_keys: TrlKeys {
                    prompt: "input".into(),
                    chosen: "good".into(),
                    rejected: "bad".into(),
                },
                trl_messages: true,
                ..ConvertOptions::nemo_defaults()
            },
        ),
    ] {
        let mid = d.path(&format!("mid-{via}"));
        let _ = std::fs::remove_dir_all(&mid);
        let there = convert::convert(Format::Preference, via, &input, &mid, &options).unwrap();
        assert_eq!(
            (there.written, there.skipped_total()),
            (pairs.len() as u64, 0),
            "{via}"
        );
        let back_path = d.path("back.jsonl");
        let back = convert::convert(via, Format::Preference, &mid, &back_path, &options).unwrap();
        assert_eq!(
            (back.written, back.skipped_total()),
            (pairs.len() as u64, 0),
            "{via}: {back}"
        );
        let got: Vec<PreferenceRecord> = read(&back_path);
        let want: Vec<_> = pairs.iter().map(content).collect();
        assert_eq!(
            got.iter().map(content).collect::<Vec<_>>(),
            want,
            "round trip through {via}"
        );
    }
}

#[test]
fn trl_string_mode_skips_multi_turn_and_reads_all_layouts() {
    let d = Dir::new();
    let input = d.path("pairs.jsonl");
    let pairs = sample_pairs();
    cai_data::write_jsonl_atomic(&input, &pairs).unwrap();
    let report = run(
        Format::Preference,
        Format::Trl,
        &input,
        &d.path("trl.jsonl"),
    );
    let multi = pairs.iter().filter(|p| !p.history.is_empty()).count() as u64;
    assert_eq!(
        report
            .skipped
            .get("multi-turn prompt needs message lists (--messages)"),
        Some(&multi)
    );
    let first = &read_values(&d.path("trl.jsonl"))[0];
    assert_eq!(
        first,
        &json!({"prompt": pairs[0].prompt, "chosen": pairs[0].chosen, "rejected": pairs[0].rejected, "id": pairs[0].id})
    );

    let u = |c: &str| json!({"role": "user", "content": c});
    let a = |c: &str| json!({"role": "assistant", "content": c});
    let lines = [
        json!({"prompt": "p1", "chosen": "c1", "rejected": "r1"}),
        json!({"prompt": [u("p2")], "chosen": [a("c2")], "rejected": [a("r2")]}),
        json!({"chosen": [u("h"), a("x"), u("p3"), a("c3")], "rejected": [u("h"), a("x"), u("p3"), a("r3")]}),
        json!({"chosen": "implicit strings", "rejected": "are ambiguous"}),
        json!({"chosen": [u("a"), a("c")], "rejected": [u("b"), a("r")]}),
        json!({"prompt": "p", "chosen": 5, "rejected": "r"}),
    ];
    let trl = d.write("trl-in.jsonl", jsonl(&lines));
    let report = run(Format::Trl, Format::Preference, &trl, &d.path("p.jsonl"));
    assert_eq!((report.written, report.skipped_total()), (3, 3), "{report}");
    let got: Vec<PreferenceRecord> = read(&d.path("p.jsonl"));
    assert_eq!(
        got[2].history,
        vec![Message::user("h"), Message::assistant("x")]
    );
    assert_eq!(
        (
            got[2].prompt.as_str(),
            got[2].chosen.as_str(),
            got[2].rejected.as_str()
        ),
        ("p3", "c3", "r3")
    );
}

#[test]
fn nemo_rm_reading_drops_bad_pairs_without_shifting_later_ones() {
    let d = Dir::new();
    let t = PromptTemplate::extra_id();
    let full =
        |p: &str, r: &str| json!({"text": t.render_full(&[], p, r, EndStyle::Newline).unwrap()});
    let mut text = jsonl(&[full("p1", "c1"), full("p1", "r1")]);
    text.push_str("{not json\n");
    text.push_str(&jsonl(&[
        full("p2", "r2"),
        full("p3", "c3"),
        full("other", "r3"),
        full("p4", "c4"),
        json!({"text": "no template here"}),
        full("p5", "c5"),
    ]));
    let dir = d.path("rm");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("train_comparisons_with_chat_prompt.jsonl"), text).unwrap();
    std::fs::write(dir.join("train_prompts_with_chat_prompt.jsonl"), "").unwrap();
    let report = run(Format::NemoRm, Format::Preference, &dir, &d.path("p.jsonl"));
    let got: Vec<PreferenceRecord> = read(&d.path("p.jsonl"));
    assert_eq!(
        got.iter().map(|p| p.prompt.as_str()).collect::<Vec<_>>(),
        ["p1"]
    );
    assert_eq!(report.skipped.get("invalid record (syntax)"), Some(&1));
    assert_eq!(
        report.skipped.get("chosen and rejected prompts differ"),
        Some(&1)
    );
    assert_eq!(
        report
            .skipped
            .get("no response marker (response_extract_pattern) in the text"),
        Some(&1)
    );
    assert_eq!(
        report.skipped.get("unpaired last comparison line"),
        Some(&1)
    );
}

#[test]
fn nemo_chat_and_hf_messages_round_trip() {
    let d = Dir::new();
    let mut chats = corpus::helpful_chats();
    chats.truncate(50);
    chats[0].system = "Be brief.".into();
    let input = d.path("chat.jsonl");
    cai_data::write_jsonl_atomic(&input, &chats).unwrap();
    let report = run(
        Format::NemoChat,
        Format::HfMessages,
        &input,
        &d.path("hf.jsonl"),
    );
    assert_eq!(report.written, 50);
    let hf = read_values(&d.path("hf.jsonl"));
    assert_eq!(
        hf[0]["messages"][0],
        json!({"role": "system", "content": "Be brief."})
    );
    assert_eq!(hf[0]["messages"][1]["role"], "user");
    let options = ConvertOptions {
        source: Some("cai-rs-helpful".into()),
        ..ConvertOptions::nemo_defaults()
    };
    convert::convert(
        Format::HfMessages,
        Format::NemoChat,
        &d.path("hf.jsonl"),
        &d.path("back.jsonl"),
        &options,
    )
    .unwrap();
    let back: Vec<ChatSample> = read(&d.path("back.jsonl"));
    assert_eq!(back, chats);
}

#[test]
fn prompts_and_red_team_transcripts_round_trip() {
    let d = Dir::new();
    let prompts = corpus::red_team_prompts();
    let input = d.path("prompts.jsonl");
    cai_data::write_jsonl_atomic(&input, &prompts).unwrap();
    run(
        Format::Prompts,
        Format::HhRedTeam,
        &input,
        &d.path("rt.jsonl"),
    );
    let report = run(
        Format::HhRedTeam,
        Format::Prompts,
        &d.path("rt.jsonl"),
        &d.path("back.jsonl"),
    );
    assert_eq!(report.written, prompts.len() as u64);
    let back: Vec<RedTeamPrompt> = read(&d.path("back.jsonl"));
    assert_eq!(
        back.iter().map(|p| &p.prompt).collect::<Vec<_>>(),
        prompts.iter().map(|p| &p.prompt).collect::<Vec<_>>()
    );
}

#[test]
fn preferences_become_chats_and_prompts() {
    let d = Dir::new();
    let pairs = sample_pairs();
    let input = d.path("pairs.jsonl");
    cai_data::write_jsonl_atomic(&input, &pairs).unwrap();
    run(
        Format::Preference,
        Format::NemoChat,
        &input,
        &d.path("chat.jsonl"),
    );
    let chats: Vec<ChatSample> = read(&d.path("chat.jsonl"));
    let last = chats[0].conversations.last().unwrap();
    assert_eq!(
        (last.from.as_str(), last.value.as_str()),
        ("Assistant", pairs[0].chosen.as_str())
    );
    run(
        Format::NemoChat,
        Format::Prompts,
        &d.path("chat.jsonl"),
        &d.path("prompts.jsonl"),
    );
    let prompts: Vec<RedTeamPrompt> = read(&d.path("prompts.jsonl"));
    assert_eq!(prompts[0].prompt, pairs[0].prompt);
}

#[test]
fn impossible_conversions_are_refused_up_front() {
    let d = Dir::new();
    let input = d.write("p.jsonl", "");
    for (from, to) in [
        (Format::Prompts, Format::Preference),
        (Format::NemoChat, Format::NemoRm),
        (Format::HhRedTeam, Format::NemoChat),
    ] {
        let err = convert::convert(
            from,
            to,
            &input,
            &d.path("o"),
            &ConvertOptions::nemo_defaults(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("cannot convert"), "{err}");
    }
    assert!("no-such-format".parse::<Format>().is_err());
    for f in Format::ALL {
        assert_eq!(f.name().parse::<Format>().unwrap(), f);
    }
}
