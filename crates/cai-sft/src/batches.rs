//! Examples → training rows (one example each, or several packed up to `max_seq_length`) →
//! micro-batches of token ids, target positions and target ids. The seeded order of the rows is
//! `cai_train::data`'s.

use cai_model::TokenBatch;

use crate::encode::Example;

/// One sequence of a batch: a single example, or several packed end to end.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The examples, in order.
    pub examples: Vec<Example>,
}

impl Row {
    /// Total tokens.
    pub fn len(&self) -> usize {
        self.examples.iter().map(|e| e.ids.len()).sum()
    }

    /// Whether the row holds no token.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Lays out examples as rows: one per example, or (packing) greedily filled up to
/// `max_seq_length` tokens in the given order.
pub fn build_rows(examples: Vec<Example>, max_seq_length: usize, packing: bool) -> Vec<Row> {
    if !packing {
        return examples
            .into_iter()
            .map(|e| Row { examples: vec![e] })
            .collect();
    }
    let mut rows: Vec<Row> = Vec::new();
    for example in examples {
        match rows.last_mut() {
            Some(row) if row.len() + example.ids.len() <= max_seq_length => {
                row.examples.push(example)
            }
            _ => rows.push(Row {
                examples: vec![example],
            }),
        }
    }
    rows
}

/// Tensors-to-be of one forward/backward pass.
#[derive(Debug, Clone)]
pub struct MicroBatch {
    /// Token ids, right-padded (packed rows keep their examples apart).
    pub tokens: TokenBatch,
    /// Flat `row · seq + t` index of every position whose next token is a target.
    pub positions: Vec<i64>,
    /// The target token at each of `positions`.
    pub targets: Vec<i64>,
    /// Real (non-padding) tokens.
    pub real_tokens: usize,
}

impl MicroBatch {
    /// Builds the micro-batch of `rows`; `pad` fills the padding.
    pub fn new(rows: &[&Row], pad: u32) -> Self {
        let packed = rows.iter().any(|r| r.examples.len() > 1);
        let tokens = if packed {
            let seqs: Vec<Vec<Vec<u32>>> = rows
                .iter()
                .map(|r| r.examples.iter().map(|e| e.ids.clone()).collect())
                .collect();
            TokenBatch::packed(&seqs, pad)
        } else {
            let seqs: Vec<Vec<u32>> = rows.iter().map(|r| r.examples[0].ids.clone()).collect();
            TokenBatch::right_padded(&seqs, pad)
        };
        let seq = tokens.seq_len();
        let (mut positions, mut targets) = (Vec::new(), Vec::new());
        for (r, row) in rows.iter().enumerate() {
            let mut offset = r * seq;
            for example in &row.examples {
                for t in 1..example.ids.len() {
                    if example.trained[t] {
                        positions.push((offset + t - 1) as i64);
                        targets.push(example.ids[t] as i64);
                    }
                }
                offset += example.ids.len();
            }
        }
        Self {
            tokens,
            positions,
            targets,
            real_tokens: rows.iter().map(|r| r.len()).sum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(ids: &[u32], trained: &[bool]) -> Example {
        Example {
            ids: ids.to_vec(),
            trained: trained.to_vec(),
        }
    }

    #[test]
    fn packing_fills_rows_in_order() {
        let ex = |n: usize| example(&vec![5; n], &vec![true; n]);
        let rows = build_rows(vec![ex(3), ex(4), ex(2), ex(6)], 8, true);
        let lens: Vec<Vec<usize>> = rows
            .iter()
            .map(|r| r.examples.iter().map(|e| e.ids.len()).collect())
            .collect();
        assert_eq!(lens, [vec![3, 4], vec![2, 6]]);
        assert_eq!(build_rows(vec![ex(3), ex(4)], 8, false).len(), 2);
    }

    #[test]
    fn targets_are_shifted_and_stay_inside_each_packed_example() {
        let a = example(&[1, 10, 11], &[false, true, true]);
        let b = example(&[1, 20], &[true, true]);
        let row = Row {
            examples: vec![a, b],
        };
        let mb = MicroBatch::new(&[&row], 0);
        // Positions 0 and 1 predict 10 and 11; position 3 predicts 20. The first token of `b` is
        // never a target, even though it is flagged.
        assert_eq!(mb.positions, [0, 1, 3]);
        assert_eq!(mb.targets, [10, 11, 20]);
        assert_eq!(mb.real_tokens, 5);
    }
}
