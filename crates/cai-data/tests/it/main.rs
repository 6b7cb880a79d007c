//! Integration tests of cai-data, built as one test binary (ripgrep style).

mod cli;
mod constitution;
mod convert;
mod corpus;
mod hub;
mod nemo_vectors;
mod props;
mod reader;
mod schemas;
mod stats;
mod util;
mod writer;
