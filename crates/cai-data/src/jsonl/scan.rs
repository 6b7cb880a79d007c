//! Splits a byte stream into raw records: one per JSONL line, or one per element of a top-level JSON array.
//!
//! The array scanner tracks only strings, escapes and bracket depth, so a malformed element is reported on its own
//! and reading continues; only a broken array structure (or a read error) stops the file.

use std::io::BufRead;

/// What the scanner produced.
pub(crate) enum Raw {
    /// A record's bytes and the 1-based line where it starts.
    Record { line: u64, bytes: Vec<u8> },
    /// A record that cannot be read; `kind` is the skip category.
    Bad {
        line: u64,
        reason: String,
        kind: &'static str,
    },
    /// The stream cannot be read further.
    Fatal { line: u64, reason: String },
}

/// The two accepted file shapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// One JSON value per line.
    Lines,
    /// A single top-level JSON array.
    Array,
}

/// Pull-based scanner over a buffered reader.
pub(crate) struct Scanner<R> {
    reader: R,
    shape: Shape,
    line: u64,
    max_bytes: usize,
    /// Array mode: the closing `]` (or EOF/fatal) has been seen.
    done: bool,
    /// Array mode: the opening `[` has been consumed.
    started: bool,
}

impl<R: BufRead> Scanner<R> {
    /// Peeks at the first non-whitespace byte (after an optional UTF-8 BOM) to pick the shape.
    pub(crate) fn new(mut reader: R, max_bytes: usize) -> std::io::Result<Self> {
        let mut line = 1;
        let mut first = true;
        let shape = loop {
            let buf = reader.fill_buf()?;
            if buf.is_empty() {
                break Shape::Lines;
            }
            if first && buf.starts_with(&[0xEF, 0xBB, 0xBF]) {
                reader.consume(3);
                first = false;
                continue;
            }
            first = false;
            match buf[0] {
                b'[' => break Shape::Array,
                b'\n' => line += 1,
                b' ' | b'\t' | b'\r' => {}
                _ => break Shape::Lines,
            }
            reader.consume(1);
        };
        Ok(Self {
            reader,
            shape,
            line,
            max_bytes,
            done: false,
            started: false,
        })
    }

    /// The detected shape.
    pub(crate) fn shape(&self) -> Shape {
        self.shape
    }

    /// The next raw record, `None` at the end.
    pub(crate) fn next_raw(&mut self) -> Option<Raw> {
        if self.done {
            return None;
        }
        let out = match self.shape {
            Shape::Lines => self.next_line(),
            Shape::Array => self.next_element(),
        };
        if matches!(out, None | Some(Raw::Fatal { .. })) {
            self.done = true;
        }
        out
    }

    fn fatal(&self, err: std::io::Error) -> Raw {
        Raw::Fatal {
            line: self.line,
            reason: format!("read error: {err}"),
        }
    }

    fn next_line(&mut self) -> Option<Raw> {
        loop {
            let start = self.line;
            let mut bytes = Vec::new();
            let mut len = 0usize;
            let mut saw_any = false;
            loop {
                let buf = match self.reader.fill_buf() {
                    Ok(b) => b,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Some(self.fatal(e)),
                };
                if buf.is_empty() {
                    break;
                }
                saw_any = true;
                let (chunk, found) = match buf.iter().position(|&b| b == b'\n') {
                    Some(i) => (&buf[..i], true),
                    None => (buf, false),
                };
                len += chunk.len();
                if len <= self.max_bytes {
                    bytes.extend_from_slice(chunk);
                }
                let used = chunk.len() + usize::from(found);
                self.reader.consume(used);
                if found {
                    self.line += 1;
                    break;
                }
            }
            if !saw_any {
                return None;
            }
            if len > self.max_bytes {
                return Some(Raw::Bad {
                    line: start,
                    reason: format!(
                        "line is {len} bytes, longer than the limit of {} bytes",
                        self.max_bytes
                    ),
                    kind: "too-long",
                });
            }
            if bytes.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Some(Raw::Record { line: start, bytes });
        }
    }

