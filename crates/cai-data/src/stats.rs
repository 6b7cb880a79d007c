//! `cai-data stats`: record counts and length distributions per text field, in tokens or whitespace words.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};

#[cfg(feature = "tokenizer")]
use crate::error::Error;
use crate::error::Result;
use crate::jsonl::{ReadOptions, read_records};

/// String fields that are labels or metadata, not text, and are left out of lengths.
const METADATA_KEYS: &[&str] = &[
    "id",
    "source",
    "category",
    "from",
    "role",
    "mask",
    "dataset",
    "type",
    "label",
    "model",
    "principle_id",
];

/// How lengths are measured.
pub enum LengthUnit {
    /// Whitespace-separated words (no tokenizer given).
    Words,
    /// Tokens of a Hugging Face `tokenizer.json` (no special tokens added).
    #[cfg(feature = "tokenizer")]
    Tokens(Box<tokenizers::Tokenizer>),
}

impl LengthUnit {
    /// Loads a `tokenizer.json`.
    #[cfg(feature = "tokenizer")]
    pub fn tokenizer(path: &Path) -> Result<Self> {
        let tokenizer = tokenizers::Tokenizer::from_file(path).map_err(|e| Error::Tokenizer {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Ok(Self::Tokens(Box::new(tokenizer)))
    }

    /// Length of `text` in this unit.
    pub fn measure(&self, text: &str) -> Result<usize> {
        match self {
            LengthUnit::Words => Ok(text.split_whitespace().count()),
            #[cfg(feature = "tokenizer")]
            LengthUnit::Tokens(t) => {
                t.encode(text, false)
                    .map(|e| e.get_ids().len())
                    .map_err(|e| Error::Tokenizer {
                        path: "tokenizer".into(),
                        reason: e.to_string(),
                    })
            }
        }
    }

    /// Name of the unit for reports.
    pub fn name(&self) -> &'static str {
        match self {
            LengthUnit::Words => "whitespace words",
            #[cfg(feature = "tokenizer")]
            LengthUnit::Tokens(_) => "tokens",
        }
    }
}

/// Lengths seen for one field.
#[derive(Clone, Debug, Default)]
pub struct Lengths {
    values: Vec<usize>,
}

impl Lengths {
    /// Records one length.
    pub fn push(&mut self, n: usize) {
        self.values.push(n);
    }

    /// Number of values.
    pub fn count(&self) -> usize {
        self.values.len()
    }

    /// Mean, or 0 when empty.
    pub fn mean(&self) -> f64 {
        if self.values.is_empty() {
            0.0
        } else {
            self.values.iter().sum::<usize>() as f64 / self.values.len() as f64
        }
    }

