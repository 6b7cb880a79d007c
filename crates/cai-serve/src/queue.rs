//! The engine thread and its queue. HTTP handlers never touch tensors: they submit the [`Job`]s of
//! one HTTP request together, and one dedicated thread takes them in (tokenizing and checking each
//! prompt, and the request's token budget) and runs them through the engine's continuous batch
//! ([`Engine::run`], this worker being its [`Feed`]), routing every text delta and final result
//! back to the request's channel.
//!
//! Whenever rows of the running batch finish, waiting jobs join it by token budget
//! ([`crate::schedule`]: up to `max_batch` rows within `max_batch_tokens`, shortest first, none
//! passed over forever), so a request arriving mid-batch starts at once instead of waiting for a
//! long answer to end. A job whose client has gone (its event receiver dropped) leaves the batch
//! at the next decode step.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use std::collections::HashMap;

use cai_model::generate::{Admission, Feed, Running, StreamDelta};
use cai_model::{Engine, Generation, GenerationRequest, Prompt};
use tokio::sync::mpsc::UnboundedSender;

use crate::error::{Result, ServeError};
use crate::schedule::{Candidate, pick};
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
    /// Most token slots one batch may hold: rows × (longest prompt + most new tokens), padding
    /// included (what its KV cache allocates). A job larger than this alone is refused with 413.
    pub max_batch_tokens: usize,
    /// Most prompt tokens one HTTP request may bring, summed over its generations (413 beyond).
    pub max_prompt_tokens: usize,
    /// Whether waiting jobs join a running batch as its rows finish (continuous batching); when
    /// false, a batch runs to completion before the next starts (static batching, for comparison).
    pub continuous: bool,
}

/// Counters of the engine thread, reported by `/health`.
#[derive(Debug, Default)]
pub struct QueueStats {
    /// Jobs waiting for the engine.
    pub queued: AtomicUsize,
    /// Admissions so far: groups of jobs prefilled together to start or join the running batch.
    pub batches: AtomicUsize,
    /// Jobs run so far.
    pub jobs: AtomicUsize,
    /// The most rows decoding together so far.
    pub largest_batch: AtomicUsize,
    /// Tokens generated so far.
    pub new_tokens: AtomicUsize,
    /// Jobs that left their batch early because their client had gone.
    pub cancelled: AtomicUsize,
}

/// Handle to the engine thread; cloning shares the queue.
#[derive(Debug, Clone)]
pub struct EngineQueue {
    tx: Sender<Vec<Job>>,
    stats: Arc<QueueStats>,
    engine: Arc<Engine>,
    policy: BatchPolicy,
}

impl EngineQueue {
    /// Starts the engine thread. It ends when every handle is dropped and the queue is empty.
    pub fn start(engine: Arc<Engine>, policy: BatchPolicy) -> Result<(Self, JoinHandle<()>)> {
        let (tx, rx) = mpsc::channel();
        let stats = Arc::new(QueueStats::default());
        let worker = Worker {
            // The engine thread's own handle (the model is shared) caps the running batch.
            engine: Arc::new((*engine).clone().with_max_batch(policy.max_batch)),
            rx,
            stats: stats.clone(),
            policy,
            waiting: Vec::new(),
            arrivals: 0,
            in_flight: HashMap::new(),
            next_id: 0,
            disconnected: false,
        };
        let handle = std::thread::Builder::new()
            .name("cai-serve-engine".into())
            .spawn(move || worker.run())
            .map_err(|e| ServeError::Setup(format!("starting the engine thread: {e}")))?;
        let queue = Self {
            tx,
            stats,
            engine,
            policy,
        };
        Ok((queue, handle))
    }

    /// The engine (for its tokenizer and chat template; never run it from a handler).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The engine thread's counters.
    pub fn stats(&self) -> &QueueStats {
        &self.stats
    }

    /// The batching policy and token budgets.
    pub fn policy(&self) -> &BatchPolicy {
        &self.policy
    }

    /// Queues the jobs of one HTTP request together; refuses them all with [`ServeError::Busy`]
    /// if they do not fit the queue, and at once with [`ServeError::TooManyTokens`] when prompts
    /// given as token ids already exceed the request budget (text and chat prompts are counted
    /// on the engine thread, once tokenized).
    pub fn submit(&self, jobs: Vec<Job>) -> Result<()> {
        let known: usize = jobs
            .iter()
            .map(|job| match &job.request.prompt {
                Prompt::Tokens(ids) => ids.len(),
                _ => 0,
            })
            .sum();
        check_prompt_budget(known, &self.policy)?;
        let n = jobs.len();
        let queued = &self.stats.queued;
        let before = queued.fetch_add(n, Ordering::Relaxed);
        if before > 0 && before + n > self.policy.queue_capacity {
            queued.fetch_sub(n, Ordering::Relaxed);
            return Err(ServeError::Busy { queued: before });
        }
        self.tx.send(jobs).map_err(|_| {
            queued.fetch_sub(n, Ordering::Relaxed);
            ServeError::Engine("the engine thread has stopped".into())
        })
    }
}