    /// Reads one byte, tracking line numbers; `Ok(None)` at EOF.
    fn byte(&mut self) -> std::io::Result<Option<u8>> {
        let b = loop {
            match self.reader.fill_buf() {
                Ok(buf) => break buf.first().copied(),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        if let Some(b) = b {
            self.reader.consume(1);
            if b == b'\n' {
                self.line += 1;
            }
        }
        Ok(b)
    }

    /// Next non-whitespace byte.
    fn skip_ws(&mut self) -> std::io::Result<Option<u8>> {
        loop {
            match self.byte()? {
                Some(b' ' | b'\t' | b'\r' | b'\n') => {}
                other => return Ok(other),
            }
        }
    }

    fn next_element(&mut self) -> Option<Raw> {
        match self.scan_element() {
            Ok(raw) => raw,
            Err(e) => Some(self.fatal(e)),
        }
    }

    fn scan_element(&mut self) -> std::io::Result<Option<Raw>> {
        if !self.started {
            self.started = true;
            // `new` stopped in front of the opening bracket.
            self.byte()?;
            match self.skip_ws()? {
                Some(b']') => return self.expect_end(),
                Some(b) => return self.collect(b),
                None => return Ok(Some(self.truncated())),
            }
        }
        match self.skip_ws()? {
            Some(b) => self.collect(b),
            None => Ok(Some(self.truncated())),
        }
    }

    fn truncated(&self) -> Raw {
        Raw::Fatal {
            line: self.line,
            reason: "unexpected end of file inside the top-level array".into(),
        }
    }

    /// After the closing bracket only whitespace may follow.
    fn expect_end(&mut self) -> std::io::Result<Option<Raw>> {
        self.done = true;
        match self.skip_ws()? {
            None => Ok(None),
            Some(_) => Ok(Some(Raw::Fatal {
                line: self.line,
                reason: "trailing characters after the top-level array".into(),
            })),
        }
    }

    /// Collects one element whose first byte is `first`, then consumes the following `,` or `]`.
    fn collect(&mut self, first: u8) -> std::io::Result<Option<Raw>> {
        let start = self.line;
        if first == b',' || first == b']' {
            if first == b']' {
                self.expect_end()?;
            }
            return Ok(Some(Raw::Bad {
                line: start,
                reason: "empty array element".into(),
                kind: "syntax",
            }));
        }
        let mut bytes = vec![first];
        let mut len = 1usize;
        let mut nest = Nesting::default();
        nest.feed(first);
        let terminator = loop {
            let Some(b) = self.byte()? else {
                return Ok(Some(self.truncated()));
            };
            if !nest.in_str && nest.depth <= 0 && (b == b',' || b == b']') {
                break b;
            }
            nest.feed(b);
            if nest.depth < 0 {
                return Ok(Some(Raw::Fatal {
                    line: self.line,
                    reason: "unbalanced brackets in the top-level array".into(),
                }));
            }
            len += 1;
            if len <= self.max_bytes {
                bytes.push(b);
            }
        };
        if terminator == b']'
            && let Some(Raw::Fatal { line, reason }) = self.expect_end()?
        {
            return Ok(Some(Raw::Fatal { line, reason }));
        }
        if len > self.max_bytes {
            return Ok(Some(Raw::Bad {
                line: start,
                reason: format!(
                    "element is {len} bytes, longer than the limit of {} bytes",
                    self.max_bytes
                ),
                kind: "too-long",
            }));
        }
        Ok(Some(Raw::Record { line: start, bytes }))
    }
}

/// String/escape/bracket state of the array scanner.
#[derive(Default)]
struct Nesting {
    depth: i64,
    in_str: bool,
    esc: bool,
}

impl Nesting {
    fn feed(&mut self, b: u8) {
        if self.in_str {
            if self.esc {
                self.esc = false;
            } else if b == b'\\' {
                self.esc = true;
            } else if b == b'"' {
                self.in_str = false;
            }
            return;
        }
        match b {
            b'"' => self.in_str = true,
            b'{' | b'[' => self.depth += 1,
            b'}' | b']' => self.depth -= 1,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(text: &str) -> Vec<String> {
        let mut s = Scanner::new(text.as_bytes(), 1 << 20).unwrap();
        let mut out = Vec::new();
        while let Some(raw) = s.next_raw() {
            out.push(match raw {
                Raw::Record { line, bytes } => {
                    format!("{line}:{}", String::from_utf8(bytes).unwrap())
                }
                Raw::Bad { line, reason, .. } => format!("{line}:bad:{reason}"),
                Raw::Fatal { line, reason } => format!("{line}:fatal:{reason}"),
            });
        }
        out
    }

    #[test]
    fn array_elements_respect_strings_escapes_and_nesting() {
        let text = "[1, \"a,]\\\"[\", {\"k\": [1, {\"x\": \"}\"}]},\n null]";
        assert_eq!(
            scan(text),
            [
                "1:1",
                "1:\"a,]\\\"[\"",
                "1:{\"k\": [1, {\"x\": \"}\"}]}",
                "2:null"
            ]
        );
    }

    #[test]
    fn empty_elements_are_bad_but_do_not_stop_the_file() {
        assert_eq!(scan("[1,,2]"), ["1:1", "1:bad:empty array element", "1:2"]);
        assert_eq!(scan("[1,]"), ["1:1", "1:bad:empty array element"]);
    }

    #[test]
    fn lines_shape_skips_blank_lines() {
        assert_eq!(
            scan("\n{\"a\":1}\n\n  \n{\"b\":2}"),
            ["2:{\"a\":1}", "5:{\"b\":2}"]
        );
    }
}
