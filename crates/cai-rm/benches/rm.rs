//! Reward-model step benchmark (not a test): one optimizer step (forward of both sides, the
//! Bradley-Terry loss, backward, global-norm clipping, AdamW) on 4 pairs × 256 tokens with
//! SmolLM2-135M f32 and a scalar head, as `scripts/bench/rm_torch.py` does with transformers'
//! `LlamaForSequenceClassification`. Reports tokens/s (both sides counted; median of 3 steps after
//! one warm-up step) and peak RSS. Run through `cargo xtask bench rm`; alone:
//! `cargo bench -p cai-rm --bench rm -- OUT.json`.

use std::time::Instant;

use cai_cli::bench::{peak_rss_mib, pseudo_text_ids};
use cai_model::{LoadOptions, LoadedModel, ModelSpec, ScalarHead};
use cai_rm::RewardModel;
use cai_rm::loss::{LossSettings, bradley_terry};
use cai_train::{OptimizerSettings, accumulated_step, stable_param_ids};
use serde_json::json;

const PAIRS: usize = 4;
const SEQ: usize = 256;
const TIMED_STEPS: usize = 3;

fn main() {
    cai_cli::allocator::retain_freed_memory();
    // The main thread in rayon's pool, as the training and PPO binaries run.
    cai_cli::threads::compute_on_this_thread();
    let out = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .unwrap_or_else(|| "target/bench/rm-ours.json".into());
    let device = cai_model::device::default_device().autodiff();
    device.seed(1234);
    let opts = LoadOptions {
        device: device.clone(),
        ..LoadOptions::default()
    };
    let model = LoadedModel::load(&ModelSpec::Default, &opts).expect("load SmolLM2");
    let head = ScalarHead::init(model.config.hidden_size, 0.02, &device);
    let mut rm = stable_param_ids(RewardModel {
        lm: model.lm.clone(),
        head,
    });
    // Rows 0..4 are the chosen sides, 4..8 the rejected ones (the PyTorch script's order).
    let rows: Vec<Vec<u32>> = (0..2 * PAIRS).map(|r| pseudo_text_ids(r, SEQ)).collect();
    let settings = OptimizerSettings {
        beta1: 0.9,
        beta2: 0.98,
        eps: 1e-8,
        weight_decay: 0.1,
    };
    let mut optim = settings.init();
    let loss_settings = LossSettings {
        margin: 0.0,
        centring: 0.0,
    };
    let (mut times, mut losses) = (Vec::new(), Vec::new());
    for _ in 0..=TIMED_STEPS {
        let started = Instant::now();
        let outcome = accumulated_step(rm, &mut optim, &[&rows], 2e-5, 1.0, |rm, rows| {
            let seqs: Vec<&[u32]> = rows.iter().map(Vec::as_slice).collect();
            let rewards = rm.rewards(&model.rope, &seqs, 0);
            let (c, r) = (
                rewards.clone().narrow(0, 0, PAIRS),
                rewards.narrow(0, PAIRS, PAIRS),
            );
            bradley_terry(c, r, &[1.0; PAIRS], loss_settings)
        });
        rm = outcome.module;
        losses.push(outcome.loss);
        times.push(started.elapsed().as_secs_f64());
        eprintln!(
            "step: {:.2} s, loss {:.6}",
            times.last().unwrap(),
            outcome.loss
        );
    }
    let mut timed = times[1..].to_vec();
    timed.sort_by(f64::total_cmp);
    let step_s = timed[timed.len() / 2];
    let result = json!({
        "tok_s": (2 * PAIRS * SEQ) as f64 / step_s,
        "peak_rss_mib": peak_rss_mib(),
        "detail": {"step_s": step_s, "first_step_s": times[0], "losses": losses},
        "threads": std::env::var("RAYON_NUM_THREADS").ok(),
    });
    println!("{}", serde_json::to_string_pretty(&result).unwrap());
    std::fs::write(&out, serde_json::to_string_pretty(&result).unwrap()).expect("write result");
}