/// The per-request prompt budget.
fn check_prompt_budget(tokens: usize, policy: &BatchPolicy) -> Result<()> {
    if tokens > policy.max_prompt_tokens {
        return Err(ServeError::TooManyTokens {
            what: "the request's prompts",
            got: tokens,
            limit: "max-prompt-tokens",
            max: policy.max_prompt_tokens,
        });
    }
    Ok(())
}

struct Worker {
    engine: Arc<Engine>,
    rx: Receiver<Vec<Job>>,
    stats: Arc<QueueStats>,
    policy: BatchPolicy,
    /// Jobs taken in and checked, waiting for a batch.
    waiting: Vec<Waiting>,
    /// Jobs taken in so far (their arrival order).
    arrivals: u64,
    /// Jobs in the running batch, by the index the engine knows them by.
    in_flight: HashMap<usize, InFlight>,
    /// The next such index.
    next_id: usize,
    /// Every queue handle is gone: nothing more will arrive.
    disconnected: bool,
}

/// A job in the running batch.
struct InFlight {
    ready: Ready,
    started: Instant,
}

/// A checked job waiting for a batch.
struct Waiting {
    ready: Ready,
    candidate: Candidate,
}

/// A job whose prompt was tokenized and checked.
struct Ready {
    job: Job,
    prompt_ids: Vec<u32>,
}

impl Worker {
    fn run(mut self) {
        while !self.disconnected {
            let engine = self.engine.clone();
            let result = catch_unwind(AssertUnwindSafe(|| engine.run(&mut self)));
            let error = match result {
                Ok(Ok(())) => continue,
                Ok(Err(e)) => ServeError::from(e),
                Err(panic) => panicked("generation", panic),
            };
            // The running batch is lost; its jobs fail, the waiting ones go on.
            tracing::error!(%error, batch = self.in_flight.len(), "batch failed");
            for (_, job) in self.in_flight.drain() {
                send(&job.ready.job, Event::Failed(error.clone()));
            }
        }
        tracing::debug!("engine thread stopped");
    }

    /// Waits for the first jobs and gathers more for `batch_wait` (nothing runs). Returns false
    /// when every handle is gone.
    fn wait_for_work(&mut self) -> bool {
        while self.waiting.is_empty() {
            let Ok(first) = self.rx.recv() else {
                self.disconnected = true;
                return false;
            };
            self.take_in(first);
            let deadline = Instant::now() + self.policy.batch_wait;
            while self.waiting.len() < self.policy.max_batch {
                let wait = deadline.saturating_duration_since(Instant::now());
                match self.rx.recv_timeout(wait) {
                    Ok(jobs) => self.take_in(jobs),
                    Err(_) => break,
                }
            }
            self.drop_abandoned();
        }
        true
    }

    /// A client that hung up no longer needs its waiting jobs.
    fn drop_abandoned(&mut self) {
        let before = self.waiting.len();
        self.waiting.retain(|w| !w.ready.job.events.is_closed());
        self.dequeued(before - self.waiting.len());
    }

    fn dequeued(&self, n: usize) {
        self.stats.queued.fetch_sub(n, Ordering::Relaxed);
    }

    /// Tokenizes and checks one request's jobs (one by one, so a bad request fails alone, not a
    /// batch) and its token budgets; the jobs then wait for a batch, or all fail together.
    fn take_in(&mut self, jobs: Vec<Job>) {
        let n = jobs.len();
        let mut ready = Vec::with_capacity(n);
        for job in jobs {
            if job.events.is_closed() {
                return self.dequeued(n);
            }
            match self.engine.prepare(&job.request) {
                Ok(prompt_ids) => ready.push(Ready { job, prompt_ids }),
                Err(e) => {
                    send(&job, Event::Failed(e.into()));
                    return self.dequeued(n);
                }
            }
        }
        if let Err(e) = self.check_budgets(&ready) {
            if let Some(first) = ready.first() {
                send(&first.job, Event::Failed(e));
            }
            return self.dequeued(n);
        }
        for r in ready {
            let candidate = Candidate {
                prompt: r.prompt_ids.len(),
                new_tokens: r.job.request.params.tokens_to_generate,
                arrival: self.arrivals,
                skipped: 0,
            };
            self.arrivals += 1;
            self.waiting.push(Waiting {
                ready: r,
                candidate,
            });
        }
    }

