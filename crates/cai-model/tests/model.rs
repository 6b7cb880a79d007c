//! Integration tests of the model core against transformers' golden outputs.
//!
//! One test binary (ripgrep style) so burn is linked once; the modules below hold the cases.

mod model {
    pub mod bad_input;
    pub mod common;
    pub mod crafted;
    pub mod fused;
    pub mod generate;
    pub mod gguf;
    pub mod half;
    pub mod hostile;
    pub mod mutate;
    pub mod save;
    pub mod scalar_head;
    pub mod smollm2;
    pub mod templates;
    pub mod tiny_mistral;
}
