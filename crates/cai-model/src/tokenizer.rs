//! Tokenizer: Hugging Face `tokenizers` from a `tokenizer.json`, or an equivalent one built from
//! GGUF metadata (gpt2 byte-level BPE with its pre-tokenizer, or llama SentencePiece BPE).

mod from_gguf;

use std::path::Path;

use crate::error::{ModelError, Result};
use crate::gguf::GgufFile;

/// Byte range `(start, end)` of a token in the encoded text.
pub type ByteSpan = (usize, usize);

/// A text ↔ token-id codec with the model's special-token conventions.
#[derive(Clone)]
pub struct Tokenizer {
    inner: tokenizers::Tokenizer,
    origin: String,
    add_bos: bool,
    bos_id: Option<u32>,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("origin", &self.origin)
            .field("vocab_size", &self.vocab_size())
            .field("add_bos", &self.add_bos)
            .finish()
    }
}

impl Tokenizer {
    /// Loads a `tokenizer.json`; `add_bos` says whether [`Tokenizer::encode`] prepends BOS.
    pub fn from_file(path: &Path, add_bos: bool, bos_id: Option<u32>) -> Result<Self> {
        let inner = tokenizers::Tokenizer::from_file(path).map_err(|e| ModelError::Tokenizer {
            origin: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(Self::wrap(
            inner,
            path.display().to_string(),
            add_bos,
            bos_id,
        ))
    }

    /// Builds the tokenizer described by a GGUF file's `tokenizer.ggml.*` metadata.
    pub fn from_gguf(file: &GgufFile) -> Result<Self> {
        let json = from_gguf::tokenizer_json(file)?;
        let origin = file.path().display().to_string();
        let inner =
            tokenizers::Tokenizer::from_bytes(json.to_string().as_bytes()).map_err(|e| {
                ModelError::Tokenizer {
                    origin: origin.clone(),
                    reason: e.to_string(),
                }
            })?;
        let add_bos = file
            .metadata
            .get("tokenizer.ggml.add_bos_token")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        let bos = file.u64("tokenizer.ggml.bos_token_id").map(|v| v as u32);
        Ok(Self::wrap(inner, origin, add_bos, bos))
    }

    fn wrap(inner: tokenizers::Tokenizer, origin: String, add_bos: bool, bos: Option<u32>) -> Self {
        Self {
            inner,
            origin,
            add_bos,
            bos_id: bos,
        }
    }

    /// The underlying `tokenizers` object (e.g. to save it as `tokenizer.json`).
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }

    /// Whether `encode` prepends BOS.
    pub fn add_bos(&self) -> bool {
        self.add_bos
    }

    fn err(&self, e: impl std::fmt::Display) -> ModelError {
        ModelError::Tokenizer {
            origin: self.origin.clone(),
            reason: e.to_string(),
        }
    }

    /// Encodes `text` with special tokens matched verbatim; no BOS is added.
    ///
    /// Use this for text that already carries its special tokens, like a rendered chat template.
    pub fn encode_raw(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self.inner.encode(text, false).map_err(|e| self.err(e))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Like [`Tokenizer::encode_raw`], also returning each token's byte range in `text`.
    pub fn encode_raw_with_offsets(&self, text: &str) -> Result<(Vec<u32>, Vec<ByteSpan>)> {
        let enc = self.inner.encode(text, false).map_err(|e| self.err(e))?;
        Ok((enc.get_ids().to_vec(), enc.get_offsets().to_vec()))
    }

    /// Encodes plain text, prepending BOS when the model asks for it (and it is not there already).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let mut ids = self.encode_raw(text)?;
        if let (true, Some(bos)) = (self.add_bos, self.bos_id)
            && ids.first() != Some(&bos)
        {
            ids.insert(0, bos);
        }
        Ok(ids)
    }

    /// Decodes ids to text; `skip_special` drops special tokens.
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String> {
        self.inner
            .decode(ids, skip_special)
            .map_err(|e| self.err(e))
    }

    /// The id of a token string (special tokens included).
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// The string of a token id.
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// Vocabulary size including added tokens.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Fails unless every token id (added tokens included) is a row of the model's `vocab`-row
    /// embedding; `model` names where that size came from. A tokenizer may be smaller than the
    /// embedding (vocabularies padded to a multiple of 64 are common), never larger.
    pub fn check_fits(&self, vocab: usize, model: &str) -> Result<()> {
        let tokens = self.vocab_size();
        let largest = self.inner.get_vocab(true).into_values().max();
        match largest {
            Some(id) if id as usize >= vocab => Err(self.err(format!(
                "{tokens} tokens with ids up to {id}, but the model ({model}) has a vocabulary \
                 of {vocab} tokens: token ids must be below {vocab}"
            ))),
            _ => Ok(()),
        }
    }

    /// Writes the tokenizer as `tokenizer.json`.
    pub fn save(&self, path: &Path) -> Result<()> {
        self.inner.save(path, false).map_err(|e| self.err(e))
    }
}
