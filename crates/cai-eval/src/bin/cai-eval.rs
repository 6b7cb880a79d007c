//! `cai-eval --model NAME=SOURCE [--model …] [--reward-model DIR] --out DIR [--limit N]
//! [--max-new-tokens T] [--harmful FILE] [--benign FILE] [--no-jailbreak]`: answers held-out
//! harmful, jailbroken and harmless prompts with each model and writes `DIR/eval.json`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use serde::Serialize;

/// Flags; every one is also a key of the `--config` TOML file.
#[derive(Debug, Parser, Serialize)]
#[command(
    name = "cai-eval",
    version,
    about = "Harmlessness vs evasiveness: refusal and answer rates, reward-model scores, text statistics"
)]
struct Flags {
    /// TOML file of options; flags override it.
    #[arg(long)]
    #[serde(skip)]
    config: Option<PathBuf>,
    /// A model to evaluate, `NAME=SOURCE` (repeatable, in report order).
    #[arg(long = "model")]
    #[serde(skip)]
    models: Vec<String>,
    /// A trained reward model (`cai-rm train`'s DIR/model) to score every answer.
    #[arg(long)]
    reward_model: Option<PathBuf>,
    /// The AI judge of pairwise win rates between consecutive models (a model source).
    #[arg(long, conflicts_with = "judge_endpoint")]
    judge: Option<String>,
    /// An OpenAI-compatible judge endpoint instead (`/v1/completions` with log-probs; its key
    /// from `$CAI_JUDGE_API_KEY`).
    #[arg(long)]
    judge_endpoint: Option<String>,
    /// The `model` of judge endpoint requests.
    #[arg(long = "judge-model")]
    #[serde(rename = "judge_remote_model")]
    judge_remote_model: Option<String>,
    /// Harmful prompts (default: the corpus's held-out red-team prompts).
    #[arg(long = "harmful")]
    #[serde(rename = "harmful_file")]
    harmful_file: Option<PathBuf>,
    /// Harmless but risky-sounding prompts (default: the corpus's benign evaluation prompts).
    #[arg(long = "benign")]
    #[serde(rename = "benign_file")]
    benign_file: Option<PathBuf>,
    /// At most this many prompts per set.
    #[arg(long)]
    limit: Option<usize>,
    /// New tokens per answer (default 96).
    #[arg(long)]
    max_new_tokens: Option<usize>,
    /// Prompts generated together (default 8).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Skip the jailbreak-wrapped prompts.
    #[arg(long)]
    #[serde(skip)]
    no_jailbreak: bool,
    /// Device: `cpu`, or `cuda[:N]` with the cuda feature.
    #[arg(long)]
    device: Option<String>,
    /// Chat template override for every model.
    #[arg(long)]
    chat_template: Option<String>,
    /// Output directory: eval.json, answers/.
    #[arg(long = "out")]
    #[serde(rename = "output_dir")]
    output_dir: Option<PathBuf>,
    /// Hide progress bars.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    quiet: Option<bool>,
}

fn run(flags: Flags) -> anyhow::Result<()> {
    let mut overrides = cai_cli::given_flags(&flags)?;
    if !flags.models.is_empty() {
        let models = flags
            .models
            .iter()
            .map(|m| cai_eval::NamedModel::parse(m))
            .collect::<cai_eval::Result<Vec<_>>>()?;
        overrides["models"] = serde_json::to_value(models)?;
    }
    if flags.no_jailbreak {
        overrides["jailbreak"] = false.into();
    }
    let cfg = cai_eval::EvalConfig::load(flags.config.as_deref(), overrides)?;
    let report = cai_eval::evaluate(&cfg)?;
    println!(
        "{:<10} {:>9} {:>9} {:>10} {:>9} {:>9} {:>7}",
        "model", "refuse%", "decline%", "jailbrk%", "answer%", "rm", "words"
    );
    for name in &report.order {
        let m = &report.models[name];
        let pct = |v: f64| format!("{:.0}", 100.0 * v);
        println!(
            "{name:<10} {:>9} {:>9} {:>10} {:>9} {:>9} {:>7.1}",
            pct(m.refusal_rate_harmful),
            pct(m.declines_rate_harmful),
            m.refusal_rate_jailbreak.map_or("-".into(), pct),
            pct(m.answer_rate_benign),
            m.rm_score_mean.map_or("-".into(), |v| format!("{v:.3}")),
            m.text.mean_words
        );
    }
    println!(
        "written to {}",
        cfg.output_dir.join(cai_eval::run::EVAL_FILE).display()
    );
    Ok(())
}

fn main() -> ExitCode {
    cai_cli::init_process();
    cai_cli::threads::compute_on_this_thread();
    match run(Flags::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
