//! The data stream of a training run: a seeded order per epoch and a cursor into it.
//!
//! The order of epoch `e` is a pure function of `(seed, e)`, so a [`DataCursor`] (epoch and row)
//! is all a checkpoint needs to continue the exact same stream.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

/// Where the data stream stands: the epoch and the next unread row of that epoch's order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataCursor {
    /// Epoch (0-based).
    pub epoch: u64,
    /// Rows of this epoch already consumed.
    pub row: usize,
}

/// The shuffled row order of one epoch.
pub fn epoch_order(rows: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..rows).collect();
    let mut rng = StdRng::seed_from_u64(seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    order.shuffle(&mut rng);
    order
}

/// The rows of the next global batch, advancing `cursor` (a partial batch at the end of an
/// epoch is skipped, as NeMo's `drop_last`). `None` when there are fewer rows than one batch.
pub fn next_global_batch(
    rows: usize,
    global: usize,
    seed: u64,
    cursor: &mut DataCursor,
) -> Option<Vec<usize>> {
    if rows < global || global == 0 {
        return None;
    }
    if cursor.row + global > rows {
        cursor.epoch += 1;
        cursor.row = 0;
    }
    let order = epoch_order(rows, seed, cursor.epoch);
    let picked = order[cursor.row..cursor.row + global].to_vec();
    cursor.row += global;
    Some(picked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_walks_epochs_and_drops_the_partial_batch() {
        let mut cursor = DataCursor::default();
        let first = next_global_batch(5, 2, 7, &mut cursor).unwrap();
        let second = next_global_batch(5, 2, 7, &mut cursor).unwrap();
        assert_eq!(cursor, DataCursor { epoch: 0, row: 4 });
        let third = next_global_batch(5, 2, 7, &mut cursor).unwrap();
        assert_eq!(cursor, DataCursor { epoch: 1, row: 2 });
        let order0 = epoch_order(5, 7, 0);
        assert_eq!([first, second].concat(), order0[..4]);
        assert_eq!(third, epoch_order(5, 7, 1)[..2]);
        assert!(next_global_batch(1, 2, 7, &mut cursor).is_none());
    }
}
