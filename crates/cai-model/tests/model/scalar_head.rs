//! The scalar (reward/value) head: a score that ignores padding and batch-mates, Hugging Face
//! `*ForSequenceClassification` saving, and loading a backbone whose checkpoint has no LM head.

use std::path::Path;

use cai_model::burn::tensor::{DType, Device};
use cai_model::weights::{SafetensorsWeights, WeightSource, WeightTensor};
use cai_model::{
    CausalLm, LoadOptions, LoadedModel, ModelConfig, ModelSpec, ScalarHead, TokenBatch,
};

use super::common::*;

fn scores(
    lm: &CausalLm,
    rope: &cai_model::model::rope::RopeTables,
    head: &ScalarHead,
    batch: &TokenBatch,
) -> Vec<f32> {
    let hidden = lm.forward_hidden(batch, rope, None);
    values(head.at_positions(hidden, &batch.last_real_positions()))
}

#[test]
fn a_score_depends_neither_on_padding_nor_on_the_rest_of_the_batch() {
    let model = smollm2();
    let device = Device::flex();
    device.seed(3);
    let head = ScalarHead::init(model.config.hidden_size, 0.02, &device);
    let short: Vec<u32> = model.tokenizer.encode_raw("How do I bake bread?").unwrap();
    let long: Vec<u32> = model
        .tokenizer
        .encode_raw("Tell me a long story about a lighthouse keeper and a storm at sea.")
        .unwrap();
    let alone = scores(&model.lm, &model.rope, &head, &TokenBatch::single(&short));
    // `short` is row 0 when right-padded and row 1 when left-padded beside the longer text.
    for (batch, row) in [
        (
            TokenBatch::right_padded(&[short.clone(), long.clone()], 0),
            0,
        ),
        (
            TokenBatch::left_padded(&[long.clone(), short.clone()], 0),
            1,
        ),
    ] {
        let together = scores(&model.lm, &model.rope, &head, &batch);
        assert!(
            (together[row] - alone[0]).abs() < 1e-4,
            "{} vs {}",
            together[row],
            alone[0]
        );
    }
    let long_alone = scores(&model.lm, &model.rope, &head, &TokenBatch::single(&long));
    assert!(
        (long_alone[0] - alone[0]).abs() > 1e-6,
        "different texts score differently"
    );
}

#[test]
fn a_reward_model_saves_as_sequence_classification_and_reloads_to_the_same_scores() {
    let model = smollm2();
    let device = Device::flex();
    device.seed(5);
    let head = ScalarHead::init(model.config.hidden_size, 0.02, &device);
    let dir = tempfile::tempdir().unwrap();
    model.save_hf_with_score_head(dir.path(), &head).unwrap();
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("config.json")).unwrap())
            .unwrap();
    assert_eq!(config["architectures"][0], "LlamaForSequenceClassification");
    assert_eq!(config["id2label"], serde_json::json!({"0": "LABEL_0"}));
    // transformers scores the last non-padding token, and scored sequences end in EOS: the
    // declared padding id must not be an EOS id (SmolLM2's own padding id is its EOS).
    let pad = config["pad_token_id"].as_u64().expect("a padding id") as u32;
    assert!(
        !model.stop_token_ids().contains(&pad),
        "pad {pad} is an EOS id"
    );

    let spec = ModelSpec::parse(dir.path().to_str().unwrap()).unwrap();
    let reloaded = LoadedModel::load(&spec, &LoadOptions::default()).unwrap();
    let head_again = ScalarHead::load_hf(dir.path(), model.config.hidden_size, &device)
        .unwrap()
        .expect("a head");
    let ids = model.tokenizer.encode_raw("Is the sky blue?").unwrap();
    let batch = TokenBatch::single(&ids);
    let a = scores(&model.lm, &model.rope, &head, &batch);
    let b = scores(&reloaded.lm, &reloaded.rope, &head_again, &batch);
    assert_eq!(a, b);
    // A plain causal LM directory has no head.
    let plain = tempfile::tempdir().unwrap();
    model.save_hf(plain.path()).unwrap();
    assert!(
        ScalarHead::load_hf(plain.path(), model.config.hidden_size, &device)
            .unwrap()
            .is_none()
    );
}

/// The tiny untied Mistral's tensors with `lm_head.weight` replaced by a `score.weight`, as a
/// `MistralForSequenceClassification` checkpoint stores them.
struct ClassifierWeights {
    inner: SafetensorsWeights,
    hidden: usize,
}

impl WeightSource for ClassifierWeights {
    fn location(&self) -> &Path {
        self.inner.location()
    }

    fn read(&self, name: &str) -> cai_model::Result<Option<WeightTensor>> {
        match name {
            "lm_head.weight" => Ok(None),
            "score.weight" => Ok(Some(WeightTensor {
                shape: vec![1, self.hidden],
                data: vec![0.1; self.hidden],
            })),
            _ => self.inner.read(name),
        }
    }
}

#[test]
fn a_backbone_loads_from_a_checkpoint_with_a_score_head_and_no_lm_head() {
    let dir = fixture("tiny-mistral");
    let cfg = ModelConfig::from_hf_file(&dir.join("config.json")).unwrap();
    assert!(!cfg.tie_word_embeddings);
    let inner = SafetensorsWeights::open(&dir).unwrap();
    let device = Device::flex();
    let plain = CausalLm::from_weights(&cfg, &inner, &device, DType::F32).unwrap();
    assert!(plain.lm_head.is_some());
    let classifier = ClassifierWeights {
        inner,
        hidden: cfg.hidden_size,
    };
    let backbone = CausalLm::from_weights(&cfg, &classifier, &device, DType::F32).unwrap();
    assert!(backbone.lm_head.is_none());
    // Without a score head either, the missing LM head is still an error.
    let inner = SafetensorsWeights::open(&dir).unwrap();
    struct NoHead(SafetensorsWeights);
    impl WeightSource for NoHead {
        fn location(&self) -> &Path {
            self.0.location()
        }
        fn read(&self, name: &str) -> cai_model::Result<Option<WeightTensor>> {
            if name == "lm_head.weight" {
                Ok(None)
            } else {
                self.0.read(name)
            }
        }
    }
    assert!(CausalLm::from_weights(&cfg, &NoHead(inner), &device, DType::F32).is_err());
}
