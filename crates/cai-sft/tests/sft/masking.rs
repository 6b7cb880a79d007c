//! Loss masks of rendered conversations, truncation, and packing equivalence on the tiny model.

use cai_model::burn::tensor::Device;
use cai_model::{LoadedModel, Message, TokenBatch};
use cai_sft::conversation::Conversation;
use cai_sft::encode::{Example, encode, encode_all};

use super::common::{max_abs_diff, tiny_model, values};

fn conversation(messages: Vec<Message>) -> Conversation {
    Conversation {
        messages,
        masked_roles: vec!["user".into()],
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
