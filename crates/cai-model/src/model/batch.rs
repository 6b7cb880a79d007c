//! A rectangular batch of token ids with a validity mask (for left or right padding).

use burn::tensor::{Device, Int, Tensor, TensorData};

use super::mask::KeySlots;

/// Token ids `[batch, seq]` and which of them are real (not padding).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenBatch {
    ids: Vec<u32>,
    valid: Vec<bool>,
    batch: usize,
    seq: usize,
}

impl TokenBatch {
    /// A batch of one unpadded sequence.
    pub fn single(ids: &[u32]) -> Self {
        Self::right_padded(&[ids.to_vec()], 0)
    }

    /// Sequences padded on the right with `pad` to the longest length.
    pub fn right_padded(seqs: &[Vec<u32>], pad: u32) -> Self {
        Self::padded(seqs, pad, false)
    }

    /// Sequences padded on the left with `pad` to the longest length (for batched generation).
    pub fn left_padded(seqs: &[Vec<u32>], pad: u32) -> Self {
        Self::padded(seqs, pad, true)
    }

    fn padded(seqs: &[Vec<u32>], pad: u32, left: bool) -> Self {
        let seq = seqs.iter().map(Vec::len).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(seqs.len() * seq);
        let mut valid = Vec::with_capacity(seqs.len() * seq);
        for s in seqs {
            let n_pad = seq - s.len();
            let pads = std::iter::repeat_n((pad, false), n_pad);
            let real = s.iter().map(|&id| (id, true));
            let row: Vec<(u32, bool)> = if left {
                pads.chain(real).collect()
            } else {
                real.chain(pads).collect()
            };
            for (id, v) in row {
                ids.push(id);
                valid.push(v);
            }
        }
        Self {
            ids,
            valid,
            batch: seqs.len(),
            seq,
        }
    }

    /// Builds a batch from explicit ids and validity, both `batch × seq` row-major.
    pub fn from_parts(ids: Vec<u32>, valid: Vec<bool>, batch: usize) -> Self {
        assert_eq!(ids.len(), valid.len(), "ids and validity differ in length");
        let seq = ids.len().checked_div(batch).unwrap_or(0);
        assert_eq!(seq * batch, ids.len(), "ids are not batch × seq");
        Self {
            ids,
            valid,
            batch,
            seq,
        }
    }

    /// Number of rows.
    pub fn batch_size(&self) -> usize {
        self.batch
    }

    /// Columns per row.
    pub fn seq_len(&self) -> usize {
        self.seq
    }

    /// Row `r`'s ids (padding included).
    pub fn row(&self, r: usize) -> &[u32] {
        &self.ids[r * self.seq..(r + 1) * self.seq]
    }

    /// Row `r`'s validity.
    pub fn row_valid(&self, r: usize) -> &[bool] {
        &self.valid[r * self.seq..(r + 1) * self.seq]
    }

    /// The ids as an `[batch, seq]` integer tensor.
    pub fn ids_tensor(&self, device: &Device) -> Tensor<2, Int> {
        let ids: Vec<i64> = self.ids.iter().map(|&i| i as i64).collect();
        Tensor::from_data(TensorData::new(ids, [self.batch, self.seq]), device)
    }

    /// Appends this batch's slots to `rows` and returns the position id of every token
    /// (`[batch × seq]`, `0` for padding).
    pub(crate) fn extend_slots(&self, rows: &mut [KeySlots]) -> Vec<i64> {
        let mut positions = Vec::with_capacity(self.ids.len());
        for (r, slots) in rows.iter_mut().enumerate() {
            let mut next = slots.next_position();
            for &v in self.row_valid(r) {
                let pos = if v { next } else { 0 };
                slots.push(pos, v);
                positions.push(pos);
                if v {
                    next += 1;
                }
            }
        }
        positions
    }
}
