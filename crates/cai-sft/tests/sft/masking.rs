//! Loss masks of rendered conversations, truncation, and packing equivalence on the tiny model.

use std::ops::Range;

use cai_model::burn::tensor::Device;
use cai_model::{LoadedModel, Message, TokenBatch};
use cai_sft::conversation::{Conversation, LabelType, read_conversations};
use cai_sft::encode::{Example, encode, encode_all};
use cai_sft::nemo_chat::{self, PromptTokens};
use serde_json::json;

use super::common::{max_abs_diff, tiny_model, values};

fn conversation(messages: Vec<Message>) -> Conversation {
    Conversation {
        messages,
        masked_roles: vec!["user".into()],
        ..Default::default()
    }
}

/// The text of each maximal run of trained tokens.
fn trained_texts(model: &LoadedModel, example: &Example) -> Vec<String> {
    let mut runs: Vec<Vec<u32>> = Vec::new();
    for (i, (&id, &trained)) in example.ids.iter().zip(&example.trained).enumerate() {
        if !trained {
            continue;
        }
        match runs.last_mut() {
            Some(run) if i > 0 && example.trained[i - 1] => run.push(id),
            _ => runs.push(vec![id]),
        }
    }
    runs.iter()
        .map(|ids| model.tokenizer.decode(ids, false).unwrap())
        .collect()
}

/// Each maximal run of trained tokens: its token range and its text.
fn trained_runs(model: &LoadedModel, example: &Example) -> Vec<(Range<usize>, String)> {
    let mut runs: Vec<Range<usize>> = Vec::new();
    for (i, &trained) in example.trained.iter().enumerate() {
        match runs.last_mut() {
            Some(run) if trained && run.end == i => run.end += 1,
            _ if trained => runs.push(i..i + 1),
            _ => {}
        }
    }
    runs.into_iter()
        .map(|r| {
            let text = model
                .tokenizer
                .decode(&example.ids[r.clone()], false)
                .unwrap();
            (r, text)
        })
        .collect()
}

/// A NeMo chat file of one sample of each `type` (null, VALUE_TO_TEXT, TEXT_TO_VALUE), the same
/// turns and labels in each: User `P`, Assistant `R` (label `good`), User `Q`, Assistant `S`
/// (label `bad`).
fn typed_samples(dir: &std::path::Path) -> Vec<Conversation> {
    let path = dir.join("typed.jsonl");
    let lines: Vec<String> = [None, Some("VALUE_TO_TEXT"), Some("TEXT_TO_VALUE")]
        .into_iter()
        .map(|kind| {
            json!({"system": "", "mask": "User", "dataset": "d", "type": kind,
                "conversations": [
                    {"from": "User", "value": "P", "label": null},
                    {"from": "Assistant", "value": "R", "label": "good"},
                    {"from": "User", "value": "Q", "label": null},
                    {"from": "Assistant", "value": "S", "label": "bad"}]})
            .to_string()
        })
        .collect();
    std::fs::write(&path, lines.join("\n")).unwrap();
    read_conversations(&path).unwrap()
}

fn run(range: Range<usize>, text: &str) -> (Range<usize>, String) {
    (range, text.to_string())
}

