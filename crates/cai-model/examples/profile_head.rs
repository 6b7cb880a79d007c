//! Scratch profiler: LM-head layouts at decode shapes.
use cai_model::burn::tensor::{Tensor, TensorData};
use cai_model::{LoadOptions, LoadedModel, ModelSpec};
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
    let w = m.lm.embed_tokens.weight.val(); // [V, d]
    let wt = w.clone().transpose().into_data();
    let wt = Tensor::<2>::from_data(wt, &dev); // contiguous [d, V]
    for b in [1usize, 8] {
        let h = Tensor::<2>::from_data(TensorData::new(vec![0.01f32; b * 576], [b, 576]), &dev);
        t(&format!("b{b} h @ W^T (strided view)"), 20, || {
            let _ = h.clone().matmul(w.clone().transpose()).into_data();
        });
        t(&format!("b{b} W @ h^T then T"), 20, || {
            let _ = w
                .clone()
                .matmul(h.clone().transpose())
                .transpose()
                .into_data();
        });
        t(&format!("b{b} h @ Wt (contiguous copy)"), 20, || {
            let _ = h.clone().matmul(wt.clone()).into_data();
        });
    }
}
