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
use cai_judge::{Demonstration, Failure, NemoJudge, RemoteJudge, Style};
use rand::SeedableRng;
use rand::seq::SliceRandom;

use crate::config::Mode;
use crate::judge::{Comparison, OptionScorer, draw_principles, judge_both_orders};
use crate::label::{BothOrders, hash_hex, seed_of};
use crate::records::{draw_helpful, record, split, split_names};
use crate::summary::{Counts, Summary};
use crate::worklog::{JudgedPair, PromptResult, WorkLog};
use cai_judge::LocalJudge;

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
    /// The labelling demonstrations shown to the judge (`few_shot` of them).
    pub demonstrations: Vec<Demonstration>,
}

/// The judge of a run.
#[derive(Clone, Copy)]
pub enum Judge<'a> {
    /// A judge giving option probabilities (`paper` and `cot`), local or behind an endpoint.
    Options(&'a dyn OptionScorer),
    /// NeMo's judge over a chat endpoint.
    Nemo(&'a NemoJudge),
}

impl Judge<'_> {
    /// The judge's name, for records.
    pub fn name(&self) -> String {
        match self {
            Judge::Options(scorer) => scorer.name(),
            Judge::Nemo(judge) => judge.name().to_string(),
        }
    }
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
    let demonstrations = read_demonstrations(config)?;
    config.judge_api_key()?;
    Ok(Inputs {
        prompts,
        prompts_origin,
        helpful,
        constitution,
        demonstrations,
    })
}

/// The first `few_shot` demonstrations of `demonstrations_file` (or the built-in ones).
pub fn read_demonstrations(config: &Config) -> Result<Vec<Demonstration>> {
    let (all, origin) = match &config.demonstrations_file {
        Some(path) => (
            crate::input::read_calibration_pairs(path)?
                .into_iter()
                .map(|p| Demonstration {
                    prompt: p.prompt,
                    good: p.good,
                    bad: p.bad,
                })
                .collect(),
            path.display().to_string(),
        ),
        None => (
            cai_judge::builtin_demonstrations(),
            "the built-in demonstrations".into(),
        ),
    };
    if config.few_shot > all.len() {
        return Err(PreferenceError::Input(format!(
            "few_shot: {} demonstrations asked for, {origin} has {}",
            config.few_shot,
            all.len()
        )));
    }
    Ok(all.into_iter().take(config.few_shot).collect())
}

/// How `config` puts comparisons to the judge.
pub fn style(config: &Config, demonstrations: &[Demonstration]) -> Style {
    Style {
        demonstrations: demonstrations.to_vec(),
        chain_of_thought: (config.mode == Mode::Cot).then(|| cai_judge::ChainOfThought {
            max_tokens: config.cot_tokens,
            ..Default::default()
        }),
    }
}

/// The client settings of the judge endpoint `url`.
pub fn judge_remote_config(config: &Config, url: &str) -> Result<cai_client::RemoteConfig> {
    Ok(cai_client::RemoteConfig {
        model: config.judge_remote_model.clone(),
        api_key: config.judge_api_key()?,
        timeout: std::time::Duration::from_secs(config.request_timeout_secs),
        concurrency: config.concurrency,
        ..cai_client::RemoteConfig::new(cai_client::RemoteApi::OpenAi, vec![url.to_string()])
    })
}

/// A judge behind an endpoint, owned.
enum EndpointJudge {
    Nemo(NemoJudge),
    Options(RemoteJudge),
}

/// Builds the judge (an endpoint is probed first, before any model loads), loads the policy
/// backend, then runs; `progress` as in [`run`].
pub fn load_and_run(
    config: &Config,
    inputs: Inputs,
    progress: &mut dyn FnMut(usize),
) -> Result<Summary> {
    if let Some(url) = &config.judge_endpoint {
        let remote = judge_remote_config(config, url)?;
        let endpoint = if config.mode == Mode::Nemo {
            let principles = &inputs.constitution.judge_principles;
            let judge = NemoJudge::new(remote, principles, config.nemo_max_tokens)?;
            judge.probe()?;
            EndpointJudge::Nemo(judge)
        } else {
            let judge = RemoteJudge::new(remote)?;
            judge.probe()?;
            EndpointJudge::Options(judge)
        };
        let judge = match &endpoint {
            EndpointJudge::Nemo(j) => Judge::Nemo(j),
            EndpointJudge::Options(j) => Judge::Options(j),
        };
        let backend = Backend::load(&config.into())?;
        return run(config, inputs, &backend.generators(), judge, progress);
    }
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
    run(
        config,
        inputs,
        &backend.generators(),
        Judge::Options(&judge),
        progress,
    )
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
    judge: Judge<'_>,
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
            let mut results = prompt_results(&inputs, &keys, batch, answers);
            match judge {
                Judge::Options(scorer) => judge_pairs(config, &inputs, &mut results, scorer)?,
                Judge::Nemo(nemo) => rank_candidates(config, &inputs, &mut results, nemo)?,
            }
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

/// Each prompt's result before judging: its answers filtered (empty and duplicate ones counted).
fn prompt_results(
    inputs: &Inputs,
    keys: &[String],
    batch: &[usize],
    answers: Vec<Vec<String>>,
) -> Vec<PromptResult> {
    batch
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
                failures: BTreeMap::new(),
            }
        })
        .collect()
}

