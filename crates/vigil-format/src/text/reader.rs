//! Streaming reader: audit text lines -> events, grouping records by identity even when
//! events interleave. An event is complete at a record that closes it (PROCTITLE, EOE, single
//! record types), when it has been idle for [`GroupLimits::idle_records`] records or
//! [`GroupLimits::idle_ms`] of log time, when too many are open, or at the end of the input.
//! Memory is bounded by the open events and the longest line, whatever the file size.

use std::collections::VecDeque;
use std::io::BufRead;

use crate::error::{Error, Snippet};
use crate::model::{Event, Identity};
use crate::text::parse::parse_line_with;

/// When an open event is given up on.
#[derive(Debug, Clone, Copy)]
pub struct GroupLimits {
    /// Records read since the event's last record.
    pub idle_records: u64,
    /// Log time (ms) since the event's last record (auparse uses 2 s).
    pub idle_ms: u64,
    /// Open events kept at most (the oldest is completed first).
    pub max_open: usize,
    /// Longest accepted line; longer lines are an error and skipped.
    pub max_line: usize,
}

impl Default for GroupLimits {
    fn default() -> GroupLimits {
        GroupLimits {
            idle_records: 1000,
            idle_ms: 2000,
            max_open: 256,
            max_line: 1 << 20,
        }
    }
}

struct Open {
    event: Event,
    last_line: u64,
    last_ms: u64,
}

/// Iterator over the events of audit text (RAW or ENRICHED, with or without `node=`).
pub struct TextReader<B> {
    input: B,
    name: String,
    limits: GroupLimits,
    line_no: u64,
    buf: Vec<u8>,
    scratch: Vec<u8>,
    open: VecDeque<Open>,
    ready: VecDeque<Result<Event, Error>>,
    eof: bool,
}

impl<B: BufRead> TextReader<B> {
    /// `name` is used in errors (a file name, or "<stdin>").
    pub fn new(input: B, name: impl Into<String>) -> TextReader<B> {
        TextReader::with_limits(input, name, GroupLimits::default())
    }

    pub fn with_limits(input: B, name: impl Into<String>, limits: GroupLimits) -> TextReader<B> {
        TextReader {
            input,
            name: name.into(),
            limits,
            line_no: 0,
            buf: Vec::with_capacity(1024),
            scratch: Vec::new(),
            open: VecDeque::new(),
            ready: VecDeque::new(),
            eof: false,
        }
    }

    /// Lines read so far.
    pub fn line_number(&self) -> u64 {
        self.line_no
    }

    /// Reads one line into `self.buf`; see [`read_line_bounded`].
    fn read_line(&mut self) -> Result<Option<bool>, std::io::Error> {
        read_line_bounded(&mut self.input, &mut self.buf, self.limits.max_line)
    }

    fn parse_error(&self, column: usize, problem: impl Into<String>) -> Error {
        Error::Parse {
            source_name: self.name.clone(),
            line: self.line_no,
            column,
            problem: problem.into(),
            text: Snippet::of(&self.buf),
        }
    }

    fn step(&mut self) {
        let line = match self.read_line() {
            Ok(Some(too_long)) => {
                self.line_no += 1;
                if too_long {
                    let e = self.parse_error(
                        self.limits.max_line + 1,
                        format!("line longer than {} bytes", self.limits.max_line),
                    );
                    self.ready.push_back(Err(e));
                    return;
                }
                true
            }
            Ok(None) => false,
            Err(e) => {
                self.ready.push_back(Err(Error::Io {
                    source_name: self.name.clone(),
                    line: self.line_no,
                    err: e,
                }));
                false
            }
        };
        if !line {
            self.eof = true;
            while let Some(o) = self.open.pop_front() {
                self.ready.push_back(Ok(o.event));
            }
            return;
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        if self.buf.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let parsed = parse_line_with(&self.buf, &mut self.scratch);
        match parsed {
            Ok((id, rec)) => self.add(id, rec),
            Err(e) => {
                let err = self.parse_error(e.column, e.problem);
                self.ready.push_back(Err(err));
            }
        }
    }

    fn add(&mut self, id: Identity, rec: crate::model::Record) {
        let now_ms = id.millis();
        let closes = rec.rtype.closes_event() && rec.type_name.is_none();
        let line = self.line_no;
        // Newest events are at the back; search from there.
        let idx = self.open.iter().rposition(|o| o.event.id == id);
        let idx = if let Some(i) = idx {
            let o = &mut self.open[i];
            o.event.records.push(rec);
            o.last_line = line;
            o.last_ms = now_ms;
            i
        } else {
            self.open.push_back(Open {
                event: Event {
                    id,
                    records: vec![rec],
                },
                last_line: line,
                last_ms: now_ms,
            });
            self.open.len() - 1
        };
        if closes {
            if let Some(o) = self.open.remove(idx) {
                self.ready.push_back(Ok(o.event));
            }
        }
        // Give up on events that have gone quiet, oldest first.
        let lim = self.limits;
        let mut i = 0;
        while i < self.open.len() {
            let o = &self.open[i];
            let stale = line.saturating_sub(o.last_line) > lim.idle_records
                || now_ms.saturating_sub(o.last_ms) > lim.idle_ms;
            if stale || self.open.len() > lim.max_open {
                if let Some(o) = self.open.remove(i) {
                    self.ready.push_back(Ok(o.event));
                }
            } else {
                i += 1;
            }
        }
    }
}

/// Reads one line into `buf` (without the newline). `Ok(None)` at end of input, else
/// `Ok(Some(too_long))`: a line longer than `max` is consumed but only its first bytes are
/// kept, so memory stays bounded whatever the input.
pub fn read_line_bounded<B: BufRead>(
    input: &mut B,
    buf: &mut Vec<u8>,
    max: usize,
) -> Result<Option<bool>, std::io::Error> {
    buf.clear();
    let mut too_long = false;
    let mut any = false;
    loop {
        let avail = match input.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok(if any { Some(too_long) } else { None });
        }
        any = true;
        let (chunk, done) = match avail.iter().position(|&b| b == b'\n') {
            Some(p) => (&avail[..p], Some(p + 1)),
            None => (avail, None),
        };
        if !too_long {
            if buf.len() + chunk.len() > max {
                too_long = true;
                let keep = crate::error::SNIPPET_MAX
                    .saturating_sub(buf.len())
                    .min(chunk.len());
                buf.extend_from_slice(&chunk[..keep]);
            } else {
                buf.extend_from_slice(chunk);
            }
        }
        let used = done.unwrap_or(avail.len());
        input.consume(used);
        if done.is_some() {
            return Ok(Some(too_long));
        }
    }
}

impl<B: BufRead> Iterator for TextReader<B> {
    type Item = Result<Event, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(r) = self.ready.pop_front() {
                return Some(r);
            }
            if self.eof {
                return None;
            }
            self.step();
        }
    }
}
