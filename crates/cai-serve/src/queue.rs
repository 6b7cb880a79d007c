//! The engine thread and its queue. HTTP handlers never touch tensors: they submit [`Job`]s, and
//! one dedicated thread drains the queue into batches (up to `max_batch` requests that arrived
//! while the previous batch ran, or within `batch_wait` of the first), runs each batch through
//! [`Engine::generate_streaming`], and routes every text delta and final result back to the
//! request's channel.
//!
//! A batch runs to completion before the next one starts (the engine has no continuous batching
//! yet): a request arriving mid-batch waits for that batch to finish.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cai_model::generate::StreamDelta;
use cai_model::{Engine, Generation, GenerationRequest, Prompt};
use tokio::sync::mpsc::UnboundedSender;

use crate::error::{Result, ServeError};
use crate::scores::{Scores, score};

/// What a request needs besides the generation itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Extras {
    /// Alternatives per generated token (0 = none).
    pub top_logprobs: usize,
    /// Teacher-forced log-probs of the whole sequence (NeMo `compute_logprob`).
    pub sequence_logprobs: bool,
}

impl Extras {
    fn need_scores(&self) -> bool {
        self.top_logprobs > 0 || self.sequence_logprobs
    }
}

/// One generation to run; results go to `events`, tagged with `choice`.
#[derive(Debug)]
pub struct Job {
    /// The request.
    pub request: GenerationRequest,
    /// Extra outputs.
    pub extras: Extras,
    /// The index this job's events carry (a choice or sentence index of the HTTP request).
    pub choice: usize,
    /// Where deltas and the result go.
    pub events: UnboundedSender<(usize, Event)>,
}

/// Progress of a job.
#[derive(Debug)]
pub enum Event {
    /// New final text (streaming).
    Delta(String),
    /// The job finished.
    Done(Box<Finished>),
    /// The job failed.
    Failed(ServeError),
}

/// A finished job.
#[derive(Debug, Clone)]
pub struct Finished {
    /// The generation.
    pub generation: Generation,
    /// Token ids of the prompt as the engine saw it.
    pub prompt_ids: Vec<u32>,
    /// Log-probs asked for through [`Extras`].
    pub scores: Option<Scores>,
}

/// How the engine thread forms batches.
#[derive(Debug, Clone, Copy)]
pub struct BatchPolicy {
    /// Most requests in one batch.
    pub max_batch: usize,
    /// How long to wait for more requests after the first one of a batch.
    pub batch_wait: Duration,
    /// Most jobs waiting in the queue; more are refused with 503.
    pub queue_capacity: usize,
}

/// Counters of the engine thread, reported by `/health`.
#[derive(Debug, Default)]
pub struct QueueStats {
    /// Jobs waiting for the engine.
    pub queued: AtomicUsize,
    /// Batches run so far.
    pub batches: AtomicUsize,
    /// Jobs run so far.
    pub jobs: AtomicUsize,
    /// The largest batch so far.
    pub largest_batch: AtomicUsize,
}

/// Handle to the engine thread; cloning shares the queue.
#[derive(Debug, Clone)]
pub struct EngineQueue {
    tx: SyncSender<Job>,
    stats: Arc<QueueStats>,
    engine: Arc<Engine>,
}

impl EngineQueue {
    /// Starts the engine thread. It ends when every handle is dropped and the queue is empty.
    pub fn start(engine: Arc<Engine>, policy: BatchPolicy) -> Result<(Self, JoinHandle<()>)> {
        let (tx, rx) = mpsc::sync_channel(policy.queue_capacity.max(1));
        let stats = Arc::new(QueueStats::default());
        let worker = Worker {
            engine: engine.clone(),
            rx,
            stats: stats.clone(),
            policy,
        };
        let handle = std::thread::Builder::new()
            .name("cai-serve-engine".into())
            .spawn(move || worker.run())
            .map_err(|e| ServeError::Setup(format!("starting the engine thread: {e}")))?;
        Ok((Self { tx, stats, engine }, handle))
    }

    /// The engine (for its tokenizer and chat template; never run it from a handler).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The engine thread's counters.
    pub fn stats(&self) -> &QueueStats {
        &self.stats
    }

    /// Queues `jobs`; refuses them all with [`ServeError::Busy`] if they do not fit.
    pub fn submit(&self, jobs: Vec<Job>) -> Result<()> {
        for job in jobs {
            let queued = &self.stats.queued;
            queued.fetch_add(1, Ordering::Relaxed);
            match self.tx.try_send(job) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    let queued = queued.fetch_sub(1, Ordering::Relaxed) - 1;
                    return Err(ServeError::Busy { queued });
                }
                Err(TrySendError::Disconnected(_)) => {
                    queued.fetch_sub(1, Ordering::Relaxed);
                    return Err(ServeError::Engine("the engine thread has stopped".into()));
                }
            }
        }
        Ok(())
    }
}

