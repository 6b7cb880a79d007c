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
}
