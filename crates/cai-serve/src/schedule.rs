//! Which waiting jobs the next batch takes: a token budget per batch, shortest jobs first, and
//! jobs passed over [`MAX_SKIPS`] times ahead of everything else, so that neither long nor short
//! prompts wait without bound.
//!
//! A batch of `rows` jobs holds `rows × longest` token slots in the KV cache, where a job's length
//! is its prompt plus its most new tokens and `longest` is the batch's longest job (rows are padded
//! to it). The cost therefore counts padding, which is what memory pays for: taking the shortest
//! jobs first keeps it small.

/// How many batches may pass a job over before it goes first.
pub const MAX_SKIPS: u32 = 3;

/// A waiting job as the scheduler sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// Prompt tokens plus the most new tokens.
    pub slots: usize,
    /// Arrival order (smaller is older).
    pub arrival: u64,
    /// Batches that started without this job since it arrived.
    pub skipped: u32,
}

impl Candidate {
    fn starved(&self) -> bool {
        self.skipped >= MAX_SKIPS
    }
}

/// Indices (into `waiting`) of the next batch: at most `max_rows` jobs whose padded size
/// `rows × longest` stays within `max_slots`. Starved jobs come first (oldest first), then the
/// rest shortest first; the first job is always taken, so the batch is never empty when `waiting`
/// is not (a job larger than the whole budget is refused before it waits).
pub fn pick(waiting: &[Candidate], max_rows: usize, max_slots: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..waiting.len()).collect();
    order.sort_by_key(|&i| {
        let c = &waiting[i];
        if c.starved() {
            (0, 0, c.arrival)
        } else {
            (1, c.slots, c.arrival)
        }
    });
    let mut chosen = Vec::new();
    let mut longest = 0;
    for i in order {
        if chosen.len() >= max_rows.max(1) {
            break;
        }
        let wider = longest.max(waiting[i].slots);
        if !chosen.is_empty() && (chosen.len() + 1).saturating_mul(wider) > max_slots {
            continue;
        }
        chosen.push(i);
        longest = wider;
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(slots: usize, arrival: u64, skipped: u32) -> Candidate {
        Candidate {
            slots,
            arrival,
            skipped,
        }
    }

    #[test]
    fn shortest_first_within_the_padded_budget() {
        let waiting = [job(8000, 0, 0), job(10, 1, 0), job(20, 2, 0), job(15, 3, 0)];
        assert_eq!(pick(&waiting, 16, 1000), [1, 3, 2]);
        // Three rows padded to 20 slots do not fit 50; two do.
        assert_eq!(pick(&waiting, 16, 50), [1, 3]);
        assert_eq!(pick(&waiting, 2, 1000), [1, 3]);
    }

    #[test]
    fn a_starved_job_goes_first_and_the_first_job_always_goes() {
        let waiting = [job(8000, 0, MAX_SKIPS), job(10, 1, 0), job(20, 2, 0)];
        assert_eq!(pick(&waiting, 16, 8000), [0]);
        assert_eq!(pick(&waiting, 16, 100), [0]);
        assert_eq!(pick(&waiting, 16, 24_000), [0, 1, 2]);
        assert!(pick(&[], 16, 100).is_empty());
    }
}
