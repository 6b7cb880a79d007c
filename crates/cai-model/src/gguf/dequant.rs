//! Dequantisation of GGUF tensor blocks to `f32`, bit-exact with ggml's reference kernels.
//!
//! Block layouts follow ggml's `ggml-common.h`; each function takes the raw bytes of whole blocks and
//! appends the decoded values to `out`.

use half::{bf16, f16};

/// A ggml tensor element type that this crate can decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GgmlType {
    /// 32-bit float.
    F32,
    /// IEEE half.
    F16,
    /// bfloat16.
    BF16,
    /// 32 weights: f16 scale + 32 × i8.
    Q8_0,
    /// 32 weights: f16 scale + 16 nibble bytes, offset −8.
    Q4_0,
    /// 32 weights: f16 scale, f16 min + 16 nibble bytes.
    Q4_1,
    /// 256 weights in 8 sub-blocks with 6-bit scales and mins.
    Q4K,
    /// 256 weights, 6-bit quants with 8-bit sub-block scales.
    Q6K,
}

impl GgmlType {
    /// Maps ggml's numeric type id; `None` for types this crate does not decode.
    pub fn from_id(id: u32) -> Option<Self> {
        Some(match id {
            0 => Self::F32,
            1 => Self::F16,
            2 => Self::Q4_0,
            3 => Self::Q4_1,
            8 => Self::Q8_0,
            12 => Self::Q4K,
            14 => Self::Q6K,
            30 => Self::BF16,
            _ => return None,
        })
    }

    /// ggml's name for a numeric type id (also for the ones not decoded here).
    pub fn name_of(id: u32) -> String {
        let name = match id {
            0 => "F32",
            1 => "F16",
            2 => "Q4_0",
            3 => "Q4_1",
            6 => "Q5_0",
            7 => "Q5_1",
            8 => "Q8_0",
            9 => "Q8_1",
            10 => "Q2_K",
            11 => "Q3_K",
            12 => "Q4_K",
            13 => "Q5_K",
            14 => "Q6_K",
            15 => "Q8_K",
            30 => "BF16",
            _ => return format!("type id {id}"),
        };
        name.to_string()
    }

    /// (elements per block, bytes per block).
    pub fn block(self) -> (usize, usize) {
        match self {
            Self::F32 => (1, 4),
            Self::F16 | Self::BF16 => (1, 2),
            Self::Q8_0 => (32, 34),
            Self::Q4_0 => (32, 18),
            Self::Q4_1 => (32, 20),
            Self::Q4K => (256, 144),
            Self::Q6K => (256, 210),
        }
    }

    /// Bytes needed for `n` elements, or `None` when `n` is not a whole number of blocks (or
    /// the byte count overflows).
    pub fn bytes_for(self, n: usize) -> Option<usize> {
        let (per_block, bytes) = self.block();
        if !n.is_multiple_of(per_block) {
            return None;
        }
        (n / per_block).checked_mul(bytes)
    }
}

fn f16_at(b: &[u8], i: usize) -> f32 {
    f16::from_le_bytes([b[i], b[i + 1]]).to_f32()
}

/// Decodes `raw` (a whole number of blocks of type `ty`) into `f32` values.
pub fn dequantize(ty: GgmlType, raw: &[u8]) -> Vec<f32> {
    let (per_block, block_bytes) = ty.block();
    let mut out = Vec::with_capacity(raw.len() / block_bytes * per_block);
    for block in raw.chunks_exact(block_bytes) {
        match ty {
            GgmlType::F32 => out.push(f32::from_le_bytes([block[0], block[1], block[2], block[3]])),
            GgmlType::F16 => out.push(f16_at(block, 0)),
            GgmlType::BF16 => out.push(bf16::from_le_bytes([block[0], block[1]]).to_f32()),
            GgmlType::Q8_0 => q8_0(block, &mut out),
            GgmlType::Q4_0 => q4_0(block, &mut out),
            GgmlType::Q4_1 => q4_1(block, &mut out),
            GgmlType::Q4K => q4_k(block, &mut out),
            GgmlType::Q6K => q6_k(block, &mut out),
        }
    }
    out
}

fn q8_0(b: &[u8], out: &mut Vec<f32>) {
    let d = f16_at(b, 0);
    out.extend(b[2..34].iter().map(|&q| (q as i8) as f32 * d));
}

