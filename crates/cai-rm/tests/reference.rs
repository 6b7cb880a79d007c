//! One Bradley-Terry step of cai-rm against transformers (`scripts/rm/make_reference.py`, pinned
//! versions): the tiny Mistral as `MistralForSequenceClassification` with a fixed head — rewards,
//! the soft loss with margin and centring, and the gradients of the head, the final norm and a
//! projection, within 1e-5. The six sequences go through one right-padded batch here, where the
//! reference scored each alone.

use std::path::Path;

use cai_model::ScalarHead;
use cai_model::burn::tensor::{Device, Tensor};
use cai_model::model::rope::RopeTables;
use cai_model::testing::{floats, ids, tiny_config, tiny_lm, transpose, values};
use cai_model::weights::WeightTensor;
use cai_rm::RewardModel;
use cai_rm::loss::{LossSettings, bradley_terry};
use serde_json::Value;

#[test]
fn one_step_matches_transformers() {
    let assert_close = |name: &str, ours: &[f32], want: &[f32]| {
        cai_model::testing::assert_close(name, ours, want, 1e-5)
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("tests/fixtures/bt_reference.json")).unwrap(),
    )
    .unwrap();
    let cfg = tiny_config();
    let device = Device::flex().autodiff();
    let lm = tiny_lm(&cfg, &device);
    let weight = WeightTensor {
        shape: vec![1, cfg.hidden_size],
        data: floats(&reference["score_weight"]),
    };
    let head = ScalarHead::from_hf(&weight, cfg.hidden_size, &device).unwrap();
    let rm = RewardModel { lm, head };
    let rope = RopeTables::new(cfg.head_dim, cfg.rope_theta, 64, &device);

    let pairs = reference["pairs"].as_array().unwrap();
    let chosen: Vec<Vec<u32>> = pairs.iter().map(|p| ids(&p["chosen"])).collect();
    let rejected: Vec<Vec<u32>> = pairs.iter().map(|p| ids(&p["rejected"])).collect();
    let seqs: Vec<&[u32]> = chosen.iter().chain(&rejected).map(Vec::as_slice).collect();
    let rewards = rm.rewards(&rope, &seqs, 0);
    let m = pairs.len();
    let (c, r) = (rewards.clone().narrow(0, 0, m), rewards.narrow(0, m, m));
    assert_close(
        "rewards_chosen",
        &values(c.clone()),
        &floats(&reference["rewards_chosen"]),
    );
    assert_close(
        "rewards_rejected",
        &values(r.clone()),
        &floats(&reference["rewards_rejected"]),
    );

    let labels: Vec<f64> = floats(&reference["labels"])
        .into_iter()
        .map(f64::from)
        .collect();
    let settings = LossSettings {
        margin: reference["margin"].as_f64().unwrap(),
        centring: reference["centring"].as_f64().unwrap(),
    };
    let loss = bradley_terry(c, r, &labels, settings);
    assert_close(
        "loss",
        &values(loss.clone()),
        &[reference["loss"].as_f64().unwrap() as f32],
    );
    let grads = loss.backward();
    let grad = |t: Tensor<2>| values(t.grad(&grads).expect("a gradient"));
    let want = |name: &str| floats(&reference["grads"][name]["values"]);
    // burn keeps linear weights as [in, out]: HF's [out, in] transposed.
    assert_close(
        "score.weight",
        &grad(rm.head.score.weight.val()),
        &want("score.weight"),
    );
    let norm = values(rm.lm.norm.gamma.val().grad(&grads).expect("a gradient"));
    assert_close("model.norm.weight", &norm, &want("model.norm.weight"));
    let q = rm.lm.layers[0].self_attn.q_proj.weight.val();
    let [d_in, d_out] = q.dims();
    let q_grad = transpose(&grad(q), d_in, d_out);
    assert_close(
        "q_proj",
        &q_grad,
        &want("model.layers.0.self_attn.q_proj.weight"),
    );
}