    fn check_budgets(&self, ready: &[Ready]) -> Result<()> {
        let prompt_tokens = ready.iter().map(|r| r.prompt_ids.len()).sum();
        check_prompt_budget(prompt_tokens, &self.policy)?;
        let max = self.policy.max_batch_tokens;
        match ready
            .iter()
            .map(|r| r.prompt_ids.len() + r.job.request.params.tokens_to_generate)
            .find(|&slots| slots > max)
        {
            Some(got) => Err(ServeError::TooManyTokens {
                what: "a prompt and its new tokens",
                got,
                limit: "max-batch-tokens",
                max,
            }),
            None => Ok(()),
        }
    }

    /// Takes the jobs that start next out of `waiting` ([`pick`]); when some start, the jobs
    /// left behind count one skip.
    fn next_batch(&mut self, room: usize, running: &Running) -> Vec<Ready> {
        let candidates: Vec<Candidate> = self.waiting.iter().map(|w| w.candidate).collect();
        let mut chosen = vec![false; candidates.len()];
        let picked = pick(&candidates, room, self.policy.max_batch_tokens, running);
        if picked.is_empty() {
            return Vec::new();
        }
        for i in picked {
            chosen[i] = true;
        }
        let mut batch = Vec::new();
        for (mut w, chosen) in std::mem::take(&mut self.waiting).into_iter().zip(chosen) {
            if chosen {
                batch.push(w.ready);
            } else {
                w.candidate.skipped += 1;
                self.waiting.push(w);
            }
        }
        self.dequeued(batch.len());
        batch
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

impl Feed for Worker {
    fn admit(&mut self, room: usize, running: &Running) -> Vec<Admission> {
        if !self.policy.continuous && !running.is_idle() {
            return Vec::new();
        }
        if running.is_idle() && self.waiting.is_empty() && !self.wait_for_work() {
            return Vec::new();
        }
        while let Ok(jobs) = self.rx.try_recv() {
            self.take_in(jobs);
        }
        self.drop_abandoned();
        let batch = self.next_batch(room, running);
        if batch.is_empty() {
            return Vec::new();
        }
        let stats = &self.stats;
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats.jobs.fetch_add(batch.len(), Ordering::Relaxed);
        stats
            .largest_batch
            .fetch_max(running.rows + batch.len(), Ordering::Relaxed);
        tracing::debug!(joining = batch.len(), running = running.rows, "jobs start");
        let started = Instant::now();
        batch
            .into_iter()
            .map(|ready| {
                let index = self.next_id;
                self.next_id += 1;
                let admission = Admission {
                    index,
                    prompt: ready.prompt_ids.clone(),
                    params: ready.job.request.params.clone(),
                };
                self.in_flight.insert(index, InFlight { ready, started });
                admission
            })
            .collect()
    }

    fn delta(&mut self, delta: StreamDelta) {
        if let Some(job) = self.in_flight.get(&delta.index) {
            send(&job.ready.job, Event::Delta(delta.text));
        }
    }

    fn finished(&mut self, index: usize, generation: Generation) {
        let Some(InFlight { ready, started }) = self.in_flight.remove(&index) else {
            return;
        };
        let stats = &self.stats;
        stats
            .new_tokens
            .fetch_add(generation.token_ids.len(), Ordering::Relaxed);
        if ready.job.events.is_closed() {
            stats.cancelled.fetch_add(1, Ordering::Relaxed);
            return;
        }
        tracing::info!(
            prompt_tokens = ready.prompt_ids.len(),
            new_tokens = generation.token_ids.len(),
            secs = started.elapsed().as_secs_f32(),
            "job done"
        );
        let event = match self.finish(&ready, generation) {
            Ok(done) => Event::Done(Box::new(done)),
            Err(e) => Event::Failed(e),
        };
        send(&ready.job, event);
    }

    fn cancelled(&self, index: usize) -> bool {
        self.in_flight
            .get(&index)
            .is_some_and(|job| job.ready.job.events.is_closed())
    }
}

fn send(job: &Job, event: Event) {
    // The receiver is gone when the client hung up; nothing to do then.
    let _ = job.events.send((job.choice, event));
}

fn panicked(what: &str, panic: Box<dyn std::any::Any + Send>) -> ServeError {
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into());
    ServeError::Engine(format!("{what} panicked: {message}"))
}
