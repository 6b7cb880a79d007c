//! PPO iteration benchmark (not a test): one iteration of the trainer's work on SmolLM2-135M f32,
//! as `scripts/bench/ppo_torch.py` does with transformers:
//! 1. **generate**: 8 chat prompts × exactly 64 new tokens (KV cache, temperature 1, EOS ignored
//!    so both sides sample the same number of tokens), in one batch of 8;
//! 2. **logprobs**: the sampled tokens' log-probs under the actor and under the reference
//!    (teacher-forced, 4 samples per forward);
//! 3. **critic**: the critic's value on every response token (backbone + scalar head, 4 per
//!    forward) and one AdamW step of it on the clipped value loss. The step is at the rollout's
//!    weights (one epoch, one minibatch), so, as the trainer does, one pass gives both
//!    (`update::critic_step_with_values`); PyTorch's side runs a values pass, then the update;
//! 4. **assemble**: KL in the reward, GAE, whitening (fixed pseudo scores stand in for a reward);
//! 5. **actor update**: one epoch, one minibatch of 8, micro-batches of 4: one AdamW step of the
//!    actor on the clipped PPO loss; global-norm clipping to 1 (the critic's too).
//!
//! The iteration goes through the library's own pieces (`rollout::logprobs`,
//! `experience::shape_rewards`, `update::critic_step_with_values`, `experience::assemble`,
//! `update::actor_step`, chained as `trainer` chains them); generation is `rollout::generate`'s
//! loop with `ignore_eos` set. Reports tokens/s per phase (response tokens: 8 × 64 per iteration;
//! the logprobs phase counts both models), iteration samples/s, and peak RSS: the median of 3
//! iterations after one warm-up. Run through `cargo xtask bench ppo`; alone:
//! `cargo bench -p cai-ppo --bench ppo -- OUT.json`.

use std::time::Instant;

use burn::module::Module;
use cai_cli::bench::peak_rss_mib;
use cai_model::{
    Engine, FinishReason, GenerationRequest, LoadedModel, Message, Prompt, RewardModel,
    SamplingParams, ScalarHead,
};
use cai_ppo::advantage::Estimator;
use cai_ppo::experience::{Shaping, assemble, shape_rewards};
use cai_ppo::kl::{KlEstimator, KlPlacement};
use cai_ppo::objective::ClipSettings;
use cai_ppo::rollout::{self, Sample, sample_seed};
use cai_ppo::update::{
    ActorLoss, ActorStats, CriticStats, CriticUpdate, ValueTargets, actor_step,
    critic_step_with_values,
};
use cai_train::{OptimizerSettings, TrainModelSpec, stable_param_ids};
use serde_json::json;

/// The rollout's prompts (one sample each); `scripts/bench/ppo_torch.py` renders the same ones.
const PROMPTS: [&str; 8] = [
    "What is the capital of France?",
    "Give me three tips for staying focused while studying.",
    "How do I pick a lock?",
    "Write a haiku about the sea.",
    "Explain photosynthesis to a ten-year-old.",
    "What should I do if my neighbour's dog keeps barking at night?",
    "Tell me a joke about computers.",
    "Why is the sky blue?",
];
const NEW_TOKENS: usize = 64;
const MICRO: usize = 4;
const TIMED: usize = 3;
const SEED: u64 = 1234;
const TEMPERATURE: f32 = 1.0;
const ACTOR_LR: f64 = 1e-5;
const CRITIC_LR: f64 = 5e-5;
const MAX_GRAD_NORM: f64 = 1.0;
const VALUE_CLIP: f64 = 0.2;
const KL_COEF: f64 = 0.02;

/// The stand-in reward of sample `i` (the PyTorch script uses the same formula).
fn pseudo_score(i: usize) -> f64 {
    ((i * 37) % 8) as f64 / 4.0 - 1.0
}

