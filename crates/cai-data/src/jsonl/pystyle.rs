//! JSON text byte-identical to Python's `json.dumps` defaults (`", "`/`": "` separators, `ensure_ascii=True`),
//! so files meant for NeMo match the originals exactly.

use std::io::{self, Write};

use serde::Serialize;

/// How a record is laid out on its line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonStyle {
    /// serde_json's compact form: no spaces, UTF-8 as is.
    Compact,
    /// Python `json.dumps` defaults: `", "` and `": "` separators, non-ASCII escaped as `\uXXXX`.
    Python,
}

/// Serialises `value` as one line of JSON (without the newline).
pub fn to_json_line<T: Serialize + ?Sized>(
    value: &T,
    style: JsonStyle,
) -> serde_json::Result<String> {
    match style {
        JsonStyle::Compact => serde_json::to_string(value),
        JsonStyle::Python => {
            let mut out = Vec::new();
            let mut ser = serde_json::Serializer::with_formatter(&mut out, PythonFormatter);
            value.serialize(&mut ser)?;
            Ok(String::from_utf8(out).expect("the formatter writes ASCII only"))
        }
    }
}

/// serde_json formatter reproducing Python's default `json.dumps` output.
struct PythonFormatter;

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        for ch in fragment.chars() {
            if ch.is_ascii() {
                writer.write_all(&[ch as u8])?;
            } else {
                let mut units = [0u16; 2];
                for unit in ch.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_style_matches_json_dumps() {
        let value = serde_json::json!({"a": [1, 2], "b": "é😀\n", "c": null});
        assert_eq!(
            to_json_line(&value, JsonStyle::Python).unwrap(),
            r#"{"a": [1, 2], "b": "\u00e9\ud83d\ude00\n", "c": null}"#
        );
        assert_eq!(
            to_json_line(&value, JsonStyle::Compact).unwrap(),
            "{\"a\":[1,2],\"b\":\"é😀\\n\",\"c\":null}"
        );
    }
}
