//! Which waiting jobs the next batch takes: a token budget per batch, shortest jobs first, and
//! jobs passed over [`MAX_SKIPS`] times ahead of everything else, so that neither long nor short
//! prompts wait without bound.
//!
//! A batch of `rows` jobs holds `rows × (longest prompt + most new tokens)` token slots in the KV
//! cache (rows are padded to them). Jobs joining a running batch (continuous batching) are padded
//! to the slots its rows already hold. The cost therefore counts padding, which is what memory
//! pays for: taking the shortest jobs first keeps it small.

use cai_model::generate::Running;

/// How many batches may pass a job over before it goes first.
pub const MAX_SKIPS: u32 = 3;

/// A waiting job as the scheduler sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// Prompt tokens.
    pub prompt: usize,
    /// The most new tokens.
    pub new_tokens: usize,
    /// Arrival order (smaller is older).
    pub arrival: u64,
    /// Batches that started without this job since it arrived.
    pub skipped: u32,
}

impl Candidate {
    /// Prompt tokens plus the most new tokens.
    pub fn slots(&self) -> usize {
        self.prompt + self.new_tokens
    }

    fn starved(&self) -> bool {
        self.skipped >= MAX_SKIPS
    }
}

/// Indices (into `waiting`) of the jobs to start next, joining what is `running`: at most
/// `max_rows` jobs such that all rows, padded to the longest prompt (or the slots running rows
/// hold) plus the most new tokens, stay within `max_slots`. Starved jobs come first (oldest
/// first), then the rest shortest first. When nothing runs the first job is always taken, so a
/// batch is never empty when `waiting` is not (a job larger than the whole budget is refused
/// before it waits).
pub fn pick(
    waiting: &[Candidate],
    max_rows: usize,
    max_slots: usize,
    running: &Running,
) -> Vec<usize> {
    let mut order: Vec<usize> = (0..waiting.len()).collect();
    order.sort_by_key(|&i| {
        let c = &waiting[i];
        if c.starved() {
            (0, 0, c.arrival)
        } else {
            (1, c.slots(), c.arrival)
        }
    });
    let mut chosen = Vec::new();
    let (mut prompt, mut new_tokens) = (running.slots, running.most_feeds);
    for i in order {
        if chosen.len() >= max_rows {
            break;
        }
        let c = &waiting[i];
        let (p, n) = (prompt.max(c.prompt), new_tokens.max(c.new_tokens));
        let rows = running.rows + chosen.len() + 1;
        let first = running.is_idle() && chosen.is_empty();
        if !first && rows.saturating_mul(p + n) > max_slots {
            continue;
        }
        chosen.push(i);
        (prompt, new_tokens) = (p, n);
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: Running = Running {
        rows: 0,
        slots: 0,
        most_feeds: 0,
    };

    fn job(slots: usize, arrival: u64, skipped: u32) -> Candidate {
        Candidate {
            prompt: slots,
            new_tokens: 0,
            arrival,
            skipped,
        }
    }

    #[test]
    fn shortest_first_within_the_padded_budget() {
        let waiting = [job(8000, 0, 0), job(10, 1, 0), job(20, 2, 0), job(15, 3, 0)];
        assert_eq!(pick(&waiting, 16, 1000, &IDLE), [1, 3, 2]);
        // Three rows padded to 20 slots do not fit 50; two do.
        assert_eq!(pick(&waiting, 16, 50, &IDLE), [1, 3]);
        assert_eq!(pick(&waiting, 2, 1000, &IDLE), [1, 3]);
    }

    #[test]
    fn a_starved_job_goes_first_and_the_first_job_always_goes() {
        let waiting = [job(8000, 0, MAX_SKIPS), job(10, 1, 0), job(20, 2, 0)];
        assert_eq!(pick(&waiting, 16, 8000, &IDLE), [0]);
        assert_eq!(pick(&waiting, 16, 100, &IDLE), [0]);
        assert_eq!(pick(&waiting, 16, 24_000, &IDLE), [0, 1, 2]);
        assert!(pick(&[], 16, 100, &IDLE).is_empty());
    }

    #[test]
    fn joining_jobs_are_padded_to_the_running_rows_and_may_all_wait() {
        let running = Running {
            rows: 3,
            slots: 100,
            most_feeds: 50,
        };
        let waiting = [job(10, 0, 0), job(20, 1, 0)];
        // Four rows of 100 + 50 slots fit 600; a fifth does not.
        assert_eq!(pick(&waiting, 16, 600, &running), [0]);
        // A budget the running rows already fill takes nothing, not even the first job.
        assert!(pick(&waiting, 16, 450, &running).is_empty());
        // A job with more new tokens widens every row.
        let long = [Candidate {
            prompt: 10,
            new_tokens: 100,
            arrival: 0,
            skipped: 0,
        }];
        assert!(pick(&long, 16, 4 * 150, &running).is_empty());
        assert_eq!(pick(&long, 16, 4 * 200, &running), [0]);
        assert!(pick(&waiting, 0, 10_000, &running).is_empty());
    }
}
