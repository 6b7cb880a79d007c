//! Fuzzes chat-template compilation and rendering: the input up to its first NUL is the Jinja
//! source, the rest the messages' text. Rendering must end (fuel, output limit) without a panic;
//! run with `-timeout` so a template that renders forever is reported.

#![no_main]

use cai_model::{ChatTemplate, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (source, content) = text.split_once('\0').unwrap_or((&text, "hello"));
    let Ok(template) = ChatTemplate::new(source, "fuzz", "<s>", "</s>") else {
        return;
    };
    let messages = [
        Message::system(content),
        Message::user(content),
        Message::assistant(content),
    ];
    for generation_prompt in [false, true] {
        drop(template.render(&messages, generation_prompt));
        drop(template.render(&messages[1..2], generation_prompt));
    }
});
