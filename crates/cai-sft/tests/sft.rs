//! Integration tests of `cai-sft`: the loss against its autodiff reference, loss masking, packing, overfitting, exact resume and LoRA merge,
//! on the tiny random Mistral (fast) and the real SmolLM2 where the golden values come from.

mod sft {
    pub mod common;
    mod loss;
    mod masking;
    mod smollm2;
    mod training;
}
