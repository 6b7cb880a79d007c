//! Layered configuration: a stage's defaults, overridden by a TOML file, overridden by the flags
//! given on the command line.
//!
//! The layers are merged as JSON values and deserialised once, so every field has exactly one
//! definition (the stage's serde struct); a key that is not a field at any level is an error
//! naming the key and the layer it came from. A binary turns its clap flags into the override
//! layer with [`given_flags`]: every flag is an `Option`, and those not given drop out. A file
//! may spell its keys in `kebab-case`, as the flags are.

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A layer that does not fit the configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {reason}")]
pub struct LayerError {
    /// Where the offending value came from: the file's path, `flags`, or `merged`.
    pub origin: String,
    /// What is wrong, naming the key.
    pub reason: String,
}

impl LayerError {
    fn new(origin: impl Into<String>, reason: impl ToString) -> Self {
        Self {
            origin: origin.into(),
            reason: reason.to_string(),
        }
    }
}

/// `defaults`, then the TOML file at `file` (if any), then `overrides` (a JSON object shaped like
/// the configuration), deserialised as `T`.
pub fn load_layered<T>(defaults: &T, file: Option<&Path>, overrides: Value) -> Result<T, LayerError>
where
    T: Serialize + DeserializeOwned,
{
    let mut merged = serde_json::to_value(defaults).map_err(|e| LayerError::new("defaults", e))?;
    if let Some(path) = file {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| LayerError::new(&origin, e))?;
        let table: toml::Table = toml::from_str(&text).map_err(|e| LayerError::new(&origin, e))?;
        let mut layer = serde_json::to_value(table).map_err(|e| LayerError::new(&origin, e))?;
        snake_case_keys(&mut layer);
        merge(&mut merged, layer, "").map_err(|e| LayerError::new(&origin, e))?;
    }
    merge(&mut merged, overrides, "").map_err(|e| LayerError::new("flags", e))?;
    serde_json::from_value(merged).map_err(|e| LayerError::new("merged", e))
}

/// Renames every `kebab-case` key of a file layer to the `snake_case` of the fields.
fn snake_case_keys(value: &mut Value) {
    if let Value::Object(map) = value {
        let entries = std::mem::take(map);
        for (key, mut v) in entries {
            snake_case_keys(&mut v);
            map.insert(key.replace('-', "_"), v);
        }
    }
}

/// Overlays `over` onto `base`; objects merge key by key, anything else replaces. A key `base`
/// lacks is an unknown field.
pub fn merge(base: &mut Value, over: Value, at: &str) -> Result<(), String> {
    let Value::Object(over) = over else {
        *base = over;
        return Ok(());
    };
    let Value::Object(base) = base else {
        return Err(format!("`{at}` is not a table"));
    };
    for (key, value) in over {
        let path = if at.is_empty() {
            key.clone()
        } else {
            format!("{at}.{key}")
        };
        match base.get_mut(&key) {
            Some(slot) if slot.is_object() => merge(slot, value, &path)?,
            Some(slot) => *slot = value,
            None => return Err(format!("unknown field `{path}`")),
        }
    }
    Ok(())
}

/// The flags that were given, as a JSON object shaped like the configuration: `flags` serialised,
/// without nulls (flags not given), empty lists and tables left empty.
pub fn given_flags(flags: &impl Serialize) -> Result<Value, LayerError> {
    let mut value = serde_json::to_value(flags).map_err(|e| LayerError::new("flags", e))?;
    prune(&mut value);
    Ok(value)
}

fn prune(value: &mut Value) {
    if let Value::Object(map) = value {
        map.values_mut().for_each(prune);
        map.retain(|_, v| match v {
            Value::Null => false,
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
            _ => true,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        a: u32,
        b: String,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        n: u32,
        list: Vec<String>,
        inner: Inner,
    }

    fn defaults() -> Outer {
        Outer {
            n: 1,
            list: vec!["x".into()],
            inner: Inner {
                a: 2,
                b: "b".into(),
            },
        }
    }

    #[test]
    fn flags_override_the_file_which_overrides_defaults_field_by_field() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), "n = 5\n[inner]\nb = \"file\"\n").unwrap();
        // (kebab-case keys are accepted in files)
        let got = load_layered(&defaults(), Some(file.path()), json!({"inner": {"a": 9}})).unwrap();
        assert_eq!(got.n, 5);
        assert_eq!(
            got.inner,
            Inner {
                a: 9,
                b: "file".into()
            }
        );
        assert_eq!(got.list, ["x"]);
    }

    #[test]
    fn unknown_keys_name_the_key_and_the_layer() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), "[inner]\nc = 1\n").unwrap();
        let err = load_layered(&defaults(), Some(file.path()), json!({})).unwrap_err();
        assert!(err.reason.contains("inner.c"), "{err}");
        assert_eq!(err.origin, file.path().display().to_string());
        let err = load_layered(&defaults(), None, json!({"m": 1})).unwrap_err();
        assert_eq!(
            (err.origin.as_str(), err.reason.contains("`m`")),
            ("flags", true)
        );
    }

    #[test]
    fn flags_not_given_drop_out() {
        #[derive(Serialize)]
        struct Flags {
            n: Option<u32>,
            list: Vec<String>,
            inner: InnerFlags,
        }
        #[derive(Serialize)]
        struct InnerFlags {
            a: Option<u32>,
        }
        let none = Flags {
            n: None,
            list: vec![],
            inner: InnerFlags { a: None },
        };
        assert_eq!(given_flags(&none).unwrap(), json!({}));
        let some = Flags {
            n: Some(3),
            list: vec!["y".into()],
            inner: InnerFlags { a: Some(4) },
        };
        assert_eq!(
            given_flags(&some).unwrap(),
            json!({"n": 3, "list": ["y"], "inner": {"a": 4}})
        );
    }
}
