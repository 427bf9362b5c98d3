//! Replay traces (docs/replay-trace.md): JSON lines, an optional header
//! `{"vigil_trace":1}` then one [`RawEvent`] per line.

use std::io::BufRead;

use crate::error::Error;
use crate::json::JsonLines;
use crate::raw::{RawEvent, TRACE_VERSION};

/// Longest trace line accepted (a huge argv fits; memory stays bounded).
pub const MAX_LINE: usize = 64 << 20;

/// Appends the header line.
pub fn write_header(out: &mut Vec<u8>) {
    out.extend_from_slice(format!("{{\"vigil_trace\":{TRACE_VERSION}}}\n").as_bytes());
}

/// Appends one event line.
pub fn write_event(ev: &RawEvent, out: &mut Vec<u8>) {
    // Serialising plain structs into a Vec cannot fail.
    serde_json::to_writer(&mut *out, ev).expect("RawEvent serialises");
    out.push(b'\n');
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    vigil_trace: u32,
}

/// Parses one trace line: `Ok(None)` for the header or a blank line.
pub fn parse_line(line: &[u8]) -> Result<Option<RawEvent>, (usize, String)> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if let Ok(h) = serde_json::from_slice::<Header>(line) {
        return if h.vigil_trace == TRACE_VERSION {
            Ok(None)
        } else {
            Err((
                1,
                format!(
                    "trace version {} is not supported (this vigil reads {TRACE_VERSION})",
                    h.vigil_trace
                ),
            ))
        };
    }
    serde_json::from_slice::<RawEvent>(line)
        .map(Some)
        .map_err(|e| (e.column(), e.to_string()))
}

/// Iterator over the events of a trace.
pub struct TraceReader<B> {
    lines: JsonLines<B>,
}

impl<B: BufRead> TraceReader<B> {
    pub fn new(input: B, name: impl Into<String>) -> TraceReader<B> {
        TraceReader {
            lines: JsonLines::new(input, name.into(), MAX_LINE),
        }
    }

    /// Lines read so far (the line of the last event returned).
    pub fn line_number(&self) -> u64 {
        self.lines.line_number()
    }
}

impl<B: BufRead> Iterator for TraceReader<B> {
    type Item = Result<RawEvent, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.lines.next_item(parse_line)
    }
}
