//! Per-layer key/value cache, preallocated for the batch, plus the slot bookkeeping for masks.

use burn::tensor::Tensor;

use super::mask::KeySlots;

/// Keys and values of every layer for a batch of sequences being decoded together.
///
/// The cache is not part of the model (as in burn-lm and candle's llama): a fresh one per request
/// batch means independent requests can never see each other's state.
#[derive(Debug)]
pub struct KvCache {
    layers: Vec<Option<(Tensor<4>, Tensor<4>)>>,
    rows: Vec<KeySlots>,
    capacity: usize,
}

impl KvCache {
    /// An empty cache for `batch` rows and `layers` layers holding up to `capacity` slots a row.
    pub fn new(layers: usize, batch: usize, capacity: usize) -> Self {
        Self {
            layers: (0..layers).map(|_| None).collect(),
            rows: vec![KeySlots::default(); batch],
            capacity,
        }
    }

    /// Number of rows.
    pub fn batch_size(&self) -> usize {
        self.rows.len()
    }

    /// Slots filled so far (equal for every row).
    pub fn len(&self) -> usize {
        self.rows.first().map_or(0, KeySlots::len)
    }

    /// Whether nothing has been cached yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Maximum number of slots.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The per-row slot bookkeeping.
    pub fn rows(&self) -> &[KeySlots] {
        &self.rows
    }

    pub(crate) fn rows_mut(&mut self) -> &mut [KeySlots] {
        &mut self.rows
    }

    /// Writes `k`/`v` `[batch, kv_heads, new, head_dim]` of `layer` after the `start` cached slots
    /// and returns the keys and values of all `start + new` slots.
    pub(crate) fn append(
        &mut self,
        layer: usize,
        start: usize,
        k: Tensor<4>,
        v: Tensor<4>,
    ) -> (Tensor<4>, Tensor<4>) {
        let [b, h, new, d] = k.dims();
        let end = start + new;
        let (kbuf, vbuf) = self.layers[layer].take().unwrap_or_else(|| {
            let dev = k.device();
            let shape = [b, h, self.capacity, d];
            (
                Tensor::<4>::zeros(shape, &dev).cast(k.dtype()),
                Tensor::<4>::zeros(shape, &dev).cast(v.dtype()),
            )
        });
        let kbuf = kbuf.slice_assign([0..b, 0..h, start..end, 0..d], k);
        let vbuf = vbuf.slice_assign([0..b, 0..h, start..end, 0..d], v);
        let out = (
            kbuf.clone().slice([0..b, 0..h, 0..end, 0..d]),
            vbuf.clone().slice([0..b, 0..h, 0..end, 0..d]),
        );
        self.layers[layer] = Some((kbuf, vbuf));
        out
    }
}

impl KvCache {
    /// Keeps only the given rows (in that order), e.g. when other sequences finished.
    pub fn retain(&mut self, keep: &[usize]) {
        use burn::tensor::{Int, TensorData};
        let mut device = None;
        for layer in self.layers.iter_mut() {
            if let Some((k, v)) = layer.take() {
                let dev = device.get_or_insert_with(|| k.device()).clone();
                let ids: Vec<i64> = keep.iter().map(|&i| i as i64).collect();
                let idx = Tensor::<1, Int>::from_data(TensorData::new(ids, [keep.len()]), &dev);
                *layer = Some((k.select(0, idx.clone()), v.select(0, idx)));
            }
        }
        self.rows = keep.iter().map(|&i| self.rows[i].clone()).collect();
    }

    /// Adds the rows of `other` after this cache's rows (continuous batching admits newly
    /// prefilled sequences this way). The side with fewer slots is left-padded with invalid slots,
    /// which no query sees, so both end with the same count; the merged cache holds up to
    /// `capacity` slots a row (at least that count). A cache with no rows simply becomes `other`.
    /// Both caches must be of the same model and filled (every layer written, as after a
    /// prefill), or both empty.
    pub fn extend(&mut self, other: KvCache, capacity: usize) {
        if self.rows.is_empty() {
            *self = other;
            return;
        }
        let len = self.len().max(other.len());
        let capacity = capacity.max(len);
        let (ours, theirs) = (self.len(), other.len());
        for (layer, incoming) in self.layers.iter_mut().zip(other.layers) {
            *layer = match (layer.take(), incoming) {
                (Some((k, v)), Some((k2, v2))) => Some((
                    stack_left_padded(&[(k, ours), (k2, theirs)], len, capacity),
                    stack_left_padded(&[(v, ours), (v2, theirs)], len, capacity),
                )),
                (None, None) => None,
                _ => panic!("KvCache::extend: one cache is filled and the other is not"),
            };
        }
        left_pad_slots(&mut self.rows, len - ours);
        let mut added = other.rows;
        left_pad_slots(&mut added, len - theirs);
        self.rows.extend(added);
        self.capacity = capacity;
    }

    /// Leading slots that are invalid in every row.
    pub fn leading_padding(&self) -> usize {
        (0..self.len())
            .take_while(|&slot| self.rows.iter().all(|row| !row.valid[slot]))
            .count()
    }

    /// Drops the leading slots that are invalid in every row (the padding left behind by rows
    /// that have finished), so that continued admissions do not grow the slot count without
    /// bound. Does nothing when there are none.
    pub fn trim_front(&mut self) {
        let len = self.len();
        let dead = self.leading_padding();
        if dead == 0 {
            return;
        }
        let capacity = self.capacity - dead;
        for layer in self.layers.iter_mut() {
            if let Some((k, v)) = layer.take() {
                let [b, h, _, d] = k.dims();
                let keep = |t: Tensor<4>| {
                    let kept = t.slice([0..b, 0..h, dead..len, 0..d]);
                    stack_left_padded(&[(kept, len - dead)], len - dead, capacity)
                };
                *layer = Some((keep(k), keep(v)));
            }
        }
        for row in &mut self.rows {
            row.positions.drain(..dead);
            row.valid.drain(..dead);
            if !row.segments.is_empty() {
                row.segments.drain(..dead);
            }
        }
        self.capacity = capacity;
    }
}

/// Stacks the first `filled` slots of each `[rows, heads, _, dim]` buffer along the batch into a
/// new zeroed buffer of `capacity` slots, each right-aligned to end at slot `len`.
fn stack_left_padded(parts: &[(Tensor<4>, usize)], len: usize, capacity: usize) -> Tensor<4> {
    let [_, h, _, d] = parts[0].0.dims();
    let rows: usize = parts.iter().map(|(t, _)| t.dims()[0]).sum();
    let dev = parts[0].0.device();
    let mut out = Tensor::<4>::zeros([rows, h, capacity, d], &dev).cast(parts[0].0.dtype());
    let mut row = 0;
    for (t, filled) in parts {
        let b = t.dims()[0];
        let part = t.clone().slice([0..b, 0..h, 0..*filled, 0..d]);
        out = out.slice_assign([row..row + b, 0..h, len - filled..len, 0..d], part);
        row += b;
    }
    out
}

/// Puts `n` invalid slots before every row's slots.
fn left_pad_slots(rows: &mut [KeySlots], n: usize) {
    if n == 0 {
        return;
    }
    for row in rows {
        row.positions.splice(0..0, std::iter::repeat_n(0, n));
        row.valid.splice(0..0, std::iter::repeat_n(false, n));
        if !row.segments.is_empty() {
            row.segments.splice(0..0, std::iter::repeat_n(0, n));
        }
    }
}
