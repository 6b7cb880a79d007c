//! Saving in Hugging Face layout and loading it back.

use cai_model::{ChatCodec, LoadOptions, LoadedModel, Message, ModelSpec, TokenBatch};

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
    // The text side alone, from the HF directory and from the GGUF, encodes the same.
    for spec in [&spec, &ModelSpec::Default] {
        let codec = ChatCodec::load(spec, None).unwrap();
        assert_eq!(codec.config, model.config);
        assert_eq!(codec.encode_chat(&chat, false).unwrap(), ids);
    }
    let mistral = ChatCodec::load(&spec, Some("mistral")).unwrap();
    assert_ne!(
        mistral.encode_chat(&chat, false).unwrap(),
        ids,
        "the override applies"
    );

    let batch = TokenBatch::single(&ids);
    let a = values(model.lm.forward(&batch, &model.rope, None));
    let b: Vec<f64> = values(reloaded.lm.forward(&batch, &reloaded.rope, None))
        .into_iter()
        .map(f64::from)
        .collect();
    assert_eq!(max_abs_diff(&a, &b), 0.0);
}

#[test]
fn sharded_safetensors_load_like_a_single_file() {
    use cai_model::weights::{SafetensorsWeights, WeightSource};
    use safetensors::{Dtype, SafeTensors, tensor::TensorView};

    let src = fixture("tiny-mistral");
    let bytes = std::fs::read(src.join("model.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<String> = st.names().into_iter().map(String::from).collect();
    names.sort();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(src.join("config.json"), dir.path().join("config.json")).unwrap();
    let mut weight_map = serde_json::Map::new();
    for (i, chunk) in names.chunks(names.len().div_ceil(2)).enumerate() {
        let file = format!("model-{:05}-of-00002.safetensors", i + 1);
        // Store the second shard as bf16 to exercise the conversion too.
        let dtype = if i == 0 { Dtype::F32 } else { Dtype::BF16 };
        let data: Vec<(String, Vec<usize>, Vec<u8>)> = chunk
            .iter()
            .map(|name| {
                let view = st.tensor(name).unwrap();
                let raw = match dtype {
                    Dtype::F32 => view.data().to_vec(),
                    _ => view
                        .data()
                        .chunks_exact(4)
                        .flat_map(|c| {
                            half::bf16::from_f32(f32::from_le_bytes(c.try_into().unwrap()))
                                .to_le_bytes()
                        })
                        .collect(),
                };
                (name.clone(), view.shape().to_vec(), raw)
            })
            .collect();
        let views = data.iter().map(|(n, shape, raw)| {
            (
                n.clone(),
                TensorView::new(dtype, shape.clone(), raw).unwrap(),
            )
        });
        safetensors::serialize_to_file(views, None, &dir.path().join(&file)).unwrap();
        for name in chunk {
            weight_map.insert(name.clone(), serde_json::json!(file));
        }
    }
    let index = serde_json::json!({"metadata": {}, "weight_map": weight_map});
    std::fs::write(
        dir.path().join("model.safetensors.index.json"),
        index.to_string(),
    )
    .unwrap();

    let single = SafetensorsWeights::open(&src).unwrap();
    let sharded = SafetensorsWeights::open(dir.path()).unwrap();
    for (i, name) in names.iter().enumerate() {
        let a = single.read(name).unwrap().unwrap();
        let b = sharded.read(name).unwrap().unwrap();
        assert_eq!(a.shape, b.shape, "{name}");
        if i < names.len().div_ceil(2) {
            assert_eq!(a.data, b.data, "{name}");
        } else {
            let want: Vec<f64> = a
                .data
                .iter()
                .map(|&x| half::bf16::from_f32(x).to_f32() as f64)
                .collect();
            assert_eq!(max_abs_diff(&b.data, &want), 0.0, "{name} (bf16)");
        }
    }
}
