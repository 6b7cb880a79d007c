//! The generation loop: each batch of prompts goes through `1 + 2 × rounds` generator calls (one
//! conversation per prompt per call), batches are shared among the generators in parallel, and each
//! finished batch is appended to the work log before the next result is taken.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use cai_data::{CritiqueRound, GenerationRequest, SlCaiTrace};
use cai_data::{FinishReason, Generation, GenerationError, Generator};
use cai_judge::OptionScorer;

use crate::error::{CritiqueError, Result};
pub use crate::plan::Step;
use crate::plan::{Plan, WorkItem};
use crate::progress::{Completed, ProgressLog};
use crate::select::best_candidates;

/// Receives progress while batches finish.
pub trait Observer {
    /// Called once before generating: prompts still to do, prompts already done, and generator
    /// calls per batch (answer, critiques, revisions).
    fn started(&mut self, _pending: usize, _done: usize, _steps_per_batch: usize) {}
    /// Called after each generator call of a batch (`step` of a batch of `prompts`), before the
    /// batch is saved.
    fn step_done(&mut self, _step: Step, _prompts: usize) {}
    /// Called after each batch is saved, with its number of prompts.
    fn batch_done(&mut self, _prompts: usize) {}
}

/// An observer that ignores everything.
impl Observer for () {}

/// What generates and, for best-of-n revisions, judges.
#[derive(Clone, Copy)]
pub struct Workers<'a> {
    /// The generator of this batch.
    pub generator: &'a dyn Generator,
    /// The judge of revision candidates (required when `revision_candidates > 1`).
    pub judge: Option<&'a (dyn OptionScorer + Sync)>,
}

/// Runs every step of one batch.
pub fn run_batch(
    workers: Workers<'_>,
    plan: &Plan,
    batch: usize,
    items: &[WorkItem],
    on_step: &dyn Fn(Step),
) -> Result<Vec<Completed>> {
    let failed = |step: Step, source| CritiqueError::Generation {
        batch,
        first_id: items
            .first()
            .map(|i| i.prompt.id.clone())
            .unwrap_or_default(),
        last_id: items
            .last()
            .map(|i| i.prompt.id.clone())
            .unwrap_or_default(),
        step: step.to_string(),
        error: Box::new(source),
    };
    let generate = |step: Step, requests: Vec<GenerationRequest>| -> Result<Vec<Generation>> {
        let out = workers
            .generator
            .generate(&requests)
            .map_err(|e| failed(step, e))?;
        if out.len() != requests.len() {
            return Err(failed(
                step,
                GenerationError::Invalid(format!(
                    "the generator returned {} generations for {} requests",
                    out.len(),
                    requests.len()
                )),
            ));
        }
        on_step(step);
        Ok(out)
    };
    let requests = |step: Step, answers: &[String], critiques: &[String]| -> Vec<_> {
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let answer = answers.get(i).map_or("", String::as_str);
                let critique = critiques.get(i).map_or("", String::as_str);
                plan.request(item, step, answer, critique)
            })
            .collect()
    };
    let texts = |gens: &[Generation]| -> Vec<String> {
        gens.iter().map(|g| g.text.trim().to_string()).collect()
    };
    let initial = texts(&generate(Step::Initial, requests(Step::Initial, &[], &[]))?);
    let mut answers = initial.clone();
    let mut rounds: Vec<Vec<CritiqueRound>> = vec![Vec::with_capacity(plan.rounds); items.len()];
    let mut truncated = vec![false; items.len()];
    let n = plan.revision_candidates;
    for r in 0..plan.rounds {
        let critique_step = Step::Critique(r);
        let critiques = texts(&generate(
            critique_step,
            requests(critique_step, &answers, &[]),
        )?);
        let candidate_requests = items
            .iter()
            .enumerate()
            .flat_map(|(i, item)| {
                let (answer, critique) = (&answers[i], &critiques[i]);
                (0..n).map(move |k| plan.candidate_request(item, r, k, answer, critique))
            })
            .collect();
        let candidates: Vec<Vec<Generation>> = generate(Step::Revision(r), candidate_requests)?
            .chunks(n)
            .map(<[Generation]>::to_vec)
            .collect();
        let best = match (n, workers.judge) {
            (1, _) => vec![0; items.len()],
            (_, Some(judge)) => best_candidates(judge, plan, items, r, &critiques, &candidates)?,
            (_, None) => {
                return Err(CritiqueError::Invalid(
                    "revision_candidates > 1 needs a judge (the in-process model)".into(),
                ));
            }
        };
        for (i, (critique, options)) in critiques.into_iter().zip(&candidates).enumerate() {
            let principle = plan.principle(&items[i], r);
            let chosen = &options[best[i]];
            let text = chosen.text.trim().to_string();
            rounds[i].push(CritiqueRound {
                principle_id: principle.id.clone(),
                critique_request: principle.critique_request.clone(),
                critique,
                revision_request: principle.revision_request.clone(),
                revision: text.clone(),
                rejected_revisions: options
                    .iter()
                    .enumerate()
                    .filter(|&(k, _)| k != best[i])
                    .map(|(_, g)| g.text.trim().to_string())
                    .collect(),
            });
            truncated[i] = chosen.finish_reason == FinishReason::Length;
            answers[i] = text;
        }
    }
    Ok(items
        .iter()
        .zip(initial)
        .zip(rounds)
        .zip(answers)
        .zip(truncated)
        .map(
            |((((item, initial_response), rounds), final_revision), truncated)| Completed {
                key: item.key.clone(),
                trace: SlCaiTrace {
                    id: item.prompt.id.clone(),
                    prompt: item.prompt.prompt.clone(),
                    initial_response,
                    rounds,
                    final_revision,
                },
                truncated,
            },
        )
        .collect())
}

