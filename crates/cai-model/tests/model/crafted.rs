//! Crafted model files, generated in memory: a GGUF writer for any metadata and tensors, a tiny
//! valid Llama GGUF to start from, and the hostile variants the loader must refuse. Shared by the
//! regression tests (`hostile`), the mutation stand-ins for the fuzzers (`mutate`) and the fuzz
//! seeds (`write_fuzz_seeds`).

/// One GGUF metadata value: its type id and little-endian payload.
#[derive(Debug, Clone)]
pub struct Meta(pub u32, pub Vec<u8>);

impl Meta {
    /// A `uint32`.
    pub fn u32(v: u32) -> Self {
        Self(4, v.to_le_bytes().to_vec())
    }

    /// A `float32`.
    pub fn f32(v: f32) -> Self {
        Self(6, v.to_le_bytes().to_vec())
    }

    /// A string.
    pub fn str(s: &str) -> Self {
        Self(8, string(s))
    }

    /// An array of strings.
    pub fn strings(items: &[String]) -> Self {
        let mut out = 8u32.to_le_bytes().to_vec();
        out.extend((items.len() as u64).to_le_bytes());
        for s in items {
            out.extend(string(s));
        }
        Self(9, out)
    }

    /// `depth` arrays, each holding the next one; the innermost is empty.
    pub fn nested(depth: usize) -> Self {
        let mut out = Vec::with_capacity(depth * 12);
        for _ in 0..depth {
            out.extend(9u32.to_le_bytes()); // item type: array
            out.extend(1u64.to_le_bytes()); // one item
        }
        out.extend(0u32.to_le_bytes()); // innermost: an empty array of uint8
        out.extend(0u64.to_le_bytes());
        Self(9, out)
    }
}

fn string(s: &str) -> Vec<u8> {
    let mut out = (s.len() as u64).to_le_bytes().to_vec();
    out.extend(s.as_bytes());
    out
}

/// A GGUF v3 file under construction.
#[derive(Debug, Clone, Default)]
pub struct Gguf {
    /// Metadata in file order.
    pub kv: Vec<(String, Meta)>,
    /// (name, ggml dims, type id, raw data) per tensor.
    pub tensors: Vec<(String, Vec<u64>, u32, Vec<u8>)>,
}

/// Sizes of [`Gguf::tiny_llama`].
pub const VOCAB: usize = 16;
const HIDDEN: u64 = 8;
const FFN: u64 = 16;

impl Gguf {
    /// A complete, loadable one-layer Llama (hidden 8, 2 heads of 4, vocabulary 16, f32
    /// weights, SentencePiece-style tokenizer).
    pub fn tiny_llama() -> Self {
        let tokens: Vec<String> = ["<unk>", "<s>", "</s>"]
            .into_iter()
            .map(String::from)
            .chain((0..VOCAB - 3).map(|i| format!("{}", (b'a' + i as u8) as char)))
            .collect();
        let mut g = Self::default()
            .kv("general.architecture", Meta::str("llama"))
            .kv("llama.embedding_length", Meta::u32(HIDDEN as u32))
            .kv("llama.feed_forward_length", Meta::u32(FFN as u32))
            .kv("llama.block_count", Meta::u32(1))
            .kv("llama.attention.head_count", Meta::u32(2))
            .kv("llama.attention.head_count_kv", Meta::u32(2))
            .kv("llama.context_length", Meta::u32(64))
            .kv("llama.attention.layer_norm_rms_epsilon", Meta::f32(1e-5))
            .kv("tokenizer.ggml.model", Meta::str("llama"))
            .kv("tokenizer.ggml.tokens", Meta::strings(&tokens))
            .kv("tokenizer.ggml.bos_token_id", Meta::u32(1))
            .kv("tokenizer.ggml.eos_token_id", Meta::u32(2));
        let (d, f, v) = (HIDDEN, FFN, VOCAB as u64);
        g = g.f32_tensor("token_embd.weight", &[d, v]);
        for (name, dims) in [
            ("attn_q", [d, d]),
            ("attn_k", [d, d]),
            ("attn_v", [d, d]),
            ("attn_output", [d, d]),
            ("ffn_gate", [d, f]),
            ("ffn_up", [d, f]),
            ("ffn_down", [f, d]),
        ] {
            g = g.f32_tensor(&format!("blk.0.{name}.weight"), &dims);
        }
        for name in ["blk.0.attn_norm.weight", "blk.0.ffn_norm.weight"] {
            g = g.f32_tensor(name, &[d]);
        }
        g.f32_tensor("output_norm.weight", &[d])
    }

    /// Sets `key` (replacing an earlier value).
    pub fn kv(mut self, key: &str, value: Meta) -> Self {
        self.kv.retain(|(k, _)| k != key);
        self.kv.push((key.to_string(), value));
        self
    }

    /// Adds (or replaces) a tensor with explicit dims, type and raw bytes.
    pub fn tensor(mut self, name: &str, dims: &[u64], ty: u32, raw: Vec<u8>) -> Self {
        self.tensors.retain(|(n, ..)| n != name);
        self.tensors
            .push((name.to_string(), dims.to_vec(), ty, raw));
        self
    }

    /// Adds an f32 tensor of small deterministic values.
    pub fn f32_tensor(self, name: &str, dims: &[u64]) -> Self {
        let n: u64 = dims.iter().product();
        let raw = (0..n)
            .flat_map(|i| ((i % 7) as f32 * 0.01).to_le_bytes())
            .collect();
        self.tensor(name, dims, 0, raw)
    }