#[test]
fn nemo_label_types_render_and_mask_as_nemo_does() {
    let model = tiny_model("nemo", Device::flex());
    let dir = tempfile::tempdir().unwrap();
    let samples = typed_samples(dir.path());
    let encoded: Vec<Example> = samples.iter().map(|c| encode(&model, c).unwrap()).collect();
    let texts: Vec<String> = encoded
        .iter()
        .map(|e| model.tokenizer.decode(&e.ids, false).unwrap())
        .collect();
    // The byte-level tokenizer makes token indices byte offsets. Header `<extra_id_0>System\n\n`
    // is tokens 0..20, turn 0 (`<extra_id_1>User\nP\n`) 20..39: both masked in every type.

    // No type: labels are ignored; each answer trains `value\n` and the next turn marker.
    assert_eq!(
        texts[0],
        "<extra_id_0>System\n\n<extra_id_1>User\nP\n<extra_id_1>Assistant\nR\n\
         <extra_id_1>User\nQ\n<extra_id_1>Assistant\nS\n<extra_id_1>"
    );
    assert_eq!(
        trained_runs(&model, &encoded[0]),
        [
            run(61..75, "R\n<extra_id_1>"),
            run(104..118, "S\n<extra_id_1>")
        ]
    );

    // VALUE_TO_TEXT: `<extra_id_2>label\n` between name and value, masked with the name.
    assert_eq!(
        texts[1],
        "<extra_id_0>System\n\n<extra_id_1>User\nP\n\
         <extra_id_1>Assistant\n<extra_id_2>good\nR\n<extra_id_1>User\nQ\n\
         <extra_id_1>Assistant\n<extra_id_2>bad\nS\n<extra_id_1>"
    );
    assert_eq!(
        trained_runs(&model, &encoded[1]),
        [
            run(78..92, "R\n<extra_id_1>"),
            run(137..151, "S\n<extra_id_1>")
        ]
    );

    // TEXT_TO_VALUE: the label block after `value\n`; name, value and `<extra_id_2>` are masked,
    // the label, its `\n` and the next turn marker are trained.
    assert_eq!(
        texts[2],
        "<extra_id_0>System\n\n<extra_id_1>User\nP\n\
         <extra_id_1>Assistant\nR\n<extra_id_2>good\n<extra_id_1>User\nQ\n\
         <extra_id_1>Assistant\nS\n<extra_id_2>bad\n<extra_id_1>"
    );
    assert_eq!(
        trained_runs(&model, &encoded[2]),
        [
            run(75..92, "good\n<extra_id_1>"),
            run(135..151, "bad\n<extra_id_1>")
        ]
    );
}

#[test]
fn nemo_rendering_of_untyped_samples_matches_the_nemo_template() {
    // `nemo_chat` (used for typed samples) and the Jinja `nemo` template with incremental
    // rendering (used for the others) agree on text and mask where both apply.
    let model = tiny_model("nemo", Device::flex());
    let dir = tempfile::tempdir().unwrap();
    let mut conv = typed_samples(dir.path()).remove(0);
    conv.messages.insert(0, Message::system("Be kind."));
    conv.labels.insert(0, None);
    let rendered = nemo_chat::render(&conv, &PromptTokens::CAI).unwrap();
    let via_template = encode(&model, &conv).unwrap();
    let (ids, offsets) = model
        .tokenizer
        .encode_raw_with_offsets(&rendered.text)
        .unwrap();
    assert_eq!(ids, via_template.ids);
    let trained: Vec<bool> = offsets
        .iter()
        .map(|&(start, _)| rendered.trained.iter().any(|r| r.contains(&start)))
        .collect();
    assert_eq!(trained, via_template.trained);
}

#[test]
fn label_types_under_another_template_name_the_line_and_field() {
    let model = tiny_model("mistral", Device::flex());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("typed.jsonl");
    let mut samples = typed_samples(dir.path());
    // Line 2: VALUE_TO_TEXT with a label on turn 1.
    let err = encode(&model, &samples[1]).unwrap_err().to_string();
    let at = format!("{}:2: field `conversations[1].label`", path.display());
    assert!(
        err.starts_with(&at) && err.contains("--chat-template nemo"),
        "{err}"
    );
    // Line 3: TEXT_TO_VALUE trains on labels, whatever they are.
    let err = encode_all(&model, &samples[2..], 512)
        .unwrap_err()
        .to_string();
    let at = format!("{}:3: field `type`", path.display());
    assert!(err.starts_with(&at), "{err}");
    // VALUE_TO_TEXT without labels is an untyped sample in NeMo too.
    for label in &mut samples[1].labels {
        *label = None;
    }
    assert_eq!(samples[1].label_type, Some(LabelType::ValueToText));
    assert_eq!(
        encode(&model, &samples[1]).unwrap(),
        encode(&model, &samples[0]).unwrap()
    );
}

