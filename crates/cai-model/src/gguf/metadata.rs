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

/// Little-endian reader that refuses lengths larger than what is left of the file.
pub(crate) struct Reader<R> {
    inner: R,
    path: PathBuf,
    pos: u64,
    len: u64,
}

impl<R: Read> Reader<R> {
    pub(crate) fn new(inner: R, path: &Path, len: u64) -> Self {
        Self {
            inner,
            path: path.to_path_buf(),
            pos: 0,
            len,
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
        if self.pos + buf.len() as u64 > self.len {
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
        self.len - self.pos
    }

    pub(crate) fn string(&mut self) -> Result<String> {
        let n = self.u64()?;
        if n > self.remaining() {
            return Err(self.truncated());
        }
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
        self.typed_value(ty)
    }

    fn typed_value(&mut self, ty: u32) -> Result<GgufValue> {
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
                let item_ty = self.u32()?;
                let n = self.u64()?;
                if n > self.remaining() {
                    return Err(self.truncated());
                }
                let items = (0..n)
                    .map(|_| self.typed_value(item_ty))
                    .collect::<Result<Vec<_>>>()?;
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
