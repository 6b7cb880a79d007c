//! Reading and writing record files: streaming readers for every file shape, atomic and append-only writers.

mod pystyle;
mod read;
mod scan;
mod write;

pub use pystyle::{JsonStyle, to_json_line};
pub use read::{
    DEFAULT_MAX_RECORD_BYTES, OnError, ReadOptions, Records, SkipStats, read_records,
    read_records_from,
};
pub use write::{
    AtomicJsonl, JsonlWriter, ResumeIndex, write_jsonl_atomic, write_jsonl_atomic_with,
};
