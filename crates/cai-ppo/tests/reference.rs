//! One PPO update of cai-ppo against PyTorch/transformers (`scripts/ppo/make_reference.py`, pinned
//! versions, float64), on the tiny Mistral with three samples of different lengths in one
//! right-padded batch (the reference runs each alone; one sample outgrows the sliding window):
//! - actor: the teacher-forced log-probs at T = 0.7, then `actor_loss` with the clipped surrogate
//!   (ε = 0.2, every clipping case present) and β·k3 in the loss, head chunks of 3 rows — its
//!   value, ratio statistics, and the gradients of the final norm, a projection, the untied LM
//!   head (some rows) and the embedding (every row: those of unused ids must be zero);
//! - critic: the values before each response token, then `critic_loss` with the value clip 0.2
//!   (both branches winning somewhere) — value and the gradients of the head, the final norm and
//!   a projection.
//!
//! Everything within 1e-5.

use std::path::Path;

use cai_model::burn::tensor::{Device, Tensor};
use cai_model::model::rope::RopeTables;
use cai_model::testing::{doubles, floats, ids, tiny_config, tiny_lm, transpose, values};
use cai_model::weights::WeightTensor;
use cai_model::{CausalLm, ModelConfig, RewardModel, ScalarHead};
use cai_ppo::advantage::gae;
use cai_ppo::experience::Experience;
use cai_ppo::kl::{KlEstimator, KlPlacement};
use cai_ppo::objective::ClipSettings;
use cai_ppo::rollout::{self, Sample};
use cai_ppo::update::{
    ActorLoss, ActorStats, CriticStats, CriticUpdate, ValueTargets, actor_loss, critic_loss,
    critic_step, critic_step_with_values,
};
use cai_train::{LogprobOptions, OptimizerSettings};
use serde_json::Value;

const PAD: u32 = 0;
const TOLERANCE: f32 = 1e-5;

fn number(v: &Value) -> f32 {
    v.as_f64().unwrap() as f32
}

/// Asserts `ours` and `want` agree within [`TOLERANCE`]; prints the largest difference.
fn assert_close(name: &str, ours: &[f32], want: &[f32]) {
    cai_model::testing::assert_close(name, ours, want, TOLERANCE);
}

/// Cuts a flat per-token vector into one vector per sample.
fn split<T: Copy>(flat: &[T], lens: &[usize]) -> Vec<Vec<T>> {
    let mut at = 0;
    lens.iter()
        .map(|&n| {
            at += n;
            flat[at - n..at].to_vec()
        })
        .collect()
}

struct Fixture {
    reference: Value,
    cfg: ModelConfig,
    device: Device,
    rope: RopeTables,
    samples: Vec<Sample>,
    lens: Vec<usize>,
}

impl Fixture {
    fn load() -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let reference: Value = serde_json::from_str(
            &std::fs::read_to_string(root.join("tests/fixtures/ppo_reference.json")).unwrap(),
        )
        .unwrap();
        let cfg = tiny_config();
        let device = Device::flex().autodiff();
        let rope = RopeTables::new(cfg.head_dim, cfg.rope_theta, 64, &device);
        let samples: Vec<Sample> = reference["samples"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
            .map(|(i, s)| Sample {
                prompt: i,
                prompt_ids: ids(&s["prompt"]),
                response: ids(&s["response"]),
                text: String::new(),
                ended: s["ended"].as_bool().unwrap(),
                sampler_logprobs: Vec::new(),
            })
            .collect();
        let lens = samples.iter().map(|s| s.response.len()).collect();
        Self {
            reference,
            cfg,
            device,
            rope,
            samples,
            lens,
        }
    }

    fn lm(&self) -> CausalLm {
        tiny_lm(&self.cfg, &self.device)
    }

    /// An experience of the samples with the given per-token fields (the rest, unused by the
    /// losses, zero).
    fn experience(
        &self,
        old_logprobs: Vec<Vec<f32>>,
        ref_logprobs: Vec<Vec<f32>>,
        values: Vec<Vec<f32>>,
        advantages: Vec<Vec<f64>>,
        returns: Vec<Vec<f64>>,
    ) -> Experience {
        let zeros: Vec<Vec<f64>> = self.lens.iter().map(|&n| vec![0.0; n]).collect();
        Experience {
            samples: self.samples.clone(),
            old_logprobs,
            ref_logprobs,
            values,
            scores: vec![0.0; self.samples.len()],
            kl: zeros.clone(),
            token_rewards: zeros,
            advantages,
            returns,
        }
    }

    fn tokens(&self) -> usize {
        self.lens.iter().sum()
    }

    fn per_token_f32(&self, v: &Value) -> Vec<Vec<f32>> {
        split(&floats(v), &self.lens)
    }

    fn per_token_f64(&self, v: &Value) -> Vec<Vec<f64>> {
        split(&doubles(v), &self.lens)
    }
}

