//! Bounds on one rendering of a chat template, so a hostile or broken template (nested
//! `range(1e5)` loops, `'x' * 1e8` in a loop) fails fast with a clear error instead of running on
//! the engine thread forever or filling memory: minijinja's fuel caps the instructions executed,
//! and the output is written into a buffer that refuses to grow past [`output_limit`].

use std::io;

use minijinja::{Error as JinjaError, ErrorKind};

use super::Message;

/// Instructions one rendering may execute (minijinja fuel). Real templates spend tens of
/// instructions per message, so this allows conversations of over 100,000 messages; a template
/// that runs out stops after about a second at most.
pub const TEMPLATE_FUEL: u64 = 10_000_000;

/// Rendered text allowed on top of the messages' own text (system prompts, tool descriptions and
/// markup a template adds).
pub const OUTPUT_BASE_BYTES: usize = 1 << 20;

/// Most bytes a rendering of `messages` may produce: [`OUTPUT_BASE_BYTES`] plus four times the
/// messages' content (a template may repeat a message, e.g. once per generation turn).
pub fn output_limit(messages: &[Message]) -> usize {
    let content: usize = messages.iter().map(|m| m.content.len()).sum();
    OUTPUT_BASE_BYTES.saturating_add(content.saturating_mul(4))
}

/// The output of one rendering, refusing writes past its limit.
pub(super) struct Bounded {
    buf: Vec<u8>,
    limit: usize,
    exceeded: bool,
}

impl Bounded {
    /// An empty output that accepts `limit` bytes.
    pub(super) fn new(limit: usize) -> Self {
        Self {
            buf: Vec::new(),
            limit,
            exceeded: false,
        }
    }

    /// The rendered text (minijinja writes UTF-8 only; anything else is replaced).
    pub(super) fn into_string(self) -> String {
        String::from_utf8(self.buf)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// Why rendering failed, naming the limit when one was hit.
    pub(super) fn explain(&self, e: &JinjaError) -> String {
        if self.exceeded {
            format!(
                "rendered text exceeds {} bytes, the output limit for these messages",
                self.limit
            )
        } else if e.kind() == ErrorKind::OutOfFuel {
            format!(
                "rendering ran past {TEMPLATE_FUEL} template instructions (its fuel); \
                 the template loops too long"
            )
        } else {
            format!("{e:#}")
        }
    }
}

impl io::Write for Bounded {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len().saturating_add(data.len()) > self.limit {
            self.exceeded = true;
            return Err(io::Error::other("chat template output limit reached"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
