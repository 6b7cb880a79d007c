//! LoRA dropout on the tiny Mistral: active only under autodiff, reproducible under a seed, and a
//! plain weight-space adapter everywhere else.

use cai_model::burn::module::Module;
use cai_model::burn::tensor::Tensor;
use cai_model::device::default_device;
use cai_model::model::rope::RopeTables;
use cai_model::testing::{max_abs_diff, tiny_config, tiny_lm, values};
use cai_model::{CausalLm, TokenBatch};
use cai_train::LoraSettings;

/// burn's device generator is process-wide, so the tests that depend on its sequence take turns.
static GENERATOR: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn settings(dropout: f64) -> LoraSettings {
    LoraSettings {
        rank: 4,
        alpha: 8.0,
        dropout,
        target_modules: ["q_proj", "v_proj", "up_proj", "down_proj"]
            .map(String::from)
            .to_vec(),
    }
}

/// The tiny model on the autodiff device with adapters whose `B` factors are non-zero (a fresh
/// adapter has `B = 0`, which would hide the dropout).
fn adapted(dropout: f64) -> (CausalLm, RopeTables) {
    let device = default_device().autodiff();
    let lm = tiny_lm(&tiny_config(), &device);
    device.seed(7);
    let lm = settings(dropout).apply(lm).unwrap();
    let lm = lm.map(&mut FillB);
    (lm, rope(&device))
}

fn rope(device: &cai_model::burn::tensor::Device) -> RopeTables {
    let cfg = tiny_config();
    RopeTables::new(cfg.head_dim, cfg.rope_theta, 64, device)
}

/// Sets every LoRA `B` factor to 0.05 (parameter paths end in `lora.b`).
struct FillB;

impl cai_model::burn::module::ModuleMapper for FillB {
    fn map_float<const D: usize>(
        &mut self,
        param: cai_model::burn::module::Param<Tensor<D>>,
    ) -> cai_model::burn::module::Param<Tensor<D>> {
        let is_b = param.val().dims()[0] == 4 && D == 2;
        if !is_b {
            return param;
        }
        param.map(|t| t.ones_like().mul_scalar(0.05).require_grad())
    }
}

fn logits(lm: &CausalLm, rope: &RopeTables) -> Vec<f32> {
    let batch = TokenBatch::right_padded(&[vec![1, 20, 31, 45, 7, 9]], 0);
    values(lm.forward(&batch, rope, None))
}

#[test]
fn dropout_acts_only_while_training_and_repeats_under_a_seed() {
    let _turn = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    let (with_dropout, tables) = adapted(0.5);
    let (without, _) = adapted(0.0);
    let device = default_device().autodiff();

    LoraSettings::seed_dropout(&device, 1, 2);
    let first = logits(&with_dropout, &tables);
    LoraSettings::seed_dropout(&device, 1, 2);
    let again = logits(&with_dropout, &tables);
    LoraSettings::seed_dropout(&device, 1, 3);
    let other_step = logits(&with_dropout, &tables);
    let plain = logits(&without, &tables);

    assert_eq!(max_abs_diff(&first, &again), 0.0, "same seed, same masks");
    assert!(
        max_abs_diff(&first, &other_step) > 1e-4,
        "another step draws other masks"
    );
    assert!(
        max_abs_diff(&first, &plain) > 1e-4,
        "dropout changes the training forward"
    );

    // Inference (no autodiff) and the merged export ignore dropout.
    let inner = rope(&default_device());
    let inference = logits(&with_dropout.valid(), &inner);
    let merged = logits(&LoraSettings::merge(with_dropout).valid(), &inner);
    let plain_inference = logits(&without.valid(), &inner);
    assert!(max_abs_diff(&inference, &plain_inference) < 1e-5);
    assert!(max_abs_diff(&merged, &plain_inference) < 1e-4);
}

#[test]
fn dropout_path_has_gradients_for_both_factors() {
    let _turn = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    let (lm, rope) = adapted(0.3);
    let batch = TokenBatch::right_padded(&[vec![3, 8, 13, 21]], 0);
    let loss = lm.forward(&batch, &rope, None).powf_scalar(2.0).mean();
    let grads = loss.backward();
    let adapter = lm.layers[0]
        .self_attn
        .q_proj
        .weight
        .reparameterization::<cai_model::burn::module::LoraAdapter>()
        .expect("adapter on q_proj");
    for factor in [&adapter.a, &adapter.b] {
        let grad = factor.val().grad(&grads).expect("gradient");
        assert!(values(grad).iter().any(|g| g.abs() > 0.0));
    }
}