fn q4_0(b: &[u8], out: &mut Vec<f32>) {
    let d = f16_at(b, 0);
    let qs = &b[2..18];
    out.extend(qs.iter().map(|&q| ((q & 0x0F) as i32 - 8) as f32 * d));
    out.extend(qs.iter().map(|&q| ((q >> 4) as i32 - 8) as f32 * d));
}

fn q4_1(b: &[u8], out: &mut Vec<f32>) {
    let (d, m) = (f16_at(b, 0), f16_at(b, 2));
    let qs = &b[4..20];
    out.extend(qs.iter().map(|&q| (q & 0x0F) as f32 * d + m));
    out.extend(qs.iter().map(|&q| (q >> 4) as f32 * d + m));
}

/// ggml's `get_scale_min_k4`: the 6-bit scale and min of sub-block `j` from the packed 12 bytes.
fn scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

fn q4_k(b: &[u8], out: &mut Vec<f32>) {
    let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
    let scales = &b[4..16];
    let qs = &b[16..144];
    for (chunk, q) in qs.chunks_exact(32).enumerate() {
        let (sc1, m1) = scale_min_k4(2 * chunk, scales);
        let (sc2, m2) = scale_min_k4(2 * chunk + 1, scales);
        let (d1, min1) = (d * sc1 as f32, dmin * m1 as f32);
        let (d2, min2) = (d * sc2 as f32, dmin * m2 as f32);
        out.extend(q.iter().map(|&v| d1 * (v & 0x0F) as f32 - min1));
        out.extend(q.iter().map(|&v| d2 * (v >> 4) as f32 - min2));
    }
}

fn q6_k(b: &[u8], out: &mut Vec<f32>) {
    let (ql_all, qh_all, sc_all) = (&b[0..128], &b[128..192], &b[192..208]);
    let d = f16_at(b, 208);
    for half in 0..2 {
        let ql = &ql_all[64 * half..64 * half + 64];
        let qh = &qh_all[32 * half..32 * half + 32];
        let sc = &sc_all[8 * half..8 * half + 8];
        let mut y = [0f32; 128];
        for l in 0..32 {
            let is = l / 16;
            let q1 = ((ql[l] & 0x0F) | ((qh[l] & 3) << 4)) as i32 - 32;
            let q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) as i32 - 32;
            let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i32 - 32;
            let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i32 - 32;
            y[l] = d * (sc[is] as i8) as f32 * q1 as f32;
            y[l + 32] = d * (sc[is + 2] as i8) as f32 * q2 as f32;
            y[l + 64] = d * (sc[is + 4] as i8) as f32 * q3 as f32;
            y[l + 96] = d * (sc[is + 6] as i8) as f32 * q4 as f32;
        }
        out.extend_from_slice(&y);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q4_1_splits_low_and_high_nibbles() {
        let mut block = Vec::new();
        block.extend(f16::from_f32(0.5).to_le_bytes());
        block.extend(f16::from_f32(-1.0).to_le_bytes());
        block.extend((0..16u8).map(|i| i | ((15 - i) << 4)));
        let v = dequantize(GgmlType::Q4_1, &block);
        assert_eq!(v.len(), 32);
        assert_eq!(v[0], -1.0);
        assert_eq!(v[15], 15.0 * 0.5 - 1.0);
        assert_eq!(v[16], 15.0 * 0.5 - 1.0);
        assert_eq!(v[31], -1.0);
    }

    #[test]
    fn q8_0_is_signed() {
        let mut block = f16::from_f32(2.0).to_le_bytes().to_vec();
        block.extend((0..32).map(|i| (i as i8 - 16) as u8));
        let v = dequantize(GgmlType::Q8_0, &block);
        assert_eq!(v[0], -32.0);
        assert_eq!(v[31], 30.0);
    }

    #[test]
    fn q4_0_centres_on_eight() {
        let mut block = f16::from_f32(1.0).to_le_bytes().to_vec();
        block.extend([0x80u8; 16]);
        let v = dequantize(GgmlType::Q4_0, &block);
        assert!(v[..16].iter().all(|&x| x == -8.0));
        assert!(v[16..].iter().all(|&x| x == 0.0));
    }

    #[test]
    fn k_quants_decode_whole_blocks() {
        let raw = vec![0u8; 144 * 2];
        assert_eq!(dequantize(GgmlType::Q4K, &raw).len(), 512);
        let raw = vec![0u8; 210];
        assert_eq!(dequantize(GgmlType::Q6K, &raw).len(), 256);
        assert_eq!(GgmlType::Q6K.bytes_for(300), None);
    }
}
