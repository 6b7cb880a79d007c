//! A preference run: read and check the inputs (before any model loads), sample candidates for
//! each pending prompt (batches spread over the generators), judge every pair in both orders,
//! append each prompt to the work log, then write the records, NeMo files and summary from the
//! whole log.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use cai_backend::{Backend, BackendSettings, GeneratorInfo};
use cai_data::{Constitution, Generator, PreferenceRecord, RedTeamPrompt, write_json_atomic};

use crate::candidates::{keep_distinct, pairs, requests};
use crate::config::Config;
use crate::error::{PreferenceError, Result};
use crate::files::{AI_PREFERENCES, WORK_LOG, split_records};
use crate::judge::{Comparison, LocalJudge, OptionScorer, draw_principles, judge_both_orders};
use crate::label::{BothOrders, hash_hex};
use crate::records::{draw_helpful, record, split, split_names};
use crate::summary::{Counts, Summary};
use crate::worklog::{JudgedPair, PromptResult, WorkLog};

/// The checked inputs of a run.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// The red-team prompts (after `limit`).
    pub prompts: Vec<RedTeamPrompt>,
    /// Where they came from.
    pub prompts_origin: String,
    /// Human helpfulness pairs to blend from.
    pub helpful: Vec<PreferenceRecord>,
    /// The constitution (with judging principles).
    pub constitution: Constitution,
}

/// Errors unless `constitution` has judging principles; `origin` names it.
pub fn check_judge_principles(constitution: &Constitution, origin: &str) -> Result<()> {
    if constitution.judge_principles.is_empty() {
        return Err(PreferenceError::Input(format!(
            "{origin}: no judging principles (`[[judge_principles]]`)"
        )));
    }
    Ok(())
}

