//! Run-time device and dtype selection: burn's `flex` CPU backend by default, CUDA with the `cuda`
//! feature.

use burn::tensor::{DType, Device};

use crate::error::{ModelError, Result};

/// The device models run on: `cuda:N` / `cuda` (with the `cuda` feature) or `cpu` (burn flex).
pub fn parse_device(name: &str) -> Result<Device> {
    match name {
        "cpu" | "flex" => Ok(Device::flex()),
        #[cfg(feature = "cuda")]
        "cuda" => Ok(Device::cuda(0)),
        #[cfg(feature = "cuda")]
        other if other.starts_with("cuda:") => other[5..]
            .parse::<usize>()
            .map(Device::cuda)
            .map_err(|_| ModelError::Invalid(format!("bad device `{other}`"))),
        other => Err(ModelError::Invalid(format!(
            "unknown device `{other}` (cpu{})",
            if cfg!(feature = "cuda") {
                ", cuda, cuda:N"
            } else {
                "; build with --features cuda for GPUs"
            }
        ))),
    }
}

/// The default device: the first CUDA GPU when built with `cuda`, else the CPU.
pub fn default_device() -> Device {
    #[cfg(feature = "cuda")]
    {
        Device::cuda(0)
    }
    #[cfg(not(feature = "cuda"))]
    {
        Device::flex()
    }
}

/// Parses a compute dtype: `f32`, `bf16` or `f16`.
pub fn parse_dtype(name: &str) -> Result<DType> {
    match name {
        "f32" | "float32" => Ok(DType::F32),
        "bf16" | "bfloat16" => Ok(DType::BF16),
        "f16" | "float16" => Ok(DType::F16),
        other => Err(ModelError::Invalid(format!(
            "unknown dtype `{other}` (f32, bf16, f16)"
        ))),
    }
}
