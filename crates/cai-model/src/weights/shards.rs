//! The shard list of a sharded safetensors checkpoint (`model.safetensors.index.json`), with every
//! shard name confined to the model directory: local directories and Hub downloads both go
//! through [`index_shards`], so `../outside.safetensors` or `/etc/passwd` is never opened or
//! requested.

use std::path::{Component, Path};

use crate::error::{ModelError, Result};

/// Fails unless `name` is a relative path of ordinary components: no `..`, `.`, root or drive
/// prefix, no backslash or `:` (separators on Windows, where hf-hub also runs), no NUL, not empty.
/// `index` names the index file in the error.
pub fn check_shard_name(index: &Path, name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        Some("is empty")
    } else if name.contains(['\\', ':', '\0']) {
        Some("contains a backslash, colon or NUL")
    } else if name.starts_with('/') {
        Some("is an absolute path")
    } else if !Path::new(name)
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
        || name.split('/').any(|part| part.is_empty() || part == ".")
    {
        Some("leaves the model directory (`..`, `.` or an empty component)")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(ModelError::config(
            index,
            "weight_map",
            format!("shard name `{}` {reason}", name.escape_debug()),
        )),
        None => Ok(()),
    }
}

/// The distinct shard file names of the index document `text` (read from `index`), sorted, each
/// checked with [`check_shard_name`].
pub fn index_shards(index: &Path, text: &str) -> Result<Vec<String>> {
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|e| ModelError::json(index, e))?;
    let map = json
        .get("weight_map")
        .and_then(|m| m.as_object())
        .ok_or_else(|| ModelError::config(index, "weight_map", "missing or not an object"))?;
    let mut shards = Vec::with_capacity(map.len().min(4096));
    for (tensor, file) in map {
        let file = file.as_str().ok_or_else(|| {
            ModelError::config(
                index,
                format!("weight_map.{tensor}"),
                "shard name is not a string",
            )
        })?;
        check_shard_name(index, file)?;
        shards.push(file.to_string());
    }
    shards.sort();
    shards.dedup();
    Ok(shards)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_pass_and_escapes_fail() {
        let index = Path::new("m/model.safetensors.index.json");
        for ok in ["model-00001-of-00002.safetensors", "sub/part.safetensors"] {
            check_shard_name(index, ok).unwrap();
        }
        for bad in [
            "../outside.safetensors",
            "sub/../../x",
            "/etc/passwd",
            "./x.safetensors",
            "a//b",
            "C:\\x",
            "..\\x",
            "",
            "x\0y",
        ] {
            let err = check_shard_name(index, bad).unwrap_err().to_string();
            assert!(
                err.contains("model.safetensors.index.json") && err.contains("weight_map"),
                "{err}"
            );
        }
    }

    #[test]
    fn index_lists_distinct_sorted_shards() {
        let index = Path::new("i.json");
        let text =
            r#"{"weight_map":{"a":"s2.safetensors","b":"s1.safetensors","c":"s2.safetensors"}}"#;
        assert_eq!(
            index_shards(index, text).unwrap(),
            ["s1.safetensors", "s2.safetensors"]
        );
        let err = index_shards(index, r#"{"weight_map":{"a":"../s.safetensors"}}"#).unwrap_err();
        assert!(err.to_string().contains("../s.safetensors"), "{err}");
        assert!(index_shards(index, r#"{"weight_map":{"a":1}}"#).is_err());
        assert!(index_shards(index, "{}").is_err());
    }
}
