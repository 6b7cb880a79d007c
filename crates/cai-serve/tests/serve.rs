//! Integration tests of cai-serve: a real server on 127.0.0.1 (ephemeral port) over the default
//! SmolLM2 model, real HTTP clients (reqwest, the Python `requests` and `openai` packages), and
//! the in-process engine as the reference for greedy outputs.
//!
//! One test binary so the model is loaded once; the modules below hold the cases.

mod serve {
    pub mod bad_requests;
    pub mod binary;
    pub mod client;
    pub mod common;
    pub mod exposure;
    pub mod hygiene;
    pub mod judge;
    pub mod limits;
    pub mod load;
    pub mod nemo;
    pub mod openai;
    pub mod python;
    pub mod raw;
    pub mod streaming;
}
