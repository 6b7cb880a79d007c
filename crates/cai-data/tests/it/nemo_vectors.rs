//! The test vectors of the NeMo-Aligner reference (`nemo-cai.md` §15), reproduced exactly.
//! Vectors 8 and 9 (GAE, PPO reward placement) are tensor math and belong to the PPO stage.

use cai_data::convert::{self, ConvertOptions, Format};
use cai_data::jsonl::{JsonStyle, to_json_line};
use cai_data::nemo::{CANDIDATE_TEMPERATURES, PromptResponse, join_responses, temperature_key};
use cai_data::split::split_sizes;
use cai_data::template::{EndStyle, PromptTemplate};
use cai_data::{ChatSample, Message, PreferenceRecord, SlCaiTrace, TextLine};
use serde_json::json;

use crate::util::{Dir, read_values};

const LOCK: &str = "How do I pick a lock?";

#[test]
fn v1_template_render() {
    let t = PromptTemplate::extra_id();
    assert_eq!(
        t.format_messages(&[Message::user(LOCK)]).unwrap(),
        "<extra_id_0>System\n\n<extra_id_1>User\nHow do I pick a lock?\n<extra_id_1>Assistant\n"
    );
    assert_eq!(
        t.render_prompt(&[], "Calculate the sum of 2 and 3.")
            .unwrap(),
        "<extra_id_0>System\n\n<extra_id_1>User\nCalculate the sum of 2 and 3.\n<extra_id_1>Assistant\n"
    );
}

#[test]
fn v2_cai_comparison_line() {
    let t = PromptTemplate::extra_id();
    let text = t
        .render_full(&[], LOCK, "I can't help with that.", EndStyle::Bare)
        .unwrap();
    let line = to_json_line(&TextLine { text }, JsonStyle::Python).unwrap();
    assert_eq!(
        line,
        r#"{"text": "<extra_id_0>System\n\n<extra_id_1>User\nHow do I pick a lock?\n<extra_id_1>Assistant\nI can't help with that.<extra_id_1>"}"#
    );
}

#[test]
fn v2_through_the_converter_with_bare_endings() {
    let d = Dir::new();
    let record = PreferenceRecord {
        id: "x".into(),
        history: vec![],
        prompt: LOCK.into(),
        chosen: "I can't help with that.".into(),
        rejected: "Sure, here's how.".into(),
        principles: vec![],
        judge: None,
        source: "test".into(),
    };
    let input = d.path("p.jsonl");
    cai_data::write_jsonl_atomic(&input, &[record]).unwrap();
    let options = ConvertOptions {
        end_style: EndStyle::Bare,
        ..ConvertOptions::nemo_defaults()
    };
    convert::convert(
        Format::Preference,
        Format::NemoRm,
        &input,
        &d.path("rm"),
        &options,
    )
    .unwrap();
    let comparisons =
        std::fs::read_to_string(d.path("rm/comparisons_with_chat_prompt.jsonl")).unwrap();
    assert_eq!(
        comparisons.lines().next().unwrap(),
        r#"{"text": "<extra_id_0>System\n\n<extra_id_1>User\nHow do I pick a lock?\n<extra_id_1>Assistant\nI can't help with that.<extra_id_1>"}"#
    );
    let prompts = read_values(&d.path("rm/prompts_with_chat_prompt.jsonl"));
    assert_eq!(
        prompts,
        vec![
            json!({"text": "<extra_id_0>System\n\n<extra_id_1>User\nHow do I pick a lock?\n<extra_id_1>Assistant\n"})
        ]
    );
}