#[test]
fn mistral_template_has_one_bos_and_trains_each_answer_with_its_eos() {
    let model = tiny_model("mistral", Device::flex());
    let conv = conversation(vec![
        Message::user("Hi"),
        Message::assistant("Hello!"),
        Message::user("2+2?"),
        Message::assistant("4"),
    ]);
    let example = encode(&model, &conv).unwrap();
    assert_eq!(example.ids[0], 1, "starts with BOS");
    assert_eq!(
        example.ids.iter().filter(|&&id| id == 1).count(),
        1,
        "no double BOS"
    );
    assert_eq!(trained_texts(&model, &example), ["Hello!</s>", "4</s>"]);
}

#[test]
fn nemo_template_trains_the_revision_and_the_closing_turn_marker() {
    let model = tiny_model("nemo", Device::flex());
    let conv = conversation(vec![Message::user("P"), Message::assistant("R")]);
    let example = encode(&model, &conv).unwrap();
    let text = model.tokenizer.decode(&example.ids, false).unwrap();
    assert_eq!(
        text,
        "<extra_id_0>System\n\n<extra_id_1>User\nP\n<extra_id_1>Assistant\nR\n<extra_id_1>"
    );
    assert_eq!(trained_texts(&model, &example), ["R\n<extra_id_1>"]);
}

#[test]
fn unmasked_user_turns_train_their_content_only() {
    let model = tiny_model("chatml", Device::flex());
    let conv = Conversation {
        messages: vec![
            Message::user("first"),
            Message::assistant("a"),
            Message::user("second"),
            Message::assistant("b"),
        ],
        masked_roles: vec![],
        ..Default::default()
    };
    let example = encode(&model, &conv).unwrap();
    // The tiny tokenizer's EOS is `</s>`, which ChatML never writes: spans end with the turn.
    assert_eq!(
        trained_texts(&model, &example),
        ["a<|im_end|>\n", "second<|im_end|>\n", "b<|im_end|>\n"]
    );
}

#[test]
fn truncation_keeps_the_prefix_and_drops_conversations_without_targets() {
    let model = tiny_model("mistral", Device::flex());
    let short = conversation(vec![Message::user("Hi"), Message::assistant("Hello there")]);
    let long_prompt = conversation(vec![
        Message::user("x".repeat(40)),
        Message::assistant("never seen"),
    ]);
    let full = encode(&model, &short).unwrap();
    let (examples, stats) = encode_all(&model, &[short, long_prompt], 20).unwrap();
    assert_eq!((stats.kept, stats.truncated, stats.dropped), (1, 2, 1));
    assert_eq!(examples[0].ids, full.ids[..20]);
    assert_eq!(examples[0].trained, full.trained[..20]);
}

#[test]
fn packed_rows_compute_what_separate_sequences_compute() {
    let model = tiny_model("mistral", Device::flex());
    let a: Vec<u32> = (3..40).collect();
    let b: Vec<u32> = (100..125).collect();
    let packed = model.lm.forward(
        &TokenBatch::packed(&[vec![a.clone(), b.clone()]], 0),
        &model.rope,
        None,
    );
    let alone_a = values(model.lm.forward(&TokenBatch::single(&a), &model.rope, None));
    let alone_b = values(model.lm.forward(&TokenBatch::single(&b), &model.rope, None));
    let packed = values(packed);
    let vocab = alone_a.len() / a.len();
    let (pa, pb) = packed.split_at(a.len() * vocab);
    assert!(max_abs_diff(pa, &alone_a) < 1e-5);
    assert!(max_abs_diff(pb, &alone_b) < 1e-5);
    // Unpacked concatenation differs: the second sample would attend to the first.
    let joined: Vec<u32> = a.iter().chain(&b).copied().collect();
    let joined = values(
        model
            .lm
            .forward(&TokenBatch::single(&joined), &model.rope, None),
    );
    assert!(max_abs_diff(&joined[a.len() * vocab..], &alone_b) > 1e-3);
}