/// Loads the constitution files of `paths` (the built-in one when empty).
pub fn load_constitution(paths: &[std::path::PathBuf]) -> Result<Constitution> {
    let constitution = if paths.is_empty() {
        Constitution::builtin()
    } else {
        Constitution::load_all(paths)?
    };
    let origin = if paths.is_empty() {
        "the built-in constitution".to_string()
    } else {
        paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    check_judge_principles(&constitution, &origin)?;
    Ok(constitution)
}

/// Reads and checks every input `config` names; no model is loaded.
pub fn read_inputs(config: &Config) -> Result<Inputs> {
    let constitution = load_constitution(&config.constitution)?;
    let (mut prompts, prompts_origin) = match &config.prompts_file {
        Some(path) => (
            crate::input::read_prompts(path)?,
            path.display().to_string(),
        ),
        None => (cai_data::corpus::red_team_prompts(), "built-in".to_string()),
    };
    if let Some(limit) = config.limit {
        prompts.truncate(limit);
    }
    let helpful = match &config.helpful_file {
        Some(path) => crate::input::read_helpful_pairs(path)?,
        None => cai_data::corpus::helpful_pairs(),
    };
    Ok(Inputs {
        prompts,
        prompts_origin,
        helpful,
        constitution,
    })
}

/// Loads the policy backend and the judge, then runs; `progress` as in [`run`].
pub fn load_and_run(
    config: &Config,
    inputs: Inputs,
    progress: &mut dyn FnMut(usize),
) -> Result<Summary> {
    let backend = Backend::load(&config.into())?;
    let judge_name = config.judge_model().to_string();
    let judge_model = match backend.model() {
        Some(model) if judge_name == config.policy => model.clone(),
        _ => {
            let settings = BackendSettings {
                model: judge_name.clone(),
                ..config.into()
            };
            Arc::new(cai_backend::load_model(&settings)?)
        }
    };
    let judge = LocalJudge::new(judge_model, judge_name, config.judge_chat_template);
    run(config, inputs, &backend.generators(), &judge, progress)
}

/// The work-log key of `prompt` under `config`'s result settings.
pub fn prompt_key(config: &Config, prompt: &RedTeamPrompt) -> String {
    hash_hex(&[
        &prompt.id,
        &prompt.prompt,
        &config.result_settings().to_string(),
    ])
}

/// Runs on the given generators and judge; `progress` gets the number of prompts found done in
/// the work log, then the number each finished batch adds.
pub fn run(
    config: &Config,
    inputs: Inputs,
    generators: &[&dyn Generator],
    judge: &dyn OptionScorer,
    progress: &mut dyn FnMut(usize),
) -> Result<Summary> {
    let out = &config.output_dir;
    std::fs::create_dir_all(out).map_err(|e| PreferenceError::io(out, e))?;
    let (mut log, mut done) = WorkLog::open(&out.join(WORK_LOG))?;
    let keys: Vec<String> = inputs
        .prompts
        .iter()
        .map(|p| prompt_key(config, p))
        .collect();
    let pending: Vec<usize> = (0..keys.len())
        .filter(|&i| !done.contains_key(&keys[i]))
        .collect();
    let resumed = keys.len() - pending.len();
    progress(resumed);
    let started = Instant::now();
    let mut judged_now = 0;
    let batches: Vec<&[usize]> = pending.chunks(config.batch_size).collect();
    for round in batches.chunks(generators.len().max(1)) {
        let generated = generate_round(config, &inputs.prompts, &keys, generators, round)?;
        for (batch, answers) in round.iter().zip(generated) {
            let results = judge_batch(config, &inputs, &keys, batch, answers, judge)?;
            for result in results {
                judged_now += result.pairs.len();
                log.append(&result)?;
                done.insert(result.key.clone(), result);
            }
            progress(batch.len());
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let results: Vec<&PromptResult> = keys.iter().filter_map(|k| done.get(k)).collect();
    let mut summary = write_outputs(config, &inputs, &results, &judge.name())?;
    summary.counts.prompts_resumed = resumed;
    summary.seconds = seconds;
    summary.pairs_per_minute = (judged_now > 0).then(|| judged_now as f64 * 60.0 / seconds);
    write_json_atomic(out.join(cai_data::run_dir::files::SUMMARY), &summary)?;
    Ok(summary)
}

/// Samples the candidates of each batch of `round`, one batch per generator in parallel; returns
/// each prompt's raw answers.
fn generate_round(
    config: &Config,
    prompts: &[RedTeamPrompt],
    keys: &[String],
    generators: &[&dyn Generator],
    round: &[&[usize]],
) -> Result<Vec<Vec<Vec<String>>>> {
    if generators.is_empty() {
        return Err(PreferenceError::Input(
            "no generator to sample candidates".into(),
        ));
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = round
            .iter()
            .zip(generators)
            .map(|(batch, generator)| {
                scope.spawn(move || generate_batch(config, prompts, keys, *generator, batch))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a generation thread panicked"))
            .collect()
    })
}

/// One generator call for all candidates of the prompts `batch`.
fn generate_batch(
    config: &Config,
    prompts: &[RedTeamPrompt],
    keys: &[String],
    generator: &dyn Generator,
    batch: &[usize],
) -> Result<Vec<Vec<String>>> {
    let reqs: Vec<_> = batch
        .iter()
        .flat_map(|&i| requests(config, &keys[i], &prompts[i].prompt))
        .collect();
    let failed = |message: String| PreferenceError::Generation {
        first_id: prompts[batch[0]].id.clone(),
        last_id: prompts[batch[batch.len() - 1]].id.clone(),
        message,
    };
    let generations = generator
        .generate(&reqs)
        .map_err(|e| failed(e.to_string()))?;
    if generations.len() != reqs.len() {
        return Err(failed(format!(
            "{} generations for {} requests",
            generations.len(),
            reqs.len()
        )));
    }
    Ok(generations
        .chunks(config.candidates)
        .map(|g| g.iter().map(|g| g.text.clone()).collect())
        .collect())
}

/// Filters each prompt's answers and judges all their pairs in one scoring call.
fn judge_batch(
    config: &Config,
    inputs: &Inputs,
    keys: &[String],
    batch: &[usize],
    answers: Vec<Vec<String>>,
    judge: &dyn OptionScorer,
) -> Result<Vec<PromptResult>> {
    let principles = &inputs.constitution.judge_principles;
    let mut results: Vec<PromptResult> = batch
        .iter()
        .zip(answers)
        .map(|(&i, texts)| {
            let (candidates, empty, duplicate) = keep_distinct(texts);
            PromptResult {
                key: keys[i].clone(),
                prompt: inputs.prompts[i].clone(),
                candidates,
                empty,
                duplicate,
                pairs: Vec::new(),
            }
        })
        .collect();
    let seed = config.seed.to_string();
    let mut planned = Vec::new();
    for (r, result) in results.iter().enumerate() {
        for (first, second) in pairs(result.candidates.len()) {
            let tag = format!("{first}-{second}");
            let drawn = draw_principles(principles, config.ensemble, &[&result.key, &tag, &seed]);
            planned.push((r, first, second, drawn));
        }
    }
    let comparisons: Vec<Comparison<'_>> = planned
        .iter()
        .flat_map(|(r, first, second, drawn)| {
            drawn.iter().map(|&principle| Comparison {
                prompt: &results[*r].prompt.prompt,
                first: &results[*r].candidates[*first],
                second: &results[*r].candidates[*second],
                principle,
            })
        })
        .collect();
    let mut orders = judge_both_orders(judge, &comparisons)?.into_iter();
    let judged: Vec<(usize, JudgedPair)> = planned
        .iter()
        .map(|(r, first, second, drawn)| {
            let per_principle: Vec<BothOrders> = orders.by_ref().take(drawn.len()).collect();
            let pair = JudgedPair {
                first: *first,
                second: *second,
                principles: drawn.iter().map(|p| p.id.clone()).collect(),
                orders: BothOrders::mean(&per_principle),
                per_principle,
            };
            (*r, pair)
        })
        .collect();
    for (r, pair) in judged {
        results[r].pairs.push(pair);
    }
    Ok(results)
}

/// Writes the AI records, the blended splits (records and NeMo files) and returns the summary
/// (without timing).
fn write_outputs(
    config: &Config,
    inputs: &Inputs,
    results: &[&PromptResult],
    judge: &str,
) -> Result<Summary> {
    let out: &Path = &config.output_dir;
    let mut counts = Counts::default();
    let mut ai = Vec::new();
    for result in results {
        counts.add(result);
        ai.extend(result.pairs.iter().filter_map(|p| record(result, p, judge)));
    }
    cai_data::write_jsonl_atomic(out.join(AI_PREFERENCES), &ai)?;
    let helpful = draw_helpful(
        inputs.helpful.clone(),
        config.helpful_ratio,
        ai.len(),
        config.seed,
    );
    counts.ai_records = ai.len();
    counts.helpful_records = helpful.len();
    let mut blended = ai;
    blended.extend(helpful);
    let mut splits = BTreeMap::new();
    let parts = split(blended, &config.splits, config.seed)?;
    for (name, records) in split_names(parts.len()).into_iter().zip(&parts) {
        cai_data::write_jsonl_atomic(out.join(split_records(&name)), records)?;
        crate::nemo_files::write(out, &name, records)?;
        splits.insert(name, records.len());
    }
    Ok(Summary {
        mode: config.mode,
        judge: judge.to_string(),
        generator: GeneratorInfo::of(config),
        prompts_origin: inputs.prompts_origin.clone(),
        counts,
        splits,
        seconds: 0.0,
        pairs_per_minute: None,
    })
}
