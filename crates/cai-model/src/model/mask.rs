//! Attention masks built from explicit token positions, padding and the sliding window.
//!
//! Every row of a batch carries, for each key slot, its position and whether it is a real token.
//! A query at position `p` sees a key at position `k` iff the key is real, `k <= p`, and (with a
//! Mistral window `W`) `p - k < W`. A padding query sees only its own slot, so no softmax row is
//! ever empty. This one rule covers right and left padding, prefill and cached decode.
//! Packed training rows add a segment id per slot: a query sees only keys of its own segment.

use burn::tensor::{Bool, Device, Tensor, TensorData};

/// Per-row key slots: positions and validity, in cache order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeySlots {
    /// Position id of each slot (meaningless where `valid` is false).
    pub positions: Vec<i64>,
    /// Whether each slot holds a real token.
    pub valid: Vec<bool>,
    /// Segment (packed sample) of each slot; empty when the row is a single sequence.
    pub segments: Vec<u32>,
}

impl KeySlots {
    /// Appends one slot.
    pub fn push(&mut self, position: i64, valid: bool) {
        self.positions.push(position);
        self.valid.push(valid);
    }

    /// Appends one slot of a packed row, in segment `segment`.
    pub fn push_in_segment(&mut self, position: i64, valid: bool, segment: u32) {
        self.push(position, valid);
        self.segments.push(segment);
    }

    /// Whether slots `a` and `b` belong to the same segment (always true for unpacked rows).
    fn same_segment(&self, a: usize, b: usize) -> bool {
        self.segments.is_empty() || self.segments[a] == self.segments[b]
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    /// Whether there are no slots.
    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// Position the next real token of this row gets.
    pub fn next_position(&self) -> i64 {
        self.positions
            .iter()
            .zip(&self.valid)
            .filter(|(_, v)| **v)
            .map(|(p, _)| p + 1)
            .max()
            .unwrap_or(0)
    }
}

/// Builds the `[batch, 1, queries, keys]` mask (`true` = hidden) for the last `queries` slots of
/// each row attending over all of that row's slots.
pub fn attention_mask(
    rows: &[KeySlots],
    queries: usize,
    window: Option<usize>,
    device: &Device,
) -> Tensor<4, Bool> {
    let keys = rows.first().map_or(0, KeySlots::len);
    let mut hidden = Vec::with_capacity(rows.len() * queries * keys);
    for row in rows {
        debug_assert_eq!(
            row.len(),
            keys,
            "all rows must have the same number of slots"
        );
        let first_query = keys - queries;
        for qi in first_query..keys {
            let (qp, qv) = (row.positions[qi], row.valid[qi]);
            for kj in 0..keys {
                let visible = if qv {
                    let (kp, kv) = (row.positions[kj], row.valid[kj]);
                    kv && kj <= qi
                        && kp <= qp
                        && row.same_segment(qi, kj)
                        && window.is_none_or(|w| ((qp - kp) as usize) < w)
                } else {
                    kj == qi
                };
                hidden.push(!visible);
            }
        }
    }
    Tensor::from_data(
        TensorData::new(hidden, [rows.len(), 1, queries, keys]),
        device,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(valid: &[bool]) -> KeySlots {
        let mut slots = KeySlots::default();
        let mut pos = 0;
        for &v in valid {
            slots.push(if v { pos } else { 0 }, v);
            if v {
                pos += 1;
            }
        }
        slots
    }

    fn visible(mask: Tensor<4, Bool>) -> Vec<bool> {
        mask.into_data()
            .try_to_vec::<bool>()
            .unwrap()
            .into_iter()
            .map(|h| !h)
            .collect()
    }

    #[test]
    fn window_hides_keys_w_or_more_behind() {
        let slots = row(&[true; 5]);
        let v = visible(attention_mask(&[slots], 5, Some(2), &Device::flex()));
        // query 4 sees keys 3 and 4 only.
        assert_eq!(&v[20..25], &[false, false, false, true, true]);
        // query 0 sees itself.
        assert_eq!(&v[0..5], &[true, false, false, false, false]);
    }

    #[test]
    fn packed_segments_do_not_see_each_other() {
        let mut slots = KeySlots::default();
        for (pos, seg) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            slots.push_in_segment(pos, true, seg);
        }
        let v = visible(attention_mask(&[slots], 4, None, &Device::flex()));
        // The second sample's tokens see only themselves and their own predecessors.
        assert_eq!(&v[8..12], &[false, false, true, false]);
        assert_eq!(&v[12..16], &[false, false, true, true]);
    }

    #[test]
    fn left_padding_is_invisible_and_padding_queries_see_themselves() {
        let slots = row(&[false, false, true, true]);
        assert_eq!(slots.next_position(), 2);
        let v = visible(attention_mask(&[slots], 4, None, &Device::flex()));
        assert_eq!(&v[0..4], &[true, false, false, false]);
        assert_eq!(&v[12..16], &[false, false, true, true]);
    }
}
