//! Translation of GGUF `tokenizer.ggml.*` metadata into a `tokenizer.json` document.

use serde_json::{Value, json};

use crate::error::{ModelError, Result};
use crate::gguf::{GgufFile, GgufValue};

/// GGUF token types (llama.cpp `llama_token_type`).
const TOKEN_CONTROL: i64 = 3;
const TOKEN_USER_DEFINED: i64 = 4;

/// Llama-3's pre-tokenizer regex (`llama-bpe`).
const LLAMA3_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

fn strings(file: &GgufFile, key: &str) -> Result<Vec<String>> {
    let arr = file
        .metadata
        .get(key)
        .and_then(GgufValue::as_array)
        .ok_or_else(|| ModelError::config(file.path(), key, "missing or not an array"))?;
    arr.iter()
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| ModelError::config(file.path(), key, "array item is not a string"))
        })
        .collect()
}

fn numbers(file: &GgufFile, key: &str) -> Vec<f64> {
    file.metadata
        .get(key)
        .and_then(GgufValue::as_array)
        .map(|a| a.iter().map(|v| v.as_f64().unwrap_or(0.0)).collect())
        .unwrap_or_default()
}

fn added_tokens(tokens: &[String], types: &[f64]) -> Vec<Value> {
    tokens
        .iter()
        .enumerate()
        .filter_map(|(id, tok)| {
            let ty = types.get(id).copied().unwrap_or(1.0) as i64;
            (ty == TOKEN_CONTROL || ty == TOKEN_USER_DEFINED).then(|| {
                json!({"id": id, "content": tok, "single_word": false, "lstrip": false,
                       "rstrip": false, "normalized": false, "special": ty == TOKEN_CONTROL})
            })
        })
        .collect()
}

fn vocab(tokens: &[String]) -> serde_json::Map<String, Value> {
    tokens
        .iter()
        .enumerate()
        .map(|(id, t)| (t.clone(), json!(id)))
        .collect()
}

fn byte_level_pre_tokenizer(pre: &str) -> Value {
    let byte_level = |use_regex: bool| json!({"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": use_regex});
    match pre {
        // SmolLM: every digit is its own piece, then the GPT-2 regex.
        "smollm" => json!({"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": true}, byte_level(true)]}),
        "llama-bpe" | "llama3" => json!({"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": LLAMA3_REGEX}, "behavior": "Isolated", "invert": false},
            byte_level(false)]}),
        other => {
            if other != "default" && other != "gpt2" {
                tracing::warn!(
                    pre = other,
                    "unknown GGUF pre-tokenizer, using plain GPT-2 byte-level"
                );
            }
            byte_level(true)
        }
    }
}

/// Merges of a SentencePiece BPE vocabulary, reconstructed from piece scores as transformers'
/// `SentencePieceExtractor` does: every split of a piece into two known pieces, ranked by the
/// merged piece's score (higher first), ties by the halves' ids.
fn sentencepiece_merges(tokens: &[String], scores: &[f64]) -> Vec<Value> {
    let ids: std::collections::HashMap<&str, usize> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.as_str(), i))
        .collect();
    let mut merges = Vec::new();
    for (merged_id, piece) in tokens.iter().enumerate() {
        let score = scores.get(merged_id).copied().unwrap_or(0.0);
        for (split, _) in piece.char_indices().skip(1) {
            let (l, r) = piece.split_at(split);
            if let (Some(&li), Some(&ri)) = (ids.get(l), ids.get(r)) {
                merges.push((score, li, ri));
            }
        }
    }
    merges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    merges
        .into_iter()
        .map(|(_, l, r)| json!([tokens[l], tokens[r]]))
        .collect()
}

/// The `tokenizer.json` equivalent of `file`'s tokenizer metadata.
pub fn tokenizer_json(file: &GgufFile) -> Result<Value> {
    let model = file
        .str("tokenizer.ggml.model")
        .ok_or_else(|| ModelError::config(file.path(), "tokenizer.ggml.model", "missing"))?;
    let tokens = strings(file, "tokenizer.ggml.tokens")?;
    let types = numbers(file, "tokenizer.ggml.token_type");
    let added = added_tokens(&tokens, &types);
    match model {
        "gpt2" => {
            let merges: Vec<Value> = strings(file, "tokenizer.ggml.merges")?
                .iter()
                .map(|m| {
                    let (l, r) = m.split_once(' ').unwrap_or((m.as_str(), ""));
                    json!([l, r])
                })
                .collect();
            let pre = file.str("tokenizer.ggml.pre").unwrap_or("default");
            Ok(json!({
                "version": "1.0", "truncation": null, "padding": null,
                "added_tokens": added, "normalizer": null,
                "pre_tokenizer": byte_level_pre_tokenizer(pre),
                "post_processor": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": true},
                "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
                "model": {"type": "BPE", "dropout": null, "unk_token": null,
                          "continuing_subword_prefix": "", "end_of_word_suffix": "",
                          "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                          "vocab": vocab(&tokens), "merges": merges}
            }))
        }
        "llama" => {
            let scores = numbers(file, "tokenizer.ggml.scores");
            let unk = file
                .u64("tokenizer.ggml.unknown_token_id")
                .and_then(|i| tokens.get(i as usize).cloned());
            let prefix = file
                .metadata
                .get("tokenizer.ggml.add_space_prefix")
                .and_then(GgufValue::as_bool)
                .unwrap_or(true);
            let mut normalizers = Vec::new();
            if prefix {
                normalizers.push(json!({"type": "Prepend", "prepend": "▁"}));
            }
            normalizers
                .push(json!({"type": "Replace", "pattern": {"String": " "}, "content": "▁"}));
            Ok(json!({
                "version": "1.0", "truncation": null, "padding": null,
                "added_tokens": added,
                "normalizer": {"type": "Sequence", "normalizers": normalizers},
                "pre_tokenizer": null, "post_processor": null,
                "decoder": {"type": "Sequence", "decoders": [
                    {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
                    {"type": "ByteFallback"}, {"type": "Fuse"},
                    {"type": "Strip", "content": " ", "start": if prefix { 1 } else { 0 }, "stop": 0}]},
                "model": {"type": "BPE", "dropout": null, "unk_token": unk,
                          "continuing_subword_prefix": null, "end_of_word_suffix": null,
                          "fuse_unk": true, "byte_fallback": true, "ignore_merges": false,
                          "vocab": vocab(&tokens), "merges": sentencepiece_merges(&tokens, &scores)}
            }))
        }
        other => Err(ModelError::config(
            file.path(),
            "tokenizer.ggml.model",
            format!("tokenizer model `{other}` is not supported (gpt2 or llama)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentencepiece_merges_rank_by_merged_score() {
        let tokens: Vec<String> = ["a", "b", "c", "ab", "bc", "abc"]
            .map(String::from)
            .to_vec();
        let scores = [0.0, 0.0, 0.0, -1.0, -2.0, -0.5];
        let merges = sentencepiece_merges(&tokens, &scores);
        assert_eq!(merges[0], json!(["a", "bc"]));
        assert_eq!(merges[1], json!(["ab", "c"]));
        assert_eq!(merges[2], json!(["a", "b"]));
        assert_eq!(merges[3], json!(["b", "c"]));
    }
}
