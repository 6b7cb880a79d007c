//! JSON shapes of the two HTTP APIs, shared by the server (which reads requests and writes
//! responses) and the client (which does the opposite).
//!
//! Request fields are `Option`s: absent fields take the server's defaults, and the client only
//! sends what it sets, so strict third-party servers see a minimal body.

pub mod nemo;
pub mod openai;
