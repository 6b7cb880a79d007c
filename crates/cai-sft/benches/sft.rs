//! SFT step benchmark (not a test): one optimizer step (forward, backward, global-norm clipping,
//! AdamW) at batch 4 × 256 tokens on SmolLM2-135M f32, loss on every position, as
//! `scripts/bench/sft_torch.py` does in PyTorch. Reports tokens/s (median of 3 steps after one
//! warm-up step) and peak RSS. Run through `cargo xtask bench sft`; alone:
//! `cargo bench -p cai-sft --bench sft -- OUT.json`.

use std::time::Instant;

use cai_cli::bench::{peak_rss_mib, pseudo_text_ids};
use cai_model::burn::optim::GradientsParams;
use cai_model::{LoadOptions, LoadedModel, ModelSpec};
use cai_sft::batches::{MicroBatch, Row};
use cai_sft::encode::Example;
use cai_sft::loss::mean_target_nll;
use cai_train::{OptimizerSettings, clip_global_norm, stable_param_ids};
use serde_json::json;

const BATCH: usize = 4;
const SEQ: usize = 256;
const TIMED_STEPS: usize = 3;

fn row_ids(row: usize) -> Vec<u32> {
    pseudo_text_ids(row, SEQ)
}

fn main() {
    cai_cli::allocator::retain_freed_memory();
    // The main thread in rayon's pool, as the training and PPO binaries run.
    cai_cli::threads::compute_on_this_thread();
    let out = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .unwrap_or_else(|| "target/bench/sft-ours.json".into());
    let device = cai_model::device::default_device().autodiff();
    device.seed(1234);
    let opts = LoadOptions {
        device,
        ..LoadOptions::default()
    };
    let mut model = LoadedModel::load(&ModelSpec::Default, &opts).expect("load SmolLM2");
    let rows: Vec<Row> = (0..BATCH)
        .map(|r| Row {
            examples: vec![Example {
                ids: row_ids(r),
                trained: vec![true; SEQ],
            }],
        })
        .collect();
    let refs: Vec<&Row> = rows.iter().collect();
    let batch = MicroBatch::new(&refs, 0);
    let settings = OptimizerSettings {
        beta1: 0.9,
        beta2: 0.98,
        eps: 1e-8,
        weight_decay: 0.01,
    };
    let mut optim = settings.init();
    let mut lm = stable_param_ids(model.lm);
    let mut times = Vec::new();
    let mut losses = Vec::new();
    for _ in 0..=TIMED_STEPS {
        let started = Instant::now();
        let loss = mean_target_nll(&lm, &model.rope, &batch);
        losses.push(loss.clone().into_scalar::<f32>());
        let t_fwd = started.elapsed().as_secs_f64();
        let grads = GradientsParams::from_grads(loss.backward(), &lm);
        let t_bwd = started.elapsed().as_secs_f64();
        let (grads, _) = clip_global_norm(&lm, grads, 1.0);
        let t_clip = started.elapsed().as_secs_f64();
        lm = optim.step(3e-5, lm, grads);
        let total = started.elapsed().as_secs_f64();
        eprintln!(
            "step: forward {t_fwd:.2} s, backward {:.2} s, clip {:.2} s, AdamW {:.2} s",
            t_bwd - t_fwd,
            t_clip - t_bwd,
            total - t_clip
        );
        times.push(started.elapsed().as_secs_f64());
    }
    model.lm = lm;
    let mut timed = times[1..].to_vec();
    timed.sort_by(f64::total_cmp);
    let step_s = timed[timed.len() / 2];
    let result = json!({
        "tok_s": (BATCH * SEQ) as f64 / step_s,
        "peak_rss_mib": peak_rss_mib(),
        "detail": {"step_s": step_s, "first_step_s": times[0], "losses": losses},
        "threads": std::env::var("RAYON_NUM_THREADS").ok(),
    });
    println!("{}", serde_json::to_string_pretty(&result).unwrap());
    std::fs::write(&out, serde_json::to_string_pretty(&result).unwrap()).expect("write result");
}