    /// Nearest-rank percentile (`q` in 0..=100), or 0 when empty.
    pub fn percentile(&self, q: f64) -> usize {
        let mut sorted = self.values.clone();
        sorted.sort_unstable();
        if sorted.is_empty() {
            return 0;
        }
        let rank = ((q / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
        sorted[rank.min(sorted.len()) - 1]
    }

    /// Largest value, or 0 when empty.
    pub fn max(&self) -> usize {
        self.values.iter().copied().max().unwrap_or(0)
    }

    /// Power-of-two buckets: `(lower bound, upper bound exclusive, count)`, first bucket `[0, 16)`.
    pub fn histogram(&self) -> Vec<(usize, usize, usize)> {
        let mut buckets = vec![(0, 16, 0)];
        while buckets.last().is_some_and(|b| b.1 <= self.max()) {
            let hi = buckets.last().map_or(16, |b| b.1);
            buckets.push((hi, hi * 2, 0));
        }
        for &v in &self.values {
            if let Some(b) = buckets.iter_mut().find(|b| v >= b.0 && v < b.1) {
                b.2 += 1;
            }
        }
        buckets
    }
}

/// Statistics of one file.
#[derive(Debug, Default)]
pub struct FileStats {
    /// Records read.
    pub records: u64,
    /// Records that could not be parsed.
    pub invalid: u64,
    /// Per-field lengths; keys like `prompt` or `conversations[].value`.
    pub fields: BTreeMap<String, Lengths>,
    /// Total text length per record.
    pub per_record: Lengths,
}

/// Reads every record of `path` and measures its text fields.
pub fn file_stats(path: &Path, unit: &LengthUnit) -> Result<FileStats> {
    let mut records = read_records::<Value>(path, ReadOptions::skip_bad())?;
    let mut stats = FileStats::default();
    for record in records.by_ref() {
        let record = record?;
        stats.records += 1;
        let mut texts = Vec::new();
        collect_texts(&record, String::new(), &mut texts);
        let mut total = 0;
        for (field, text) in texts {
            let n = unit.measure(text)?;
            total += n;
            stats.fields.entry(field).or_default().push(n);
        }
        stats.per_record.push(total);
    }
    stats.invalid = records.skipped().total;
    Ok(stats)
}

fn collect_texts<'a>(value: &'a Value, field: String, out: &mut Vec<(String, &'a str)>) {
    match value {
        Value::String(s) => out.push((
            if field.is_empty() {
                "(root)".into()
            } else {
                field
            },
            s,
        )),
        Value::Array(items) => items
            .iter()
            .for_each(|v| collect_texts(v, format!("{field}[]"), out)),
        Value::Object(map) => {
            for (k, v) in map
                .iter()
                .filter(|(k, _)| !METADATA_KEYS.contains(&k.as_str()))
            {
                let name = if field.is_empty() {
                    k.clone()
                } else {
                    format!("{field}.{k}")
                };
                collect_texts(v, name, out);
            }
        }
        _ => {}
    }
}

impl FileStats {
    /// Plain-text report.
    pub fn render(&self, unit: &LengthUnit) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "records: {}  invalid (skipped): {}  unit: {}",
            self.records,
            self.invalid,
            unit.name()
        );
        let _ = writeln!(
            out,
            "{:<32} {:>8} {:>9} {:>7} {:>7} {:>7} {:>8}",
            "field", "count", "mean", "p50", "p90", "p99", "max"
        );
        let rows = self
            .fields
            .iter()
            .map(|(k, v)| (k.as_str(), v))
            .chain([("(record total)", &self.per_record)]);
        for (name, l) in rows {
            let _ = writeln!(
                out,
                "{name:<32} {:>8} {:>9.1} {:>7} {:>7} {:>7} {:>8}",
                l.count(),
                l.mean(),
                l.percentile(50.0),
                l.percentile(90.0),
                l.percentile(99.0),
                l.max()
            );
        }
        let _ = writeln!(out, "record length histogram ({}):", unit.name());
        let hist = self.per_record.histogram();
        let peak = hist.iter().map(|b| b.2).max().unwrap_or(0).max(1);
        for (lo, hi, n) in hist {
            let bar = "#".repeat((n * 40).div_ceil(peak));
            let _ = writeln!(out, "  [{lo:>6}, {hi:>6}) {n:>8} {bar}");
        }
        out
    }

    /// JSON report.
    pub fn to_json(&self, unit: &LengthUnit) -> Value {
        let summary = |l: &Lengths| {
            json!({"count": l.count(), "mean": l.mean(), "p50": l.percentile(50.0), "p90": l.percentile(90.0),
                   "p99": l.percentile(99.0), "max": l.max(),
                   "histogram": l.histogram().iter().map(|(lo, hi, n)| json!([lo, hi, n])).collect::<Vec<_>>()})
        };
        json!({
            "records": self.records,
            "invalid": self.invalid,
            "unit": unit.name(),
            "fields": self.fields.iter().map(|(k, v)| (k.clone(), summary(v))).collect::<serde_json::Map<_, _>>(),
            "per_record": summary(&self.per_record),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_histogram() {
        let mut l = Lengths::default();
        for v in [1, 2, 3, 4, 100] {
            l.push(v);
        }
        assert_eq!(l.percentile(50.0), 3);
        assert_eq!(l.percentile(100.0), 100);
        assert_eq!(l.max(), 100);
        let h = l.histogram();
        assert_eq!(h.first(), Some(&(0, 16, 4)));
        assert_eq!(h.iter().map(|b| b.2).sum::<usize>(), 5);
        assert!(h.last().is_some_and(|b| b.0 <= 100 && 100 < b.1));
    }

    #[test]
    fn metadata_is_not_text() {
        let v = json!({"id": "x", "prompt": "a b", "history": [{"role": "user", "content": "c"}]});
        let mut out = Vec::new();
        collect_texts(&v, String::new(), &mut out);
        out.sort();
        assert_eq!(
            out,
            vec![
                ("history[].content".to_string(), "c"),
                ("prompt".to_string(), "a b")
            ]
        );
    }
}