#[test]
fn actor_loss_and_gradients_match_transformers() {
    let fx = Fixture::load();
    let reference = &fx.reference["actor"];
    let lm = fx.lm();
    let temperature = number(&fx.reference["temperature"]);

    let refs: Vec<&Sample> = fx.samples.iter().collect();
    let logprobs = rollout::logprobs(&lm, &fx.rope, &refs, temperature, 3, PAD);
    assert_close(
        "logprobs",
        &logprobs.concat(),
        &floats(&reference["logprobs"]),
    );

    let exp = fx.experience(
        fx.per_token_f32(&reference["old_logprobs"]),
        fx.per_token_f32(&reference["ref_logprobs"]),
        Vec::new(),
        fx.per_token_f64(&reference["advantages"]),
        Vec::new(),
    );
    let settings = ActorLoss {
        clip: ClipSettings {
            eps: fx.reference["eps"].as_f64().unwrap(),
            dual_clip: None,
        },
        temperature,
        kl_estimator: KlEstimator::K3,
        placement: KlPlacement::Loss,
        beta: fx.reference["beta"].as_f64().unwrap(),
        entropy_bonus: 0.0,
        train_unfinished: true,
        ratio_outlier: 10.0,
    };
    let opts = LogprobOptions {
        chunk_rows: fx.reference["chunk_rows"].as_u64().unwrap() as usize,
        temperature,
    };
    let batch: Vec<usize> = (0..fx.samples.len()).collect();
    let scale = 1.0 / fx.tokens() as f64;
    let mut stats = ActorStats::default();
    let loss = actor_loss(
        &lm, &fx.rope, &exp, &batch, scale, opts, PAD, &settings, &mut stats,
    );
    assert_close(
        "actor loss",
        &values(loss.clone()),
        &[number(&reference["loss"])],
    );

    let want = &reference["stats"];
    assert_eq!(stats.tokens as u64, want["tokens"].as_u64().unwrap());
    assert_eq!(stats.clipped as u64, want["clipped"].as_u64().unwrap());
    assert_eq!(stats.outliers, 0);
    for (name, ours) in [
        ("ratio", stats.ratio),
        ("ratio_clamped", stats.ratio_clamped),
        ("ratio_max_deviation", stats.ratio_max_deviation),
        ("approx_kl", stats.approx_kl),
    ] {
        assert_close(name, &[ours as f32], &[number(&want[name])]);
    }

    let grads = loss.backward();
    let grad = |t: Tensor<2>| values(t.grad(&grads).expect("a gradient"));
    let want = |name: &str| floats(&reference["grads"][name]["values"]);
    let norm = values(lm.norm.gamma.val().grad(&grads).expect("a gradient"));
    assert_close("model.norm.weight", &norm, &want("model.norm.weight"));
    // burn keeps linear weights as [in, out]: HF's [out, in] transposed.
    let q = lm.layers[0].self_attn.q_proj.weight.val();
    let [d_in, d_out] = q.dims();
    assert_close(
        "layers.0.q_proj",
        &transpose(&grad(q), d_in, d_out),
        &want("model.layers.0.self_attn.q_proj.weight"),
    );
    let head = lm.lm_head.as_ref().expect("the fixture's head is untied");
    let hidden = fx.cfg.hidden_size;
    let head_grad = transpose(&grad(head.weight.val()), hidden, fx.cfg.vocab_size);
    let rows: Vec<f32> = ids(&reference["grads"]["lm_head.weight"]["rows"])
        .iter()
        .flat_map(|&r| head_grad[r as usize * hidden..(r as usize + 1) * hidden].to_vec())
        .collect();
    assert_close("lm_head (rows)", &rows, &want("lm_head.weight"));

    // The embedding: the reference's rows are the ids in use, every other row (the pad's
    // included) must get no gradient.
    let embed = grad(lm.embed_tokens.weight.val());
    let used = ids(&reference["grads"]["model.embed_tokens.weight"]["rows"]);
    let want_rows = want("model.embed_tokens.weight");
    let mut full = vec![0.0f32; embed.len()];
    for (k, &r) in used.iter().enumerate() {
        let r = r as usize;
        full[r * hidden..(r + 1) * hidden]
            .copy_from_slice(&want_rows[k * hidden..(k + 1) * hidden]);
    }
    assert_close("embed_tokens", &embed, &full);
}

