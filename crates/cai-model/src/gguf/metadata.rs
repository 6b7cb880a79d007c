//! GGUF metadata values and the bounds-checked little-endian reader that parses them.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{ModelError, Result};

/// A GGUF metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum GgufValue {
    /// Any unsigned integer type.
    U64(u64),
    /// Any signed integer type.
    I64(i64),
    /// `float32` or `float64`.
    F64(f64),
    /// Boolean.
    Bool(bool),
    /// UTF-8 string.
    Str(String),
    /// Homogeneous array.
    Array(Vec<GgufValue>),
}

impl GgufValue {
    /// The value as an unsigned integer, if it is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Self::U64(v) => Some(v),
            Self::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value as a float (integers convert).
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Self::F64(v) => Some(v),
            Self::U64(v) => Some(v as f64),
            Self::I64(v) => Some(v as f64),
            _ => None,
        }
    }

    /// The value as a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value as a bool.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Self::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The value as an array.
    pub fn as_array(&self) -> Option<&[GgufValue]> {
        match self {
            Self::Array(items) => Some(items),
            _ => None,
        }
    }
}

/// Bytes of memory one parsed value takes (strings' and arrays' contents come on top).
const VALUE_SIZE: u64 = std::mem::size_of::<GgufValue>() as u64;

/// Deepest nesting of metadata arrays accepted (llama.cpp itself reads none nested).
pub const MAX_ARRAY_DEPTH: usize = 8;

/// Most memory the parsed metadata may take, whatever the file's size.
pub const MAX_METADATA_MEMORY: u64 = 256 << 20;

/// Memory the parsed metadata of a `file_len`-byte file may take: 16 times the file plus 1 MiB,
/// at most [`MAX_METADATA_MEMORY`]. A real tokenizer takes 2–4 times its bytes in the file; one
/// array element in memory is a 32-byte [`GgufValue`], so a huge array of single bytes would
/// otherwise grow 32-fold.
pub fn metadata_budget(file_len: u64) -> u64 {
    file_len
        .saturating_mul(16)
        .saturating_add(1 << 20)
        .min(MAX_METADATA_MEMORY)
}

/// Little-endian reader that refuses lengths larger than what is left of the file, arrays nested
/// deeper than [`MAX_ARRAY_DEPTH`], and metadata larger in memory than [`metadata_budget`].
pub(crate) struct Reader<R> {
    inner: R,
    path: PathBuf,
    pos: u64,
    len: u64,
    /// Bytes of memory the metadata parsed so far may still take.
    budget: u64,
}

impl<R: Read> Reader<R> {
    pub(crate) fn new(inner: R, path: &Path, len: u64) -> Self {
        Self {
            inner,
            path: path.to_path_buf(),
            pos: 0,
            len,
            budget: metadata_budget(len),
        }
    }

    /// Counts `bytes` of parsed metadata against the budget.
    pub(crate) fn charge(&mut self, bytes: u64) -> Result<()> {
        match self.budget.checked_sub(bytes) {
            Some(left) => {
                self.budget = left;
                Ok(())
            }
            None => Err(ModelError::format(
                &self.path,
                format!(
                    "metadata at byte {} needs more than {} bytes of memory \
                     (the limit for a {}-byte file)",
                    self.pos,
                    metadata_budget(self.len),
                    self.len
                ),
            )),
        }
    }

    pub(crate) fn position(&self) -> u64 {
        self.pos
    }

    fn truncated(&self) -> ModelError {
        ModelError::format(
            &self.path,
            format!("truncated GGUF header at byte {}", self.pos),
        )
    }

    pub(crate) fn bytes(&mut self, buf: &mut [u8]) -> Result<()> {
        if buf.len() as u64 > self.remaining() {
            return Err(self.truncated());
        }
        self.inner.read_exact(buf).map_err(|_| self.truncated())?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut buf = [0u8; N];
        self.bytes(&mut buf)?;
        Ok(buf)
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn remaining(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    pub(crate) fn string(&mut self) -> Result<String> {
        let n = self.u64()?;
        if n > self.remaining() {
            return Err(self.truncated());
        }
        self.charge(n)?;
        let mut buf = vec![0u8; n as usize];
        self.bytes(&mut buf)?;
        String::from_utf8(buf).map_err(|_| {
            ModelError::format(
                &self.path,
                format!("invalid UTF-8 string before byte {}", self.pos),
            )
        })
    }

    pub(crate) fn value(&mut self) -> Result<GgufValue> {
        let ty = self.u32()?;
        self.charge(VALUE_SIZE)?;
        self.typed_value(ty, 0)
    }

    /// One value of type `ty` inside `depth` enclosing arrays (its own slot already charged).
    fn typed_value(&mut self, ty: u32, depth: usize) -> Result<GgufValue> {
        Ok(match ty {
            0 => GgufValue::U64(self.array::<1>()?[0] as u64),
            1 => GgufValue::I64(self.array::<1>()?[0] as i8 as i64),
            2 => GgufValue::U64(u16::from_le_bytes(self.array()?) as u64),
            3 => GgufValue::I64(i16::from_le_bytes(self.array()?) as i64),
            4 => GgufValue::U64(self.u32()? as u64),
            5 => GgufValue::I64(i32::from_le_bytes(self.array()?) as i64),
            6 => GgufValue::F64(f32::from_le_bytes(self.array()?) as f64),
            7 => GgufValue::Bool(self.array::<1>()?[0] != 0),
            8 => GgufValue::Str(self.string()?),
            9 => {
                if depth >= MAX_ARRAY_DEPTH {
                    return Err(ModelError::format(
                        &self.path,
                        format!(
                            "metadata arrays nested deeper than {MAX_ARRAY_DEPTH} levels at byte {}",
                            self.pos
                        ),
                    ));
                }
                let item_ty = self.u32()?;
                let n = self.u64()?;
                if n > self.remaining() {
                    return Err(self.truncated());
                }
                // Every element's slot is charged before any is read or allocated.
                self.charge(n.saturating_mul(VALUE_SIZE))?;
                // Within the budget, so the exact allocation is safe.
                let mut items = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    items.push(self.typed_value(item_ty, depth + 1)?);
                }
                GgufValue::Array(items)
            }
            10 => GgufValue::U64(self.u64()?),
            11 => GgufValue::I64(i64::from_le_bytes(self.array()?)),
            12 => GgufValue::F64(f64::from_le_bytes(self.array()?)),
            other => {
                return Err(ModelError::format(
                    &self.path,
                    format!(
                        "unknown metadata value type {other} at byte {}",
                        self.pos - 4
                    ),
                ));
            }
        })
    }
}
