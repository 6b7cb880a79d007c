//! The chunked token log-prob core against autodiff through `log_softmax`: the same weighted loss,
//! per-token log-probs and gradients (hidden rows and every head parameter), with mixed-sign
//! weights, a temperature and chunks smaller than the rows, on the tiny untied Mistral and with
//! its head tied.

use cai_model::CausalLm;
use cai_model::burn::module::{Module, ModuleVisitor, Param};
use cai_model::burn::optim::GradientsParams;
use cai_model::burn::tensor::{Device, Tensor, TensorData};
use cai_model::testing::{max_abs_diff, tiny_config, tiny_lm, values};
use cai_train::logprob::reference_weighted_nll;
use cai_train::{LogprobOptions, token_logprobs, weighted_token_nll};

fn tiny(device: &Device) -> CausalLm {
    tiny_lm(&tiny_config(), device)
}

/// Every parameter's gradient, in visiting order (`None` where it has none).
struct Collect<'a>(&'a GradientsParams, Vec<Option<Vec<f32>>>);

impl ModuleVisitor for Collect<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.1.push(self.0.get::<D>(param.id).map(values));
    }
}

/// The loss value, the gradient of the hidden rows and of every parameter.
fn grads(
    lm: &CausalLm,
    hidden: &Tensor<2>,
    loss: Tensor<1>,
) -> (f32, Vec<f32>, Vec<Option<Vec<f32>>>) {
    let value = loss.clone().into_scalar::<f32>();
    let mut all = loss.backward();
    let dh = values(hidden.grad(&all).expect("a gradient for the rows"));
    let params = GradientsParams::from_module(&mut all, lm);
    let mut collect = Collect(&params, Vec::new());
    lm.visit(&mut collect);
    (value, dh, collect.1)
}

#[test]
fn weighted_tempered_chunked_nll_matches_autodiff() {
    let device = Device::flex().autodiff();
    let mut lm = tiny(&device);
    let n = 11;
    let targets: Vec<i64> = (0..n).map(|i| (i * 47 % 500) as i64).collect();
    let weights: Vec<f64> = (0..n)
        .map(|i| if i % 3 == 0 { -0.4 } else { 0.1 * i as f64 })
        .collect();
    for tied in [false, true] {
        if tied {
            lm.lm_head = None;
        }
        for temperature in [1.0f32, 0.6] {
            let opts = LogprobOptions {
                chunk_rows: 4,
                temperature,
            };
            let rows: Vec<f32> = (0..n * 64)
                .map(|i| ((i * 31 % 97) as f32 / 97.0 - 0.5) * 3.0)
                .collect();
            let rows = || {
                Tensor::<2>::from_data(TensorData::new(rows.clone(), [n, 64]), &device)
                    .require_grad()
            };
            let (h1, h2) = (rows(), rows());
            let ours = weighted_token_nll(&lm, h1.clone(), &targets, &weights, opts);
            let logprobs = ours.logprobs.clone();
            let (v1, dh1, p1) = grads(&lm, &h1, ours.loss);
            let (v2, dh2, p2) = grads(
                &lm,
                &h2,
                reference_weighted_nll(&lm, h2.clone(), &targets, &weights, temperature),
            );
            let case = format!("tied {tied}, T {temperature}");
            // Relative: a summed f32 loss near 80 has an ulp of 8e-6, and the two sides add in
            // another order (AVX2 and AVX-512 GEMMs differed by one ulp here).
            assert!(
                (v1 - v2).abs() < 1e-5 * v2.abs().max(1.0),
                "{case}: loss {v1} vs {v2}"
            );
            assert!(max_abs_diff(&dh1, &dh2) < 1e-5, "{case}: row gradients");
            let mut compared = 0;
            for (a, b) in p1.iter().zip(&p2) {
                match (a, b) {
                    (Some(a), Some(b)) => {
                        assert!(max_abs_diff(a, b) < 1e-5, "{case}: head gradient");
                        compared += 1;
                    }
                    (None, None) => {}
                    _ => panic!("{case}: a gradient on one side only"),
                }
            }
            assert!(compared >= 1, "{case}: the head has a gradient");
            // The per-token log-probs, also without a graph, are the reference's.
            let plain = token_logprobs(&lm, h1.clone(), &targets, opts);
            assert_eq!(plain, logprobs, "{case}");
            let one_hot: Vec<f64> = (0..n).map(|i| if i == 4 { -1.0 } else { 0.0 }).collect();
            let want: f32 =
                reference_weighted_nll(&lm, h1.clone().inner(), &targets, &one_hot, temperature)
                    .into_scalar();
            assert!(
                (logprobs[4] - want).abs() < 1e-5,
                "{case}: {} vs {want}",
                logprobs[4]
            );
        }
    }
}
