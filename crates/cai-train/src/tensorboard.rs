//! TensorBoard event files written directly: TFRecord framing (length, masked CRC-32C, payload,
//! masked CRC-32C) around hand-encoded `tensorflow.Event` protobufs holding scalar summaries.
//!
//! Only the fields TensorBoard needs for scalars are written: `Event.wall_time` (1, double),
//! `Event.step` (2, int64), `Event.file_version` (3, string), `Event.summary` (5), with
//! `Summary.value` (1) = `{tag (1, string), simple_value (2, float)}`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use cai_model::{ModelError, Result};

/// CRC-32C (Castagnoli), bitwise over a precomputed table.
fn crc32c(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut crc = i as u32;
            let mut bit = 0;
            while bit < 8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0x82F6_3B78
                } else {
                    crc >> 1
                };
                bit += 1;
            }
            table[i] = crc;
            i += 1;
        }
        table
    };
    !bytes.iter().fold(!0u32, |crc, &b| {
        TABLE[((crc ^ b as u32) & 0xff) as usize] ^ (crc >> 8)
    })
}

/// TFRecord's masked CRC.
fn masked_crc(bytes: &[u8]) -> u32 {
    let crc = crc32c(bytes);
    (crc.rotate_right(15)).wrapping_add(0xa282_ead8)
}

fn varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn length_delimited(field: u64, payload: &[u8], out: &mut Vec<u8>) {
    varint((field << 3) | 2, out);
    varint(payload.len() as u64, out);
    out.extend_from_slice(payload);
}

fn event_header(step: u64, out: &mut Vec<u8>) {
    let wall_time = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    out.push((1 << 3) | 1);
    out.extend_from_slice(&wall_time.to_le_bytes());
    varint(2 << 3, out);
    varint(step, out);
}

/// Reads one varint at `*at`, advancing past it.
fn read_varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// The `Event.step` of an event payload (0 when absent, as protobuf defaults it); `None` when
/// the payload is not a well-formed message.
fn event_step(payload: &[u8]) -> Option<u64> {
    let (mut at, mut step) = (0, 0);
    while at < payload.len() {
        let key = read_varint(payload, &mut at)?;
        let skip = match key & 7 {
            0 => {
                let v = read_varint(payload, &mut at)?;
                if key >> 3 == 2 {
                    step = v;
                }
                0
            }
            1 => 8,
            2 => usize::try_from(read_varint(payload, &mut at)?).ok()?,
            5 => 4,
            _ => return None,
        };
        at = at.checked_add(skip).filter(|&end| end <= payload.len())?;
    }
    Some(step)
}

/// The whole records of a TFRecord file (up to the first torn or corrupt one) as byte ranges,
/// each with its event's step.
pub(crate) fn records(bytes: &[u8]) -> Vec<(std::ops::Range<usize>, u64)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(header) = bytes.get(at..at + 12) {
        let (len_bytes, len_crc) = header.split_at(8);
        if masked_crc(len_bytes).to_le_bytes() != len_crc {
            break;
        }
        let len = u64::from_le_bytes(len_bytes.try_into().unwrap_or_default());
        let Some(end) = usize::try_from(len)
            .ok()
            .and_then(|len| (at + 12).checked_add(len))
        else {
            break;
        };
        let (Some(payload), Some(crc)) = (bytes.get(at + 12..end), bytes.get(end..end + 4)) else {
            break;
        };
        if masked_crc(payload).to_le_bytes() != crc {
            break;
        }
        let Some(step) = event_step(payload) else {
            break;
        };
        out.push((at..end + 4, step));
        at = end + 4;
    }
    out
}

/// Drops, from every event file in `dir`, the events after `last_step` (and a torn last
/// record), so a run resumed from the checkpoint of `last_step` does not show the steps it redoes
/// twice in TensorBoard. A missing directory is left missing.
pub fn truncate_events_after(dir: &Path, last_step: u64) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(ModelError::io(dir, e)),
    };
    for entry in entries {
        let path = entry.map_err(|e| ModelError::io(dir, e))?.path();
        let is_events = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("events.out.tfevents."));
        if !is_events || !path.is_file() {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(|e| ModelError::io(&path, e))?;
        let all = records(&bytes);
        let kept: Vec<u8> = all
            .iter()
            .filter(|(_, step)| *step <= last_step)
            .flat_map(|(range, _)| bytes[range.clone()].iter().copied())
            .collect();
        if kept.len() != bytes.len() {
            cai_model::save::write_atomic(&path, &kept)?;
        }
    }
    Ok(())
}

/// Appends scalar events to one `events.out.tfevents.*` file.
#[derive(Debug)]
pub struct EventWriter {
    path: PathBuf,
    file: BufWriter<File>,
}

