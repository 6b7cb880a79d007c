//! Generation benchmark (not a test): prefill 256 tokens at batch 1 and 8, greedy decode of 128 new
//! tokens at batch 1 and 8, a rollout (32 prompts × 128 tokens sampled at temperature 1), peak RSS.
//! Run through `cargo xtask bench generate`, which runs the same workloads in PyTorch and llama.cpp
//! and prints the ratios; alone:
//! `cargo bench -p cai-model --bench generate -- OUT.json [--dtype f32|f16|bf16]`.

use std::time::Instant;

use cai_cli::bench::{peak_rss_mib, pseudo_text_ids};
use cai_model::{
    Engine, GenerationRequest, LoadOptions, LoadedModel, ModelSpec, Prompt, SamplingParams,
    TokenBatch,
};
use serde_json::json;

const PREFILL_TOKENS: usize = 256;
const DECODE_PROMPT: usize = 32;
const DECODE_TOKENS: usize = 128;
const ROLLOUT_PROMPTS: usize = 32;
const ROLLOUT_TOKENS: usize = 128;

fn prompt_ids(row: usize, len: usize) -> Vec<u32> {
    pseudo_text_ids(row, len)
}

/// Median wall time of `f` over `reps` runs after one warm-up.
fn time(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn prefill_seconds(model: &LoadedModel, batch: usize) -> f64 {
    let seqs: Vec<Vec<u32>> = (0..batch).map(|r| prompt_ids(r, PREFILL_TOKENS)).collect();
    let tokens = TokenBatch::right_padded(&seqs, 0);
    time(3, || {
        let mut cache = model.lm.new_cache(batch, PREFILL_TOKENS);
        let hidden = model
            .lm
            .forward_hidden(&tokens, &model.rope, Some(&mut cache));
        let [b, t, d] = hidden.dims();
        let logits = model.lm.logits(hidden.slice([0..b, t - 1..t, 0..d]));
        let _ = logits.into_data();
    })
}

fn decode_tok_s(engine: &Engine, batch: usize) -> f64 {
    let requests: Vec<GenerationRequest> = (0..batch)
        .map(|r| GenerationRequest {
            prompt: Prompt::Tokens(prompt_ids(r, DECODE_PROMPT)),
            params: SamplingParams {
                ignore_eos: true,
                ..SamplingParams::greedy(DECODE_TOKENS)
            },
        })
        .collect();
    let prompt_only: Vec<GenerationRequest> = requests
        .iter()
        .map(|r| GenerationRequest {
            params: SamplingParams::greedy(1),
            ..r.clone()
        })
        .collect();
    let total = time(2, || {
        engine.generate(&requests).unwrap();
    });
    let first = time(2, || {
        engine.generate(&prompt_only).unwrap();
    });
    (batch * (DECODE_TOKENS - 1)) as f64 / (total - first)
}

/// The rollout shape PPO and labelling use: 32 chat-length prompts, 128 tokens each sampled at
/// temperature 1 (no top-k/top-p), end-of-sequence ignored so every row runs to the end; one
/// timed run after a warm-up, prefill included.
fn rollout_tok_s(engine: &Engine) -> f64 {
    let requests: Vec<GenerationRequest> = (0..ROLLOUT_PROMPTS)
        .map(|r| GenerationRequest {
            prompt: Prompt::Tokens(prompt_ids(r, DECODE_PROMPT)),
            params: SamplingParams {
                greedy: false,
                temperature: 1.0,
                top_k: 0,
                top_p: 1.0,
                ignore_eos: true,
                random_seed: Some(r as u64),
                ..SamplingParams::greedy(ROLLOUT_TOKENS)
            },
        })
        .collect();
    let seconds = time(1, || {
        engine.generate(&requests).unwrap();
    });
    (ROLLOUT_PROMPTS * ROLLOUT_TOKENS) as f64 / seconds
}

fn main() {
    cai_cli::allocator::retain_freed_memory();
    // The main thread in rayon's pool, as the training and PPO binaries run.
    cai_cli::threads::compute_on_this_thread();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = args.iter().find(|a| a.ends_with(".json"));
    let dtype = args
        .iter()
        .position(|a| a == "--dtype")
        .and_then(|i| args.get(i + 1))
        .map_or("f32", String::as_str);
    let opts = LoadOptions {
        dtype: cai_model::device::parse_dtype(dtype).unwrap(),
        ..LoadOptions::default()
    };
    let model = LoadedModel::load(&ModelSpec::Default, &opts).unwrap();
    let threads = rayon::current_num_threads();
    let prefill_b1 = PREFILL_TOKENS as f64 / prefill_seconds(&model, 1);
    let prefill_b8 = (8 * PREFILL_TOKENS) as f64 / prefill_seconds(&model, 8);
    let engine = Engine::new(model);
    let decode_b1 = decode_tok_s(&engine, 1);
    let decode_b8 = decode_tok_s(&engine, 8);
    let rollout_b32 = rollout_tok_s(&engine);
    let result = json!({
        "prefill_b1_tok_s": prefill_b1, "prefill_b8_tok_s": prefill_b8,
        "decode_b1_tok_s": decode_b1, "decode_b8_tok_s": decode_b8,
        "rollout_b32_tok_s": rollout_b32,
        "peak_rss_mib": peak_rss_mib(), "threads": threads, "dtype": dtype,
    });
    println!("{result}");
    if let Some(path) = out {
        std::fs::write(path, result.to_string()).unwrap();
    }
}
