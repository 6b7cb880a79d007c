//! Fuzzes the streaming readers: any bytes, any shape, every error policy; must never panic or loop.

#![no_main]

use std::io::Cursor;

use cai_data::jsonl::{ReadOptions, read_records_from};
use cai_data::{ChatSample, PreferenceRecord};
use libfuzzer_sys::fuzz_target;

fn drain<T: serde::de::DeserializeOwned>(data: &[u8], options: ReadOptions) {
    let Ok(mut records) = read_records_from::<T>("fuzz.jsonl", Cursor::new(data.to_vec()), options)
    else {
        return;
    };
    // Each item consumes at least one line of the (decompressed) input. Gzip input can expand:
    // deflate's largest ratio is about 1032 to 1, so that bounds the lines of a finite reader.
    let max_steps = (data.len() + 2) * 1100;
    let mut steps = 0usize;
    while let Some(item) = records.next_with_line() {
        if let Err(cai_data::Error::Record { line, .. }) = &item {
            assert!(*line >= 1);
        }
        steps += 1;
        assert!(steps <= max_steps, "reader made no progress");
    }
}

fuzz_target!(|data: &[u8]| {
    for options in [
        ReadOptions::strict(),
        ReadOptions::skip_bad(),
        ReadOptions::report().with_max_record_bytes(256),
    ] {
        drain::<PreferenceRecord>(data, options);
        drain::<ChatSample>(data, options);
        drain::<serde_json::Value>(data, options);
    }
});