struct Worker {
    engine: Arc<Engine>,
    rx: Receiver<Job>,
    stats: Arc<QueueStats>,
    policy: BatchPolicy,
}

/// A job whose prompt was tokenized and checked.
struct Ready {
    job: Job,
    prompt_ids: Vec<u32>,
}

impl Worker {
    fn run(self) {
        while let Ok(first) = self.rx.recv() {
            let mut batch = vec![first];
            let deadline = Instant::now() + self.policy.batch_wait;
            while batch.len() < self.policy.max_batch {
                let wait = deadline.saturating_duration_since(Instant::now());
                match self.rx.recv_timeout(wait) {
                    Ok(job) => batch.push(job),
                    Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
                }
            }
            let stats = &self.stats;
            stats.queued.fetch_sub(batch.len(), Ordering::Relaxed);
            stats.batches.fetch_add(1, Ordering::Relaxed);
            stats.jobs.fetch_add(batch.len(), Ordering::Relaxed);
            stats
                .largest_batch
                .fetch_max(batch.len(), Ordering::Relaxed);
            self.run_batch(batch);
        }
        tracing::debug!("engine thread stopped");
    }

    fn run_batch(&self, batch: Vec<Job>) {
        let ready: Vec<Ready> = batch
            .into_iter()
            // A client that hung up no longer needs its job.
            .filter(|job| !job.events.is_closed())
            // Tokenized and checked one by one, so a bad request fails alone, not its whole batch.
            .filter_map(|job| match self.engine.prepare(&job.request) {
                Ok(prompt_ids) => Some(Ready { job, prompt_ids }),
                Err(e) => {
                    send(&job, Event::Failed(e.into()));
                    None
                }
            })
            .collect();
        if ready.is_empty() {
            return;
        }
        let requests: Vec<GenerationRequest> = ready
            .iter()
            .map(|r| GenerationRequest {
                prompt: Prompt::Tokens(r.prompt_ids.clone()),
                params: r.job.request.params.clone(),
            })
            .collect();
        let started = Instant::now();
        let mut on_delta = |d: StreamDelta| {
            if let Some(r) = ready.get(d.index) {
                send(&r.job, Event::Delta(d.text));
            }
        };
        let result = catch_unwind(AssertUnwindSafe(|| {
            self.engine.generate_streaming(&requests, &mut on_delta)
        }));
        let generations = match result {
            Ok(Ok(generations)) => generations,
            Ok(Err(e)) => return fail_all(&ready, ServeError::from(e)),
            Err(panic) => return fail_all(&ready, panicked("generation", panic)),
        };
        let new_tokens: usize = generations.iter().map(|g| g.token_ids.len()).sum();
        tracing::info!(
            batch = ready.len(),
            new_tokens,
            secs = started.elapsed().as_secs_f32(),
            "batch done"
        );
        for (r, generation) in ready.into_iter().zip(generations) {
            let event = match self.finish(&r, generation) {
                Ok(done) => Event::Done(Box::new(done)),
                Err(e) => Event::Failed(e),
            };
            send(&r.job, event);
        }
    }

    fn finish(&self, ready: &Ready, generation: Generation) -> Result<Finished> {
        let extras = ready.job.extras;
        let scores = if extras.need_scores() {
            let model = self.engine.model();
            let prompt = &ready.prompt_ids;
            let tokens = &generation.token_ids;
            match catch_unwind(AssertUnwindSafe(|| {
                score(model, prompt, tokens, extras.top_logprobs)
            })) {
                Ok(scores) => Some(scores?),
                Err(panic) => return Err(panicked("scoring", panic)),
            }
        } else {
            None
        };
        Ok(Finished {
            generation,
            prompt_ids: ready.prompt_ids.clone(),
            scores,
        })
    }
}

fn send(job: &Job, event: Event) {
    // The receiver is gone when the client hung up; nothing to do then.
    let _ = job.events.send((job.choice, event));
}

fn fail_all(ready: &[Ready], error: ServeError) {
    tracing::error!(%error, batch = ready.len(), "batch failed");
    for r in ready {
        send(&r.job, Event::Failed(error.clone()));
    }
}

fn panicked(what: &str, panic: Box<dyn std::any::Any + Send>) -> ServeError {
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into());
    ServeError::Engine(format!("{what} panicked: {message}"))
}
