//! JSON Schemas of the artifacts (`data-schemas/*.json`, embedded at build time) and record validation.

use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::jsonl::{ReadOptions, read_records};

/// Embedded schemas: `(name, JSON text)`; the name is the file name in `data-schemas/` without `.json`.
pub const SCHEMAS: &[(&str, &str)] = &[
    (
        "red-team-prompt",
        include_str!("../../../data-schemas/red-team-prompt.json"),
    ),
    (
        "chat-sample",
        include_str!("../../../data-schemas/chat-sample.json"),
    ),
    (
        "sl-cai-trace",
        include_str!("../../../data-schemas/sl-cai-trace.json"),
    ),
    (
        "candidate-set",
        include_str!("../../../data-schemas/candidate-set.json"),
    ),
    (
        "preference",
        include_str!("../../../data-schemas/preference.json"),
    ),
    (
        "ppo-prompt",
        include_str!("../../../data-schemas/ppo-prompt.json"),
    ),
    (
        "nemo-rm-comparison",
        include_str!("../../../data-schemas/nemo-rm-comparison.json"),
    ),
];

/// Longest reason kept in a message; schema errors can quote whole field values.
const MAX_REASON_CHARS: usize = 200;

/// A compiled schema.
pub struct Schema {
    name: String,
    validator: jsonschema::Validator,
}

impl Schema {
    /// An embedded schema by name, or a schema file if `name_or_path` is an existing path.
    pub fn load(name_or_path: &str) -> Result<Self> {
        let text = match SCHEMAS.iter().find(|(n, _)| *n == name_or_path) {
            Some((_, text)) => text.to_string(),
            None if Path::new(name_or_path).is_file() => {
                std::fs::read_to_string(name_or_path).map_err(|e| Error::io(name_or_path, e))?
            }
            None => {
                let names: Vec<_> = SCHEMAS.iter().map(|(n, _)| *n).collect();
                return Err(Error::Schema {
                    name: name_or_path.into(),
                    reason: format!("unknown schema (known: {})", names.join(", ")),
                });
            }
        };
        let value: Value = serde_json::from_str(&text).map_err(|e| Error::Schema {
            name: name_or_path.into(),
            reason: e.to_string(),
        })?;
        let validator = jsonschema::validator_for(&value).map_err(|e| Error::Schema {
            name: name_or_path.into(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            name: name_or_path.into(),
            validator,
        })
    }

    /// The name it was loaded by.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Every violation in `instance` as `(field, reason)`; empty when valid.
    pub fn violations(&self, instance: &Value) -> Vec<(String, String)> {
        self.validator
            .iter_errors(instance)
            .map(|e| {
                (
                    pointer_to_field(e.instance_path.as_str()),
                    shorten(&e.to_string()),
                )
            })
            .collect()
    }

    /// Validates every record of a file; returns one error per bad record (syntax errors included).
    pub fn validate_file(&self, path: &Path) -> Result<ValidationReport> {
        let mut records = read_records::<Value>(path, ReadOptions::report())?;
        let mut report = ValidationReport::default();
        while let Some(next) = records.next_with_line() {
            match next {
                Ok((line, value)) => {
                    report.records += 1;
                    if let Some((field, reason)) = self.violations(&value).into_iter().next() {
                        report
                            .errors
                            .push(Error::record(path, line, field, reason, "schema"));
                    }
                }
                Err(err) if err.is_record_level() => {
                    report.records += 1;
                    report.errors.push(err);
                }
                Err(err) => return Err(err),
            }
        }
        Ok(report)
    }
}

/// Outcome of [`Schema::validate_file`].
#[derive(Debug, Default)]
pub struct ValidationReport {
    /// Records seen (valid or not).
    pub records: u64,
    /// One error per invalid record, in file order.
    pub errors: Vec<Error>,
}

/// `/conversations/0/from` → `conversations[0].from`; the empty pointer is `(root)`.
fn pointer_to_field(pointer: &str) -> String {
    let mut out = String::new();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment);
        }
    }
    if out.is_empty() { "(root)".into() } else { out }
}

fn shorten(reason: &str) -> String {
    if reason.chars().count() <= MAX_REASON_CHARS {
        return reason.to_string();
    }
    let cut: String = reason.chars().take(MAX_REASON_CHARS).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_become_dotted_fields() {
        assert_eq!(pointer_to_field(""), "(root)");
        assert_eq!(
            pointer_to_field("/conversations/0/from"),
            "conversations[0].from"
        );
        assert_eq!(pointer_to_field("/a~1b/c~0d"), "a/b.c~d");
    }

    #[test]
    fn every_embedded_schema_compiles() {
        for (name, _) in SCHEMAS {
            Schema::load(name).unwrap();
        }
        assert!(Schema::load("no-such-schema").is_err());
    }
}
