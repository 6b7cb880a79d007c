//! `cai-ppo`: PPO of a policy against a reward model or a rule reward.
//!
//! `cai-ppo [--policy M] --prompts FILE --out DIR [--reward-model RM | --reward rule:length=N |
//! --reward rule:contains=WORD] [--steps N] [--rollout-batch B] [--max-new-tokens T]
//! [--estimator gae|rloo|grpo] [--lora-rank R] [--resume]` writes `DIR/metrics.jsonl` (one line
//! per step with `step`, `rewards`, `init_policy_kl`), `DIR/rollouts.jsonl` and `DIR/model` (the
//! final policy).

mod flags;

use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "cai-ppo",
    version,
    about = "PPO (GAE, RLOO, GRPO) of a policy against a reward model, KL-penalised to the reference"
)]
struct Cli {
    #[command(flatten)]
    flags: flags::Flags,
}

fn run(flags: flags::Flags) -> anyhow::Result<()> {
    let cfg = cai_ppo::PpoConfig::load(flags.config.as_deref(), flags.overrides()?)?;
    let s = cai_ppo::train(&cfg)?;
    let show = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
    println!(
        "{}: {}/{} PPO steps ({}, reward {}); rollout reward {} → {}; validation reward {} → {}; \
         KL to the reference {} (coefficient {:.4}); {} guard-rail events; model {}",
        cfg.output_dir.display(),
        s.steps,
        s.max_steps,
        s.estimator,
        s.reward,
        show(s.first_rewards),
        show(s.last_rewards),
        show(s.val_rewards_before),
        show(s.val_rewards),
        show(s.last_init_policy_kl),
        s.kl_coef,
        s.guard_events.len(),
        s.model_dir
            .as_ref()
            .map_or("-".into(), |d| d.display().to_string()),
    );
    Ok(())
}

fn main() -> ExitCode {
    cai_cli::init_process();
    cai_cli::threads::compute_on_this_thread();
    match run(Cli::parse().flags) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
