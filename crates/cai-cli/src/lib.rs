//! `cai-cli`: what every cai-rs binary shares as a process, kept out of the model core so that
//! `cai-model` (the library) needs no clap, indicatif or tracing-subscriber.
//!
//! - [`init_process`]: logging to stderr (`RUST_LOG`) and the allocator setting of [`allocator`].
//! - [`progress`]: spinners and progress bars.
//! - [`args`]: the `--model …` and sampling flags every model tool accepts.
//! - [`layered`]: defaults ← TOML file ← flags, the configuration form of every stage.
//! - [`output_dir`]: an output directory checked before anything is built or loaded.
//! - [`bench`]: helpers the benchmarks of every crate share with their PyTorch counterparts.
//! - [`threads`]: rayon's pool with the main thread in it, for programs that compute on it.
//!
//! The package also builds the `cai-model` tool (inspect, tokenize, score, chat, convert).

pub mod allocator;
pub mod args;
pub mod bench;
pub mod layered;
pub mod output_dir;
pub mod process;
pub mod progress;
pub mod threads;

pub use args::{ModelArgs, SamplingArgs};
pub use layered::{LayerError, given_flags, load_layered};
pub use output_dir::{OutputDirError, check_output_dir};
pub use process::init_process;
pub use progress::{progress_bar, spinner};
