//! One run of the stage: load inputs, generate what the work log lacks, rebuild the final files.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use cai_data::{ChatSample, Constitution, RedTeamPrompt, corpus};
use cai_judge::OptionScorer;
use cai_model::Generator;

use crate::assemble::{TokenCounter, assemble};
use crate::config::Config;
use crate::error::{CritiqueError, Result};
use crate::generate::{Observer, generate_all};
use crate::input::{Loaded, read_helpfulness, read_prompts};
use crate::output;
use crate::plan::{Plan, WorkItem};
use crate::progress::ProgressLog;
use crate::summary::{InputSummary, Ratio, RunInfo, Summary};
use cai_backend::GeneratorInfo;

/// The inputs of a run: prompts, helpfulness samples and the constitution.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// Red-team prompts.
    pub prompts: Loaded<RedTeamPrompt>,
    /// Helpfulness conversations to blend in.
    pub helpfulness: Loaded<ChatSample>,
    /// Principles and demonstrations.
    pub constitution: Constitution,
}

impl Inputs {
    /// Reads the files `config` names, or the built-in corpus and constitution.
    pub fn load(config: &Config) -> Result<Self> {
        let prompts = match &config.prompts {
            Some(path) => read_prompts(path)?,
            None => Loaded::builtin(corpus::red_team_prompts()),
        };
        let helpfulness = match &config.helpfulness {
            Some(path) => read_helpfulness(path)?,
            None => Loaded::builtin(corpus::helpful_chats()),
        };
        let constitution = if config.constitution.is_empty() {
            Constitution::builtin()
        } else {
            Constitution::load_all(&config.constitution)?
        };
        Ok(Self {
            prompts,
            helpfulness,
            constitution,
        })
    }
}

/// What the run generates with.
pub struct Environment<'a> {
    /// One or more generators (in-process engine, remote endpoints); batches are spread over them.
    pub generators: Vec<&'a dyn Generator>,
    /// Token counter for `max_seq_length` (required unless it is 0).
    pub counter: Option<&'a dyn TokenCounter>,
    /// The chat template in use, for the summary.
    pub template: String,
    /// The judge of revision candidates (the in-process model; needed for
    /// `revision_candidates > 1`).
    pub judge: Option<&'a (dyn OptionScorer + Sync)>,
}

/// Runs the stage: resumes from `config.out/progress.jsonl`, generates the missing prompts, and
/// writes `trace.jsonl`, `sl_cai.jsonl`, `sft.jsonl`, `rejects.jsonl` and `summary.json`.
pub fn run(
    config: &Config,
    inputs: &Inputs,
    env: &Environment<'_>,
    observer: &mut dyn Observer,
) -> Result<Summary> {
    let started = Instant::now();
    let started_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let out = &config.out;
    std::fs::create_dir_all(out).map_err(|e| CritiqueError::io(out, e))?;
    output::write_json(&out.join(output::CONFIG), config)?;
    let plan = Plan::new(config, &inputs.constitution)?;
    let available = &inputs.prompts.records;
    let used = &available[..config.limit.unwrap_or(available.len()).min(available.len())];
    if used.is_empty() {
        return Err(CritiqueError::Invalid(format!(
            "{}: no usable prompts ({} bad records)",
            inputs.prompts.origin, inputs.prompts.bad.count
        )));
    }
    let items: Vec<WorkItem> = used.iter().cloned().map(|p| plan.item(p)).collect();
    let _span = tracing::info_span!("critique", prompts = items.len()).entered();
    let mut log = ProgressLog::open(out)?;
    let stats = generate_all(
        &plan,
        &items,
        config.batch_size,
        &env.generators,
        env.judge,
        &mut log,
        observer,
    )?;
    let done = log.read_all()?;
    let assembled = assemble(
        config,
        &items,
        &done,
        &inputs.helpfulness.records,
        env.counter,
    )?;
    let outputs = output::write_records(out, &assembled, config.hf_messages)?;
    let wall_secs = started.elapsed().as_secs_f64();
    let counts = assembled.counts;
    let mut generators: Vec<String> = env.generators.iter().map(|g| g.describe()).collect();
    generators.dedup();
    let summary = Summary {
        inputs: InputSummary {
            prompts: inputs.prompts.origin.clone(),
            prompts_read: available.len(),
            prompts_bad: inputs.prompts.bad.clone(),
            prompts_used: items.len(),
            helpfulness: inputs.helpfulness.origin.clone(),
            helpfulness_read: inputs.helpfulness.records.len(),
            helpfulness_bad: inputs.helpfulness.bad.clone(),
            constitution: inputs.constitution.name.clone(),
            principles: plan.principles.len(),
            few_shot: plan.few_shot,
        },
        model: config.model.clone(),
        generator: GeneratorInfo::of(config),
        generators,
        template: env.template.clone(),
        config: config.clone(),
        settings_hash: plan.settings_hash.clone(),
        ratio: Ratio {
            requested: config.helpfulness_ratio,
            actual: (counts.sl_cai_samples > 0)
                .then(|| counts.helpfulness_used as f64 / counts.sl_cai_samples as f64),
        },
        counts,
        outputs,
        run: RunInfo {
            started_unix,
            wall_secs,
            prompts_generated: stats.generated,
            prompts_resumed: stats.resumed,
            prompts_per_sec: stats.generated as f64 / wall_secs.max(1e-9),
        },
    };
    output::write_json(&out.join(output::SUMMARY), &summary)?;
    tracing::info!(
        traces = summary.counts.traces,
        sl_cai = summary.counts.sl_cai_samples,
        blend = summary.counts.blend,
        secs = wall_secs,
        "critique stage done"
    );
    Ok(summary)
}
