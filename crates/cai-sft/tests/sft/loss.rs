//! The chunked closed-form loss (`cai_sft::loss::mean_target_nll`) against the autodiff
//! reference: the same value and the same gradients for every parameter, tied or untied head,
//! one chunk or many.

use cai_model::CausalLm;
use cai_model::burn::module::{Module, ModuleVisitor, Param};
use cai_model::burn::optim::GradientsParams;
use cai_model::burn::tensor::{Device, Tensor};
use cai_sft::batches::{MicroBatch, Row};
use cai_sft::encode::Example;
use cai_sft::loss::{
    head_nll, mean_target_nll, reference_head_nll, reference_mean_target_nll, target_rows,
};

use super::common::{max_abs_diff, tiny_model, values};

/// Every parameter's gradient (or `None`), in visiting order.
struct Collect<'a> {
    grads: &'a GradientsParams,
    out: Vec<Option<Vec<f32>>>,
}

impl ModuleVisitor for Collect<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.out.push(self.grads.get::<D>(param.id).map(values));
    }
}

fn loss_and_grads(lm: &CausalLm, loss: Tensor<1>) -> (f32, Vec<Option<Vec<f32>>>) {
    let value = loss.clone().into_scalar::<f32>();
    let grads = GradientsParams::from_grads(loss.backward(), lm);
    let mut collect = Collect {
        grads: &grads,
        out: Vec::new(),
    };
    lm.visit(&mut collect);
    (value, collect.out)
}

/// Two rows of different lengths (so one is padded), each trained on part of its tokens.
fn batch() -> MicroBatch {
    let example = |len: usize, seed: u32| Example {
        ids: (0..len as u32)
            .map(|i| (i * 37 + seed * 11) % 500 + 3)
            .collect(),
        trained: (0..len).map(|i| i % 3 != 0 || i > len / 2).collect(),
    };
    let rows = [
        Row {
            examples: vec![example(23, 1)],
        },
        Row {
            examples: vec![example(17, 2)],
        },
    ];
    MicroBatch::new(&rows.iter().collect::<Vec<_>>(), 0)
}

fn assert_same(a: (f32, Vec<Option<Vec<f32>>>), b: (f32, Vec<Option<Vec<f32>>>)) {
    assert!((a.0 - b.0).abs() < 1e-5, "loss {} vs {}", a.0, b.0);
    assert_eq!(a.1.len(), b.1.len());
    let mut compared = 0;
    for (i, (ga, gb)) in a.1.iter().zip(&b.1).enumerate() {
        match (ga, gb) {
            (Some(ga), Some(gb)) => {
                let diff = max_abs_diff(ga, gb);
                assert!(diff < 1e-5, "parameter {i}: gradients differ by {diff}");
                compared += 1;
            }
            (None, None) => {}
            _ => panic!("parameter {i}: a gradient on one side only"),
        }
    }
    assert!(compared > 10, "only {compared} gradients");
}

#[test]
fn chunked_loss_has_the_reference_value_and_gradients() {
    let batch = batch();
    let mut model = tiny_model("mistral", Device::flex().autodiff());
    for tied in [false, true] {
        if tied {
            model.lm.lm_head = None;
        }
        let lm = &model.lm;
        let reference = || loss_and_grads(lm, reference_mean_target_nll(lm, &model.rope, &batch));
        // One chunk (the default size exceeds the 28 targets) and chunks of 5 rows.
        assert_same(
            loss_and_grads(lm, mean_target_nll(lm, &model.rope, &batch)),
            reference(),
        );
        let rows = target_rows(lm, &model.rope, &batch);
        assert_same(
            loss_and_grads(lm, head_nll(lm, rows, &batch.targets, 5)),
            reference(),
        );
    }
}

#[test]
fn scaled_losses_scale_the_gradients_and_inference_needs_no_graph() {
    let batch = batch();
    let model = tiny_model("mistral", Device::flex().autodiff());
    let lm = &model.lm;
    let a = loss_and_grads(
        lm,
        mean_target_nll(lm, &model.rope, &batch).mul_scalar(0.25),
    );
    let b = loss_and_grads(
        lm,
        reference_mean_target_nll(lm, &model.rope, &batch).mul_scalar(0.25),
    );
    assert_same(a, b);
    // On the inference copy the value is the same.
    let valid = lm.valid();
    let rows = target_rows(&valid, &model.rope, &batch);
    let plain: f32 = head_nll(&valid, rows.clone(), &batch.targets, 4).into_scalar();
    let want: f32 = reference_head_nll(&valid, rows, &batch.targets).into_scalar();
    assert!((plain - want).abs() < 1e-5, "{plain} vs {want}");
}
