//! GGUF reading: dequantised tensors equal the recorded checksums; names map to Hugging Face.

use cai_model::gguf::GgufFile;
use cai_model::weights::{GgufWeights, WeightSource};

use super::common::*;

#[test]
fn dequantised_tensors_equal_recorded_checksums() {
    let path = cai_model::source::default_model_path();
    smollm2(); // makes sure the file is fetched
    let file = GgufFile::open(&path).unwrap();
    let golden = json_fixture("gguf_dequant.json");
    let tensors = golden["tensors"].as_array().unwrap();
    assert_eq!(tensors.len(), file.tensors.len());
    for t in tensors {
        let name = t["gguf_name"].as_str().unwrap();
        let info = file.tensor_info(name).unwrap();
        assert_eq!(
            info.dims,
            t["ggml_ne"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap() as usize)
                .collect::<Vec<_>>()
        );
        let raw = file.read_raw(info).unwrap();
        let hex: String = raw
            .iter()
            .take(t["first_block_hex"].as_str().unwrap().len() / 2)
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hex, t["first_block_hex"].as_str().unwrap(), "{name}");
        let values = file.read_f32(info).unwrap();
        // The fixture prints each f32 in its shortest round-trip form: parse back to f32, compare bits.
        let first: Vec<f32> = t["first32_dequant"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(&values[..first.len()], &first[..], "{name}: first values");
        let sum: f64 = values.iter().map(|&v| v as f64).sum();
        let sum_abs: f64 = values.iter().map(|&v| (v as f64).abs()).sum();
        let sum_sq: f64 = values.iter().map(|&v| (v as f64).powi(2)).sum();
        for (what, got, key) in [
            ("sum", sum, "sum"),
            ("sum|x|", sum_abs, "sum_abs"),
            ("sum x²", sum_sq, "sum_sq"),
        ] {
            let want = t[key].as_f64().unwrap();
            assert!(
                (got - want).abs() <= 1e-9 * want.abs().max(1.0),
                "{name}: {what} {got} vs {want}"
            );
        }
    }
}

#[test]
fn every_gguf_tensor_has_its_hf_name() {
    let path = cai_model::source::default_model_path();
    smollm2();
    let file = GgufFile::open(&path).unwrap();
    let weights = GgufWeights::new(&file, 9, 3);
    let golden = json_fixture("gguf_dequant.json");
    for t in golden["tensors"].as_array().unwrap().iter().take(12) {
        let hf = t["hf_name"].as_str().unwrap();
        let tensor = weights
            .read(hf)
            .unwrap()
            .unwrap_or_else(|| panic!("{hf} not found"));
        let shape: Vec<usize> = t["row_major_shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(tensor.shape, shape, "{hf}");
    }
}