/// Judges every pair of every prompt in `results` in both orders, under its drawn principles,
/// in one call; a pair any of whose judgements failed is dropped and counted by reason.
fn judge_pairs(
    config: &Config,
    inputs: &Inputs,
    results: &mut [PromptResult],
    judge: &dyn OptionScorer,
) -> Result<()> {
    let principles = &inputs.constitution.judge_principles;
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
    let style = style(config, &inputs.demonstrations);
    let mut judged = judge_both_orders(judge, &comparisons, &style)?.into_iter();
    let mut outcomes = Vec::with_capacity(planned.len());
    for (r, first, second, drawn) in &planned {
        let all: std::result::Result<Vec<BothOrders>, Failure> =
            judged.by_ref().take(drawn.len()).collect();
        let outcome = all.map(|per_principle| JudgedPair {
            first: *first,
            second: *second,
            principles: drawn.iter().map(|p| p.id.clone()).collect(),
            orders: BothOrders::mean(&per_principle),
            per_principle,
            explanation: None,
        });
        outcomes.push((*r, outcome));
    }
    for (r, outcome) in outcomes {
        match outcome {
            Ok(pair) => results[r].pairs.push(pair),
            Err(reason) => *results[r].failures.entry(reason).or_default() += 1,
        }
    }
    Ok(())
}

/// NeMo mode: the judge ranks each prompt's candidates at once (shown in an order shuffled by
/// the prompt key, so that position does not follow the sampling temperature); the chosen and
/// rejected ones become one hard-labelled pair.
fn rank_candidates(
    config: &Config,
    inputs: &Inputs,
    results: &mut [PromptResult],
    judge: &NemoJudge,
) -> Result<()> {
    let seed = config.seed.to_string();
    let ranked: Vec<usize> = (0..results.len())
        .filter(|&r| results[r].candidates.len() >= 2)
        .collect();
    let orders: Vec<Vec<usize>> = ranked
        .iter()
        .map(|&r| {
            let mut order: Vec<usize> = (0..results[r].candidates.len()).collect();
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed_of(&[&results[r].key, &seed]));
            order.shuffle(&mut rng);
            order
        })
        .collect();
    let shown: Vec<Vec<String>> = ranked
        .iter()
        .zip(&orders)
        .map(|(&r, order)| {
            order
                .iter()
                .map(|&i| results[r].candidates[i].clone())
                .collect()
        })
        .collect();
    let items: Vec<cai_judge::nemo::Candidates<'_>> = ranked
        .iter()
        .zip(&shown)
        .map(|(&r, answers)| cai_judge::nemo::Candidates {
            prompt: &results[r].prompt.prompt,
            answers,
        })
        .collect();
    let rankings = judge.rank(&items)?;
    let all_ids: Vec<String> = inputs
        .constitution
        .judge_principles
        .iter()
        .map(|p| p.id.clone())
        .collect();
    for ((&r, order), ranking) in ranked.iter().zip(&orders).zip(rankings) {
        match ranking {
            Ok(ranking) => results[r].pairs.push(JudgedPair {
                first: order[ranking.chosen],
                second: order[ranking.rejected],
                principles: all_ids.clone(),
                per_principle: Vec::new(),
                orders: BothOrders {
                    p_ab: 1.0,
                    p_ba: 0.0,
                },
                explanation: Some(ranking.explanation),
            }),
            Err(reason) => *results[r].failures.entry(reason).or_default() += 1,
        }
    }
    Ok(())
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
        ai.extend(
            result
                .pairs
                .iter()
                .filter_map(|p| record(result, p, judge, config.mode)),
        );
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
        crate::trl::write(out, &name, records)?;
        splits.insert(name, records.len());
    }
    Ok(Summary {
        mode: config.mode,
        judge: judge.to_string(),
        few_shot: inputs.demonstrations.len(),
        generator: GeneratorInfo::of(config),
        prompts_origin: inputs.prompts_origin.clone(),
        counts,
        splits,
        seconds: 0.0,
        pairs_per_minute: None,
    })
}