#[test]
fn critic_loss_and_gradients_match_transformers() {
    let fx = Fixture::load();
    let reference = &fx.reference["critic"];
    let weight = WeightTensor {
        shape: vec![1, fx.cfg.hidden_size],
        data: floats(&reference["score_weight"]),
    };
    let head = ScalarHead::from_hf(&weight, fx.cfg.hidden_size, &fx.device).unwrap();
    let critic = RewardModel { lm: fx.lm(), head };

    let refs: Vec<&Sample> = fx.samples.iter().collect();
    let v = rollout::values(&critic, &fx.rope, &refs, 3, PAD);
    assert_close("values", &v.concat(), &floats(&reference["values"]));

    let exp = fx.experience(
        Vec::new(),
        Vec::new(),
        fx.per_token_f32(&reference["old_values"]),
        Vec::new(),
        fx.per_token_f64(&reference["returns"]),
    );
    let batch: Vec<usize> = (0..fx.samples.len()).collect();
    let scale = 1.0 / fx.tokens() as f64;
    let value_clip = fx.reference["value_clip"].as_f64().unwrap();
    let loss = critic_loss(&critic, &fx.rope, &exp, &batch, scale, PAD, value_clip);
    assert_close(
        "critic loss",
        &values(loss.clone()),
        &[number(&reference["loss"])],
    );

    let grads = loss.backward();
    let grad = |t: Tensor<2>| values(t.grad(&grads).expect("a gradient"));
    let want = |name: &str| floats(&reference["grads"][name]["values"]);
    assert_close(
        "score.weight",
        &grad(critic.head.score.weight.val()),
        &want("score.weight"),
    );
    let norm = values(critic.lm.norm.gamma.val().grad(&grads).expect("a gradient"));
    assert_close(
        "critic model.norm.weight",
        &norm,
        &want("model.norm.weight"),
    );
    let q = critic.lm.layers[1].self_attn.q_proj.weight.val();
    let [d_in, d_out] = q.dims();
    assert_close(
        "critic layers.1.q_proj",
        &transpose(&grad(q), d_in, d_out),
        &want("model.layers.1.self_attn.q_proj.weight"),
    );
}

/// The critic's first update with the values from its own forward equals a values pass followed
/// by the ordinary step: the same values, loss and updated weights.
#[test]
fn the_fused_critic_step_equals_a_values_pass_then_a_step() {
    let fx = Fixture::load();
    let weight = WeightTensor {
        shape: vec![1, fx.cfg.hidden_size],
        data: floats(&fx.reference["critic"]["score_weight"]),
    };
    let critic = || RewardModel {
        lm: fx.lm(),
        head: ScalarHead::from_hf(&weight, fx.cfg.hidden_size, &fx.device).unwrap(),
    };
    let token_rewards: Vec<Vec<f64>> = fx
        .lens
        .iter()
        .map(|&n| (0..n).map(|j| 0.3 * j as f64 - 0.2).collect())
        .collect();
    let (gamma, lambda, value_clip, lr) = (1.0, 0.95, 0.2, 1e-3);
    let settings = OptimizerSettings {
        beta1: 0.9,
        beta2: 0.98,
        eps: 1e-8,
        weight_decay: 0.0,
    };
    let mini = [2, 0, 1];

    let separate = critic();
    let refs: Vec<&Sample> = fx.samples.iter().collect();
    let rollout_values = rollout::values(&separate, &fx.rope, &refs, 2, PAD);
    let returns: Vec<Vec<f64>> = token_rewards
        .iter()
        .zip(&rollout_values)
        .map(|(r, v)| {
            let v: Vec<f64> = v.iter().map(|&x| x as f64).collect();
            gae(r, &v, gamma, lambda).1
        })
        .collect();
    let mut exp = fx.experience(
        Vec::new(),
        Vec::new(),
        rollout_values.clone(),
        Vec::new(),
        returns,
    );
    exp.token_rewards = token_rewards.clone();
    let (mut optim, mut stats) = (settings.init(), CriticStats::default());
    let update = CriticUpdate {
        micro: 2,
        lr,
        max_grad_norm: 1.0,
        pad: PAD,
        value_clip,
    };
    let separate = critic_step(
        separate, &mut optim, &fx.rope, &exp, &mini, &update, &mut stats,
    );

    let (mut optim, mut fused_stats) = (settings.init(), CriticStats::default());
    let targets = ValueTargets {
        token_rewards: &token_rewards,
        gamma,
        lambda,
    };
    let (fused, fused_values) = critic_step_with_values(
        critic(),
        &mut optim,
        &fx.rope,
        &fx.samples,
        targets,
        &mini,
        &update,
        &mut fused_stats,
    );
    assert_close("values", &fused_values.concat(), &rollout_values.concat());
    assert_close("loss", &[fused_stats.loss as f32], &[stats.loss as f32]);
    assert!(stats.loss > 0.0 && stats.grad_norm > 0.0);
    assert_close(
        "score.weight after the step",
        &values(fused.head.score.weight.val()),
        &values(separate.head.score.weight.val()),
    );
    assert_close(
        "layers.1.q_proj after the step",
        &values(fused.lm.layers[1].self_attn.q_proj.weight.val()),
        &values(separate.lm.layers[1].self_attn.q_proj.weight.val()),
    );
}
