//! GGUF v2/v3 reader: metadata, tensor directory, and dequantised tensor reads.
//!
//! The file is read through `seek` + `read` per tensor (no memory map), and every length and offset
//! is checked against the file size first, so a truncated or corrupt file gives a [`ModelError`]
//! naming the file and tensor instead of a panic or a huge allocation. Element counts, byte sizes
//! and offsets are computed with checked arithmetic; metadata arrays may nest at most
//! [`MAX_ARRAY_DEPTH`] deep and the parsed metadata may take at most [`metadata_budget`] bytes.

pub mod dequant;
mod metadata;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

pub use dequant::GgmlType;
pub use metadata::{GgufValue, MAX_ARRAY_DEPTH, MAX_METADATA_MEMORY, metadata_budget};

use crate::error::{ModelError, Result};

const MAGIC: &[u8; 4] = b"GGUF";

/// Largest `general.alignment` accepted (llama.cpp writes 32; it must be a power of two).
pub const MAX_ALIGNMENT: u64 = 1 << 16;

/// One entry of the tensor directory.
#[derive(Debug, Clone)]
pub struct GgufTensorInfo {
    /// GGUF tensor name, e.g. `blk.0.attn_q.weight`.
    pub name: String,
    /// ggml dimensions, fastest-varying first (`ne[0]` is the row length).
    pub dims: Vec<usize>,
    /// ggml type id.
    pub type_id: u32,
    /// Offset from the start of the data section.
    pub offset: u64,
}

impl GgufTensorInfo {
    /// Row-major (PyTorch order) shape: the ggml dims reversed.
    pub fn shape(&self) -> Vec<usize> {
        self.dims.iter().rev().copied().collect()
    }

    /// Number of elements, or `None` when the product of the dims overflows.
    pub fn checked_len(&self) -> Option<usize> {
        self.dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
    }