    /// The file's bytes.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = b"GGUF".to_vec();
        out.extend(3u32.to_le_bytes());
        out.extend((self.tensors.len() as u64).to_le_bytes());
        out.extend((self.kv.len() as u64).to_le_bytes());
        for (key, Meta(ty, payload)) in &self.kv {
            out.extend(string(key));
            out.extend(ty.to_le_bytes());
            out.extend(payload);
        }
        let mut offset = 0u64;
        for (name, dims, ty, raw) in &self.tensors {
            out.extend(string(name));
            out.extend((dims.len() as u32).to_le_bytes());
            for d in dims {
                out.extend(d.to_le_bytes());
            }
            out.extend(ty.to_le_bytes());
            out.extend(offset.to_le_bytes());
            offset += (raw.len() as u64).div_ceil(32) * 32;
        }
        pad(&mut out);
        for (.., raw) in &self.tensors {
            out.extend(raw);
            pad(&mut out);
        }
        out
    }
}

fn pad(out: &mut Vec<u8>) {
    out.resize(out.len().div_ceil(32) * 32, 0);
}

/// A WordLevel `tokenizer.json` with `n` tokens (`t0`, `t1`, …).
pub fn word_level_tokenizer(n: usize) -> String {
    let vocab: serde_json::Map<String, serde_json::Value> = (0..n)
        .map(|i| (format!("t{i}"), serde_json::json!(i)))
        .collect();
    serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
        "normalizer": null, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null,
        "decoder": null,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "t0"}
    })
    .to_string()
}

/// The crafted GGUF files of issue 19, by name (used as regression inputs and fuzz seeds).
pub fn hostile_ggufs() -> Vec<(&'static str, Vec<u8>)> {
    let tiny = Gguf::tiny_llama;
    vec![
        ("tiny-llama", tiny().bytes()),
        (
            // 2^33 · 2^31 = 2^64 elements: wraps to 0 without checked arithmetic.
            "dims-product-overflows",
            tiny()
                .tensor("blk.0.attn_q.weight", &[1 << 33, 1 << 31], 0, vec![])
                .bytes(),
        ),
        (
            "q-rows-not-whole-heads",
            tiny().f32_tensor("blk.0.attn_q.weight", &[8, 6]).bytes(),
        ),
        (
            "context-length-u32-max",
            tiny()
                .kv("llama.context_length", Meta::u32(u32::MAX))
                .bytes(),
        ),
        (
            "block-count-1e9",
            tiny()
                .kv("llama.block_count", Meta::u32(1_000_000_000))
                .bytes(),
        ),
        (
            "head-count-1e6",
            tiny()
                .kv("llama.attention.head_count", Meta::u32(1_000_000))
                .bytes(),
        ),
        (
            "nested-arrays",
            tiny().kv("x.nested", Meta::nested(300)).bytes(),
        ),
        (
            "alignment-not-power-of-two",
            tiny().kv("general.alignment", Meta::u32(48)).bytes(),
        ),
        (
            "tokenizer-larger-than-vocab",
            tiny().kv("llama.vocab_size", Meta::u32(8)).bytes(),
        ),
    ]
}

/// A safetensors file with one f32 tensor `name` of `shape` (zeros).
pub fn safetensors(name: &str, shape: &[usize]) -> Vec<u8> {
    let n: usize = shape.iter().product();
    let header = serde_json::json!({
        name: {"dtype": "F32", "shape": shape, "data_offsets": [0, n * 4]}
    })
    .to_string();
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend(header.as_bytes());
    out.resize(out.len() + n * 4, 0);
    out
}

/// Chat templates that must fail fast: they loop, or write, without end.
pub const RUNAWAY_TEMPLATES: &[(&str, &str)] = &[
    (
        "nested-ranges",
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    ),
    (
        "nested-ranges-writing",
        "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
    ),
    (
        "huge-strings",
        "{% for i in range(100000) %}{{ 'x' * 10000000 }}{% endfor %}",
    ),
];

/// Regenerates `crates/cai-model/fuzz/seeds` from the crafted cases:
/// `cargo test -p cai-model --test model -- --ignored write_fuzz_seeds`.
#[test]
#[ignore = "writes into the source tree; run by hand when the crafted cases change"]
fn write_fuzz_seeds() {
    let seeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let dir = seeds.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    };
    for (name, bytes) in hostile_ggufs() {
        write("gguf_reader", &format!("{name}.gguf"), &bytes);
    }
    let mut st = vec![1u8];
    st.extend(safetensors("model.embed_tokens.weight", &[4, 2]));
    write("safetensors", "one-tensor.safetensors", &st);
    for (name, index) in [
        (
            "index-plain.json",
            r#"{"weight_map":{"a":"model-00001-of-00002.safetensors"}}"#,
        ),
        (
            "index-escape.json",
            r#"{"weight_map":{"a":"../outside.safetensors"}}"#,
        ),
        (
            "index-absolute.json",
            r#"{"weight_map":{"a":"/etc/passwd"}}"#,
        ),
    ] {
        let mut bytes = vec![0u8];
        bytes.extend(index.as_bytes());
        write("safetensors", name, &bytes);
    }
    for (name, source) in RUNAWAY_TEMPLATES {
        write("chat_template", &format!("{name}.jinja"), source.as_bytes());
    }
    let chatml = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n\
                  {% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
    write(
        "chat_template",
        "chatml.jinja",
        format!("{chatml}\0Hi there").as_bytes(),
    );
}
