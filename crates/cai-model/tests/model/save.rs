//! Saving in Hugging Face layout and loading it back.

use cai_model::{LoadOptions, LoadedModel, Message, ModelSpec, TokenBatch};

use super::common::*;

#[test]
fn gguf_to_hf_save_reload_gives_identical_logits_and_tokens() {
    let model = smollm2();
    let dir = tempfile::tempdir().unwrap();
    model.save_hf(dir.path()).unwrap();
    for file in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "generation_config.json",
    ] {
        assert!(dir.path().join(file).is_file(), "{file} missing");
    }
    let spec = ModelSpec::parse(dir.path().to_str().unwrap()).unwrap();
    let reloaded = LoadedModel::load(&spec, &LoadOptions::default()).unwrap();
    assert_eq!(reloaded.config, model.config);

    let chat = [
        Message::user("Name a prime number."),
        Message::assistant("Seven."),
    ];
    let ids = model.encode_chat(&chat, false).unwrap();
    assert_eq!(
        reloaded.encode_chat(&chat, false).unwrap(),
        ids,
        "template and tokenizer survive"
    );
    assert_eq!(
        reloaded.tokenizer.encode_raw("x   123 café").unwrap(),
        model.tokenizer.encode_raw("x   123 café").unwrap()
    );

    let batch = TokenBatch::single(&ids);
    let a = values(model.lm.forward(&batch, &model.rope, None));
    let b: Vec<f64> = values(reloaded.lm.forward(&batch, &reloaded.rope, None))
        .into_iter()
        .map(f64::from)
        .collect();
    assert_eq!(max_abs_diff(&a, &b), 0.0);
}