    /// Number of elements (saturating; [`GgufFile::open`] refuses tensors whose count overflows).
    pub fn len(&self) -> usize {
        self.checked_len().unwrap_or(usize::MAX)
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An opened GGUF file: its metadata and tensor directory, with tensor data read on demand.
#[derive(Debug)]
pub struct GgufFile {
    path: PathBuf,
    /// Format version (2 or 3).
    pub version: u32,
    /// Every metadata key/value.
    pub metadata: BTreeMap<String, GgufValue>,
    /// Tensor directory in file order.
    pub tensors: Vec<GgufTensorInfo>,
    data_offset: u64,
}

impl GgufFile {
    /// Opens and validates `path`: header, metadata, tensor directory and that every tensor's data
    /// lies inside the file.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| ModelError::io(path, e))?;
        let file_len = file.metadata().map_err(|e| ModelError::io(path, e))?.len();
        let mut r = metadata::Reader::new(BufReader::new(file), path, file_len);
        let mut magic = [0u8; 4];
        r.bytes(&mut magic)?;
        if &magic != MAGIC {
            return Err(ModelError::format(path, "not a GGUF file (bad magic)"));
        }
        let version = r.u32()?;
        if !(2..=3).contains(&version) {
            return Err(ModelError::format(
                path,
                format!("unsupported GGUF version {version}"),
            ));
        }
        let n_tensors = r.u64()?;
        let n_kv = r.u64()?;
        let mut metadata = BTreeMap::new();
        for _ in 0..n_kv {
            let key = r.string()?;
            let value = r.value()?;
            metadata.insert(key, value);
        }
        let mut tensors = Vec::new();
        for _ in 0..n_tensors {
            let name = r.string()?;
            let n_dims = r.u32()? as usize;
            if n_dims > 4 {
                return Err(ModelError::format(
                    path,
                    format!("tensor `{name}`: {n_dims} dimensions"),
                ));
            }
            let dims = (0..n_dims)
                .map(|_| {
                    let d = r.u64()?;
                    usize::try_from(d).map_err(|_| {
                        ModelError::format(
                            path,
                            format!("tensor `{name}`: dimension {d} too large"),
                        )
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let type_id = r.u32()?;
            let offset = r.u64()?;
            tensors.push(GgufTensorInfo {
                name,
                dims,
                type_id,
                offset,
            });
        }
        let alignment = metadata
            .get("general.alignment")
            .and_then(GgufValue::as_u64)
            .unwrap_or(32);
        if !alignment.is_power_of_two() || alignment > MAX_ALIGNMENT {
            return Err(ModelError::config(
                path,
                "general.alignment",
                format!("{alignment} is not a power of two up to {MAX_ALIGNMENT}"),
            ));
        }
        // position ≤ file length and alignment ≤ 2^16: no overflow.
        let data_offset = r.position().div_ceil(alignment) * alignment;
        let gguf = Self {
            path: path.to_path_buf(),
            version,
            metadata,
            tensors,
            data_offset,
        };
        for info in &gguf.tensors {
            gguf.check_extent(info, file_len)?;
        }
        Ok(gguf)
    }

    /// The file this was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn check_extent(&self, info: &GgufTensorInfo, file_len: u64) -> Result<()> {
        let bad = |reason: String| {
            ModelError::format(&self.path, format!("tensor `{}`: {reason}", info.name))
        };
        let n = info
            .checked_len()
            .ok_or_else(|| bad(format!("dims {:?} overflow the element count", info.dims)))?;
        let Some(ty) = GgmlType::from_id(info.type_id) else {
            return Ok(()); // reported when the tensor is read
        };
        let n_bytes = ty
            .bytes_for(n)
            .ok_or_else(|| bad(format!("{n} elements is not a whole number of blocks")))?;
        let end = self
            .data_offset
            .checked_add(info.offset)
            .and_then(|start| start.checked_add(n_bytes as u64))
            .ok_or_else(|| bad(format!("offset {} overflows", info.offset)))?;
        if end > file_len {
            return Err(ModelError::format(
                &self.path,
                format!(
                    "truncated: tensor `{}` ends at byte {end} but the file has {file_len} bytes",
                    info.name
                ),
            ));
        }
        Ok(())
    }

    /// Looks a tensor up by its GGUF name.
    pub fn tensor_info(&self, name: &str) -> Option<&GgufTensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// Reads the raw (still quantised) bytes of a tensor.
    pub fn read_raw(&self, info: &GgufTensorInfo) -> Result<Vec<u8>> {
        let ty = self.ggml_type(info)?;
        let bad = || ModelError::format(&self.path, format!("tensor `{}`: bad extent", info.name));
        let n_bytes = info
            .checked_len()
            .and_then(|n| ty.bytes_for(n))
            .ok_or_else(bad)?;
        let start = self.data_offset.checked_add(info.offset).ok_or_else(bad)?;
        let mut file = File::open(&self.path).map_err(|e| ModelError::io(&self.path, e))?;
        let file_len = file
            .metadata()
            .map_err(|e| ModelError::io(&self.path, e))?
            .len();
        if start.saturating_add(n_bytes as u64) > file_len {
            return Err(bad());
        }
        file.seek(SeekFrom::Start(start))
            .map_err(|e| ModelError::io(&self.path, e))?;
        let mut raw = vec![0u8; n_bytes];
        file.read_exact(&mut raw)
            .map_err(|e| ModelError::io(&self.path, e))?;
        Ok(raw)
    }

    /// Reads a tensor and dequantises it to `f32` in row-major order.
    pub fn read_f32(&self, info: &GgufTensorInfo) -> Result<Vec<f32>> {
        let ty = self.ggml_type(info)?;
        Ok(dequant::dequantize(ty, &self.read_raw(info)?))
    }

    fn ggml_type(&self, info: &GgufTensorInfo) -> Result<GgmlType> {
        GgmlType::from_id(info.type_id).ok_or_else(|| ModelError::UnsupportedQuant {
            path: self.path.clone(),
            tensor: info.name.clone(),
            ggml_type: GgmlType::name_of(info.type_id),
        })
    }

    /// A metadata string.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).and_then(GgufValue::as_str)
    }

    /// A metadata integer.
    pub fn u64(&self, key: &str) -> Option<u64> {
        self.metadata.get(key).and_then(GgufValue::as_u64)
    }

    /// A metadata float.
    pub fn f64(&self, key: &str) -> Option<f64> {
        self.metadata.get(key).and_then(GgufValue::as_f64)
    }
}