impl EventWriter {
    /// Creates a new event file in `dir` (created if needed).
    pub fn create(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| ModelError::io(dir, e))?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
        let name = format!(
            "events.out.tfevents.{}.{host}.{}.{}",
            now.as_secs(),
            std::process::id(),
            now.subsec_nanos()
        );
        let path = dir.join(name);
        let file = File::create(&path).map_err(|e| ModelError::io(&path, e))?;
        let mut writer = Self {
            path,
            file: BufWriter::new(file),
        };
        let mut event = Vec::new();
        event_header(0, &mut event);
        length_delimited(3, b"brain.Event:2", &mut event);
        writer.record(&event)?;
        Ok(writer)
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn record(&mut self, payload: &[u8]) -> Result<()> {
        let len = (payload.len() as u64).to_le_bytes();
        let mut frame = Vec::with_capacity(payload.len() + 16);
        frame.extend_from_slice(&len);
        frame.extend_from_slice(&masked_crc(&len).to_le_bytes());
        frame.extend_from_slice(payload);
        frame.extend_from_slice(&masked_crc(payload).to_le_bytes());
        self.file
            .write_all(&frame)
            .map_err(|e| ModelError::io(&self.path, e))
    }

    /// Writes one event with a scalar per `(tag, value)` at `step`.
    pub fn scalars(&mut self, step: u64, values: &[(String, f64)]) -> Result<()> {
        let mut summary = Vec::new();
        for (tag, value) in values {
            let mut entry = Vec::new();
            length_delimited(1, tag.as_bytes(), &mut entry);
            entry.push((2 << 3) | 5);
            entry.extend_from_slice(&(*value as f32).to_le_bytes());
            length_delimited(1, &entry, &mut summary);
        }
        let mut event = Vec::new();
        event_header(step, &mut event);
        length_delimited(5, &summary, &mut event);
        self.record(&event)
    }

    /// Pushes buffered events to the file.
    pub fn flush(&mut self) -> Result<()> {
        self.file.flush().map_err(|e| ModelError::io(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_standard_check_values() {
        // RFC 3720 B.4 and the usual "123456789" check value.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
    }

    #[test]
    fn truncating_keeps_the_events_up_to_the_step_and_drops_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = EventWriter::create(dir.path()).unwrap();
        for step in 1..=4 {
            writer.scalars(step, &[("train/loss".into(), 1.0)]).unwrap();
        }
        writer.flush().unwrap();
        let path = writer.path().to_path_buf();
        drop(writer);
        let mut torn = std::fs::read(&path).unwrap();
        torn.extend_from_slice(&[7, 0, 0]);
        std::fs::write(&path, &torn).unwrap();
        truncate_events_after(dir.path(), 2).unwrap();
        let steps: Vec<u64> = records(&std::fs::read(&path).unwrap())
            .into_iter()
            .map(|(_, step)| step)
            .collect();
        // The file-version event (step 0), then steps 1 and 2.
        assert_eq!(steps, [0, 1, 2]);
        truncate_events_after(&dir.path().join("missing"), 2).unwrap();
    }

    #[test]
    fn records_are_framed_with_valid_checksums() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = EventWriter::create(dir.path()).unwrap();
        writer
            .scalars(7, &[("train/loss".to_string(), 1.5)])
            .unwrap();
        writer.flush().unwrap();
        let bytes = std::fs::read(writer.path()).unwrap();
        let mut offset = 0;
        let mut payloads = Vec::new();
        while offset < bytes.len() {
            let len_bytes = &bytes[offset..offset + 8];
            let len = u64::from_le_bytes(len_bytes.try_into().unwrap()) as usize;
            let crc = u32::from_le_bytes(bytes[offset + 8..offset + 12].try_into().unwrap());
            assert_eq!(crc, masked_crc(len_bytes));
            let payload = &bytes[offset + 12..offset + 12 + len];
            let crc = u32::from_le_bytes(
                bytes[offset + 12 + len..offset + 16 + len]
                    .try_into()
                    .unwrap(),
            );
            assert_eq!(crc, masked_crc(payload));
            payloads.push(payload.to_vec());
            offset += 16 + len;
        }
        assert_eq!(payloads.len(), 2);
        let scalar = &payloads[1];
        // step 7 follows the 9-byte wall time; the tag and the f32 1.5 are in the summary.
        assert_eq!(&scalar[9..11], &[0x10, 7]);
        assert!(scalar.windows(10).any(|w| w == b"train/loss"));
        assert!(scalar.ends_with(&1.5f32.to_le_bytes()));
    }
}