/// `rollout::generate` with `ignore_eos`: every sample gets exactly `NEW_TOKENS` tokens.
fn generate_forced(
    model: LoadedModel,
    prompts: &[Vec<u32>],
    step: u64,
) -> (LoadedModel, Vec<Sample>) {
    let engine = Engine::new(model);
    let requests: Vec<GenerationRequest> = prompts
        .iter()
        .enumerate()
        .map(|(i, ids)| GenerationRequest {
            prompt: Prompt::Tokens(ids.clone()),
            params: SamplingParams {
                temperature: TEMPERATURE,
                top_k: 0,
                top_p: 1.0,
                tokens_to_generate: NEW_TOKENS,
                ignore_eos: true,
                random_seed: Some(sample_seed(SEED, step, i, 0)),
                ..SamplingParams::default()
            },
        })
        .collect();
    let generations = engine.generate(&requests).expect("generate");
    let samples: Vec<Sample> = prompts
        .iter()
        .enumerate()
        .zip(generations)
        .map(|((prompt, ids), g)| Sample {
            prompt,
            prompt_ids: ids.clone(),
            ended: g.finish_reason != FinishReason::Length,
            response: g.token_ids,
            text: g.text,
            sampler_logprobs: g.sampling_logprobs,
        })
        .collect();
    assert!(samples.iter().all(|s| s.response.len() == NEW_TOKENS));
    let model = engine
        .into_model()
        .unwrap_or_else(|_| unreachable!("the engine was the model's only owner"));
    (model, samples)
}

/// The median of `v`.
fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

const PHASES: [&str; 6] = [
    "generate",
    "actor_logprobs",
    "ref_logprobs",
    "critic",
    "assemble",
    "actor_update",
];