/// What a worker thread reports.
enum Message {
    /// A generator call of a batch finished.
    Step(Step, usize),
    /// A batch finished (or failed).
    Batch(Result<Vec<Completed>>),
}

/// Counts from [`generate_all`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GenerateStats {
    /// Prompts generated by this call.
    pub generated: usize,
    /// Prompts found finished in the log.
    pub resumed: usize,
}

/// Generates every batch of `items` (in chunks of `batch_size`) that the log does not already hold
/// completely; a partly saved batch is regenerated whole so batch composition never changes.
pub fn generate_all(
    plan: &Plan,
    items: &[WorkItem],
    batch_size: usize,
    generators: &[&dyn Generator],
    judge: Option<&(dyn OptionScorer + Sync)>,
    log: &mut ProgressLog,
    observer: &mut dyn Observer,
) -> Result<GenerateStats> {
    if generators.is_empty() {
        return Err(CritiqueError::Invalid("no generator given".into()));
    }
    let pending: Vec<(usize, &[WorkItem])> = items
        .chunks(batch_size)
        .enumerate()
        .filter(|(_, batch)| batch.iter().any(|item| !log.contains(&item.key)))
        .collect();
    let pending_prompts: usize = pending.iter().map(|(_, b)| b.len()).sum();
    let stats = GenerateStats {
        generated: pending_prompts,
        resumed: items.len() - pending_prompts,
    };
    observer.started(pending_prompts, stats.resumed, 1 + 2 * plan.rounds);
    if pending.is_empty() {
        return Ok(stats);
    }
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let mut first_error = None;
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel();
        for &generator in generators {
            let (tx, next, stop, pending) = (tx.clone(), &next, &stop, &pending);
            scope.spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let Some(&(batch, items)) = pending.get(next.fetch_add(1, Ordering::SeqCst))
                    else {
                        break;
                    };
                    let _span =
                        tracing::info_span!("batch", batch, prompts = items.len()).entered();
                    let workers = Workers { generator, judge };
                    let on_step = |step| {
                        let _ = tx.send(Message::Step(step, items.len()));
                    };
                    let result = run_batch(workers, plan, batch, items, &on_step);
                    if result.is_err() {
                        stop.store(true, Ordering::SeqCst);
                    }
                    if tx.send(Message::Batch(result)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for message in rx {
            let result = match message {
                Message::Step(step, prompts) => {
                    observer.step_done(step, prompts);
                    continue;
                }
                Message::Batch(result) => result,
            };
            let saved = result.and_then(|done| {
                log.append(&done)?;
                Ok(done.len())
            });
            match saved {
                Ok(prompts) => observer.batch_done(prompts),
                Err(err) => {
                    stop.store(true, Ordering::SeqCst);
                    first_error.get_or_insert(err);
                }
            }
        }
    });
    match first_error {
        Some(err) => Err(err),
        None => Ok(stats),
    }
}