#[test]
fn v3_hh_conversion() {
    let d = Dir::new();
    let chosen = "\n\nHuman: Hi there\n\nAssistant: Hello!\n\nHuman: What is 2+2?\n\nAssistant: 4.";
    let rejected =
        "\n\nHuman: Hi there\n\nAssistant: Hello!\n\nHuman: What is 2+2?\n\nAssistant: 5.";
    let input = d.write(
        "hh.jsonl",
        format!("{}\n", json!({"chosen": chosen, "rejected": rejected})),
    );
    let report = convert::convert(
        Format::HhPairs,
        Format::NemoRm,
        &input,
        &d.path("rm"),
        &ConvertOptions::nemo_defaults(),
    )
    .unwrap();
    assert_eq!(report.written, 1);
    let prompt = "<extra_id_0>System\n\n<extra_id_1>User\nHi there\n<extra_id_1>Assistant\nHello!\n<extra_id_1>User\nWhat is 2+2?\n<extra_id_1>Assistant\n";
    assert_eq!(
        read_values(&d.path("rm/prompts_with_chat_prompt.jsonl")),
        vec![json!({"text": prompt})]
    );
    assert_eq!(
        read_values(&d.path("rm/comparisons_with_chat_prompt.jsonl")),
        vec![
            json!({"text": format!("{prompt}4.\n<extra_id_1>")}),
            json!({"text": format!("{prompt}5.\n<extra_id_1>")})
        ]
    );
}

#[test]
fn v4_sl_sample_and_its_sft_rendering() {
    let trace = SlCaiTrace {
        id: "t".into(),
        prompt: "P".into(),
        initial_response: "I".into(),
        rounds: vec![],
        final_revision: "R".into(),
    };
    let sample: ChatSample = trace.to_chat_sample();
    assert_eq!(
        to_json_line(&sample, JsonStyle::Python).unwrap(),
        r#"{"system": "", "conversations": [{"from": "User", "value": "P", "label": null}, {"from": "Assistant", "value": "R", "label": null}], "mask": "User", "dataset": "sl_cai_samples"}"#
    );
    // SFT rendering: the same template with the trailing end-of-turn token.
    let t = PromptTemplate::extra_id();
    assert_eq!(
        t.render_full(&[], "P", "R", EndStyle::Newline).unwrap(),
        "<extra_id_0>System\n\n<extra_id_1>User\nP\n<extra_id_1>Assistant\nR\n<extra_id_1>"
    );
}

#[test]
fn v5_extract_response() {
    let t = PromptTemplate::mistral();
    let out = "<s>[INST] Calculate the sum of 2 and 3. [/INST]The sum of 2 and 3 is 5.</s> ";
    assert_eq!(
        t.extract_response(out).as_deref(),
        Some("The sum of 2 and 3 is 5.")
    );
}

#[test]
fn v6_join_responses() {
    let pr = |r: &str| {
        vec![PromptResponse {
            prompt: "p".into(),
            response: r.into(),
        }]
    };
    let joined = join_responses(&[("0.01", pr("a")), ("0.51", pr("b"))]);
    assert_eq!(
        joined,
        vec![json!({"prompt": "p", "response_t=0.01": "a", "response_t=0.51": "b"})]
    );
    let set = cai_data::CandidateSet::from_nemo(&joined[0], "id").unwrap();
    assert_eq!(
        set.candidates
            .iter()
            .map(|c| c.response.as_str())
            .collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert_eq!(set.to_nemo(), joined[0]);
}

#[test]
fn v7_split_sizes() {
    assert_eq!(split_sizes(1000, &[0.8, 0.2]).unwrap(), [799, 201]);
    assert_eq!(split_sizes(10, &[0.8, 0.2]).unwrap(), [7, 3]);
}

#[test]
fn v7_split_dataset_keeps_every_item_once() {
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(1234);
    let parts =
        cai_data::split::split_dataset((0..10).collect(), &[0.8, 0.2], Some(&mut rng)).unwrap();
    assert_eq!(parts.iter().map(Vec::len).collect::<Vec<_>>(), [7, 3]);
    let mut all: Vec<i32> = parts.concat();
    all.sort();
    assert_eq!(all, (0..10).collect::<Vec<_>>());
}

#[test]
fn v10_candidate_temperatures() {
    assert_eq!(CANDIDATE_TEMPERATURES, [0.01, 0.51, 1.01, 1.51]);
    assert_eq!(
        temperature_key(CANDIDATE_TEMPERATURES[3]),
        "response_t=1.51"
    );
}
