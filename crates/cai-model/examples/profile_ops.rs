//! Scratch profiler: times the pieces of one decoder layer at decode (b=1, t=1) and prefill shapes.
use cai_model::burn::tensor::module::attention;
use cai_model::burn::tensor::ops::AttentionModuleOptions;
use cai_model::burn::tensor::{Int, Tensor, TensorData};
use cai_model::{LoadOptions, LoadedModel, ModelSpec, TokenBatch};
use std::time::Instant;

fn t<F: FnMut()>(name: &str, n: usize, mut f: F) {
    f();
    let s = Instant::now();
    for _ in 0..n {
        f();
    }
    println!(
        "{name:<40} {:>9.3} ms",
        s.elapsed().as_secs_f64() * 1e3 / n as f64
    );
}

fn main() {
    let m = LoadedModel::load(&ModelSpec::Default, &LoadOptions::default()).unwrap();
    let dev = m.lm.device();
    let layer = &m.lm.layers[0];
    for (b, tq) in [(1usize, 1usize), (8, 1), (1, 256)] {
        println!("--- b={b} t={tq}");
        let x = Tensor::<3>::from_data(
            TensorData::new(vec![0.01f32; b * tq * 576], [b, tq, 576]),
            &dev,
        );
        t("q_proj", 50, || {
            let _ = layer.self_attn.q_proj.forward(x.clone()).into_data();
        });
        t("gate_proj", 50, || {
            let _ = layer.mlp.gate_proj.forward(x.clone()).into_data();
        });
        t("mlp", 50, || {
            let _ = layer.mlp.forward(x.clone()).into_data();
        });
        t("rmsnorm", 50, || {
            let _ = layer.input_layernorm.forward(x.clone()).into_data();
        });
        let q = Tensor::<4>::from_data(
            TensorData::new(vec![0.01f32; b * 9 * tq * 64], [b, 9, tq, 64]),
            &dev,
        );
        let kv = 300;
        let k = Tensor::<4>::from_data(
            TensorData::new(vec![0.01f32; b * 3 * kv * 64], [b, 3, kv, 64]),
            &dev,
        );
        let mask = Tensor::<4, cai_model::burn::tensor::Bool>::from_data(
            TensorData::new(vec![false; b * tq * kv], [b, 1, tq, kv]),
            &dev,
        );
        t("attention kv=300", 50, || {
            let _ = attention(
                q.clone(),
                k.clone(),
                k.clone(),
                Some(mask.clone()),
                None,
                AttentionModuleOptions::default(),
            )
            .into_data();
        });
        let pos = Tensor::<2, Int>::from_data(TensorData::new(vec![5i64; b * tq], [b, tq]), &dev);
        t("rope gather", 50, || {
            let (c, _) = m.rope.gather(&pos);
            let _ = c.into_data();
        });
        t("layer fwd (no cache)", 20, || {
            let batch = TokenBatch::right_padded(&vec![vec![5u32; tq]; b], 0);
            let _ = m.lm.forward_hidden(&batch, &m.rope, None).into_data();
        });
        let h = Tensor::<3>::from_data(TensorData::new(vec![0.01f32; b * 576], [b, 1, 576]), &dev);
        t("lm head (last pos)", 20, || {
            let _ = m.lm.logits(h.clone()).into_data();
        });
    }
}