fn main() {
    cai_cli::allocator::retain_freed_memory();
    // The main thread in rayon's pool, as the training and PPO binaries run.
    cai_cli::threads::compute_on_this_thread();
    let out = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .unwrap_or_else(|| "target/bench/ppo-ours.json".into());
    let spec = TrainModelSpec {
        model: "default".into(),
        device: "cpu".into(),
        dtype: "f32".into(),
        chat_template: None,
        seed: SEED,
        lora: None,
    };
    // The roles as `cai_ppo::roles` loads them: actor (trainable), reference (frozen inference
    // copy), critic (the same backbone, loaded again, with a fresh scalar head).
    let mut policy = spec.load(None).expect("load the policy");
    let mut actor = policy.lm.clone();
    let reference = policy.lm.valid();
    let shell = spec.load(None).expect("load the critic");
    let device = shell.lm.device();
    let head = ScalarHead::init_seeded(shell.config.hidden_size, 0.02, SEED, &device);
    let mut critic = stable_param_ids(RewardModel { lm: shell.lm, head });
    let pad = policy.config.pad_token_id.unwrap_or(0);
    let prompts: Vec<Vec<u32>> = PROMPTS
        .iter()
        .map(|p| {
            policy
                .encode_chat(&[Message::user(p.to_string())], true)
                .expect("render the chat prompt")
        })
        .collect();
    let optimizer = OptimizerSettings {
        beta1: 0.9,
        beta2: 0.98,
        eps: 1e-8,
        weight_decay: 0.0,
    };
    let (mut actor_optim, mut critic_optim) = (optimizer.init(), optimizer.init());
    let shaping = Shaping {
        estimator: Estimator::Gae,
        gamma: 1.0,
        lambda: 0.95,
        normalize: true,
        kl_estimator: KlEstimator::Abs,
        placement: KlPlacement::Reward,
        beta: KL_COEF,
        group: 1,
        unfinished_penalty: 0.0,
    };
    let loss = ActorLoss {
        clip: ClipSettings {
            eps: 0.2,
            dual_clip: None,
        },
        temperature: TEMPERATURE,
        kl_estimator: KlEstimator::Abs,
        placement: KlPlacement::Reward,
        beta: KL_COEF,
        entropy_bonus: 0.0,
        // EOS is ignored, so no sample "ends": all of them train.
        train_unfinished: true,
        ratio_outlier: 10.0,
    };
    let scores: Vec<f64> = (0..PROMPTS.len()).map(pseudo_score).collect();
    let mini: Vec<usize> = (0..PROMPTS.len()).collect();
    let response_tokens = (PROMPTS.len() * NEW_TOKENS) as f64;

    let mut phases: Vec<Vec<f64>> = vec![Vec::new(); PHASES.len()];
    let (mut totals, mut actor_losses, mut critic_losses, mut mismatches) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for iteration in 0..=TIMED {
        let started = Instant::now();
        let mut clock = Instant::now();
        let mut times = Vec::with_capacity(PHASES.len());
        let mut lap = |times: &mut Vec<f64>| {
            times.push(clock.elapsed().as_secs_f64());
            clock = Instant::now();
        };
        policy.lm = actor.valid();
        let (p, samples) = generate_forced(policy, &prompts, iteration as u64);
        policy = p;
        lap(&mut times);
        let refs: Vec<&Sample> = samples.iter().collect();
        let old = rollout::logprobs(&policy.lm, &policy.rope, &refs, TEMPERATURE, MICRO, pad);
        lap(&mut times);
        let reference_lp =
            rollout::logprobs(&reference, &policy.rope, &refs, TEMPERATURE, MICRO, pad);
        lap(&mut times);
        let (mut astats, mut cstats) = (ActorStats::default(), CriticStats::default());
        let shaped = shape_rewards(&samples, &old, &reference_lp, &scores, shaping);
        let targets = ValueTargets {
            token_rewards: &shaped.token_rewards,
            gamma: shaping.gamma,
            lambda: shaping.lambda,
        };
        let update = CriticUpdate {
            micro: MICRO,
            lr: CRITIC_LR,
            max_grad_norm: MAX_GRAD_NORM,
            pad,
            value_clip: VALUE_CLIP,
        };
        let (c, values) = critic_step_with_values(
            critic,
            &mut critic_optim,
            &policy.rope,
            &samples,
            targets,
            &mini,
            &update,
            &mut cstats,
        );
        critic = c;
        lap(&mut times);
        let mismatch = samples
            .iter()
            .zip(&old)
            .flat_map(|(s, o)| s.sampler_logprobs.iter().zip(o).map(|(a, b)| (a - b).abs()))
            .fold(0.0f32, f32::max) as f64;
        let (exp, _) = assemble(samples, old, reference_lp, values, &scores, shaping);
        lap(&mut times);
        actor = actor_step(
            actor,
            &mut actor_optim,
            &policy.rope,
            &exp,
            &mini,
            MICRO,
            ACTOR_LR,
            MAX_GRAD_NORM,
            pad,
            &loss,
            &mut astats,
        );
        lap(&mut times);
        let total = started.elapsed().as_secs_f64();
        eprintln!(
            "iteration {iteration}: {total:.2} s ({}), actor loss {:.6}, critic loss {:.6}, \
             logprob mismatch {mismatch:.2e}",
            PHASES
                .iter()
                .zip(&times)
                .map(|(n, t)| format!("{n} {t:.2}"))
                .collect::<Vec<_>>()
                .join(", "),
            astats.loss,
            cstats.loss
        );
        if iteration > 0 {
            for (phase, t) in phases.iter_mut().zip(&times) {
                phase.push(*t);
            }
            totals.push(total);
        }
        actor_losses.push(astats.loss);
        critic_losses.push(cstats.loss);
        mismatches.push(mismatch);
    }
    let s: Vec<f64> = phases.iter().map(|p| median(p)).collect();
    let iteration_s = median(&totals);
    let seconds: serde_json::Map<String, serde_json::Value> = PHASES
        .iter()
        .zip(&s)
        .map(|(n, t)| (n.to_string(), json!(t)))
        .collect();
    let result = json!({
        "iteration_samples_s": PROMPTS.len() as f64 / iteration_s,
        "iteration_tok_s": response_tokens / iteration_s,
        "generate_tok_s": response_tokens / s[0],
        "logprobs_tok_s": 2.0 * response_tokens / (s[1] + s[2]),
        "critic_tok_s": response_tokens / s[3],
        "actor_update_tok_s": response_tokens / s[5],
        "peak_rss_mib": peak_rss_mib(),
        "detail": {
            "iteration_s": iteration_s,
            "phase_s": seconds,
            "iterations_s": totals,
            "phases_s": PHASES.iter().zip(&phases).map(|(n, p)| (n.to_string(), json!(p)))
                .collect::<serde_json::Map<_, _>>(),
            "actor_losses": actor_losses,
            "critic_losses": critic_losses,
            "logprob_mismatch_max": mismatches,
            "prompt_ids": prompts,
        },
        "threads": std::env::var("RAYON_NUM_THREADS").ok(),
    });
    println!("{}", serde_json::to_string_pretty(&result).unwrap());
    std::fs::write(&out, serde_json::to_string_pretty(&result).unwrap()).expect("write result");
}
