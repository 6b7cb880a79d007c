//! Submitting a request's generations to the engine queue and gathering their results.

use cai_model::GenerationRequest;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

use crate::error::{Result, ServeError};
use crate::queue::{EngineQueue, Event, Extras, Finished, Job};

/// Events of one HTTP request's jobs, tagged with the job's index.
pub type Events = UnboundedReceiver<(usize, Event)>;

/// Queues `requests` (job `i` reports as index `i`) and returns their event stream.
pub fn submit(
    queue: &EngineQueue,
    requests: Vec<GenerationRequest>,
    extras: Extras,
) -> Result<Events> {
    let (tx, rx) = unbounded_channel();
    let jobs = requests
        .into_iter()
        .enumerate()
        .map(|(choice, request)| Job {
            request,
            extras,
            choice,
            events: tx.clone(),
        })
        .collect();
    queue.submit(jobs)?;
    Ok(rx)
}

/// Queues `requests` and waits for all of them; the first failure fails the request.
pub async fn run(
    queue: &EngineQueue,
    requests: Vec<GenerationRequest>,
    extras: Extras,
) -> Result<Vec<Finished>> {
    let n = requests.len();
    let mut events = submit(queue, requests, extras)?;
    let mut done: Vec<Option<Finished>> = vec![None; n];
    let mut remaining = n;
    while remaining > 0 {
        match events.recv().await {
            Some((i, Event::Done(finished))) => {
                done[i] = Some(*finished);
                remaining -= 1;
            }
            Some((_, Event::Failed(e))) => return Err(e),
            Some((_, Event::Delta(_))) => {}
            None => return Err(ServeError::Engine("the engine dropped a request".into())),
        }
    }
    Ok(done.into_iter().flatten().collect())
}
