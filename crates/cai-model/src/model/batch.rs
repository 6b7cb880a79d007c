//! A rectangular batch of token ids with a validity mask (for left or right padding), optionally
//! packing several samples per row with positions restarting and attention kept inside each sample.

use burn::tensor::{Device, Int, Tensor, TensorData};

use super::mask::KeySlots;

/// Token ids `[batch, seq]` and which of them are real (not padding).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenBatch {
    ids: Vec<u32>,
    valid: Vec<bool>,
    batch: usize,
    seq: usize,
    /// Packed sample index of every token (`batch × seq`); `None` for one sequence per row.
    segments: Option<Vec<u32>>,
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
            segments: None,
        }
    }

    /// Rows each made of several samples laid end to end, right-padded with `pad`. Positions
    /// restart at 0 for every sample and a token attends only to earlier tokens of its own sample,
    /// so a packed row computes what the samples would compute one by one.
    pub fn packed(rows: &[Vec<Vec<u32>>], pad: u32) -> Self {
        let flat: Vec<Vec<u32>> = rows.iter().map(|r| r.concat()).collect();
        let mut batch = Self::right_padded(&flat, pad);
        let mut segments = Vec::with_capacity(batch.ids.len());
        for row in rows {
            let mut row_segments: Vec<u32> = row
                .iter()
                .enumerate()
                .flat_map(|(i, s)| std::iter::repeat_n(i as u32, s.len()))
                .collect();
            row_segments.resize(batch.seq, row.len() as u32);
            segments.extend(row_segments);
        }
        batch.segments = Some(segments);
        batch
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
            segments: None,
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

    /// Index of the last real (non-padding) token of each row (`0` for a row without one).
    pub fn last_real_positions(&self) -> Vec<usize> {
        (0..self.batch)
            .map(|r| self.row_valid(r).iter().rposition(|&v| v).unwrap_or(0))
            .collect()
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
            let segments = self
                .segments
                .as_ref()
                .map(|s| &s[r * self.seq..(r + 1) * self.seq]);
            for (c, &v) in self.row_valid(r).iter().enumerate() {
                if let Some(segments) = segments
                    && c > 0
                    && segments[c] != segments[c - 1]
                {
                    next = 0;
                }
                let pos = if v { next } else { 0 };
                match segments {
                    Some(segments) => slots.push_in_segment(pos, v, segments[c]),
                    None => slots.push(pos, v),
                }
                positions.push(pos);
                if v {
                    next += 1;
                }
            }
        }
        positions
    }
}
