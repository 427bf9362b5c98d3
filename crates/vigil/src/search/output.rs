//! Printing matching events, as ausearch prints them:
//!
//! - raw (`--raw`): every record exactly as read, in the order read (in an ENRICHED event a
//!   record without interpreted fields gets a trailing 0x1D, as ausearch prints it);
//! - default: `----`, `time->` and the local time (ctime), then the records newest first
//!   (ausearch prints them in reverse), ENRICHED fields left out; an event whose last record
//!   is a daemon or user message prints that record only;
//! - interpreted (`-i`): `----`, then each record (reversed) with its fields interpreted;
//! - JSON (`--json`): one object per event (vigil's JSON schema; names resolved with `-i`).

use std::io::{self, Write};

use vigil_format::json::JsonWriter;
use vigil_format::text::{TextMode, ENRICH_SEP};
use vigil_format::SystemResolver;

use super::args::Format;
use super::interp::Interpreter;
use super::record::Ev;
use super::time;

/// Writes matching events in one format.
pub struct Printer {
    format: Format,
    json: Option<JsonWriter<SystemResolver>>,
    interp: Option<Interpreter>,
    json_interpret: bool,
    buf: Vec<u8>,
}

impl Printer {
    pub fn new(format: Format, json_interpret: bool) -> Printer {
        let json = (format == Format::Json).then(|| {
            let mode = if json_interpret {
                TextMode::Enriched
            } else {
                TextMode::Raw
            };
            JsonWriter::new(mode, SystemResolver::new())
        });
        Printer {
            format,
            json,
            interp: (format == Format::Interpret).then(Interpreter::new),
            json_interpret,
            buf: Vec::with_capacity(4096),
        }
    }

    /// Prints one event.
    pub fn event(&mut self, ev: &Ev, out: &mut dyn Write) -> io::Result<()> {
        let b = &mut self.buf;
        b.clear();
        match self.format {
            Format::Raw => {
                // In an ENRICHED event ausearch ends every record that has no interpreted part
                // with the separator (it restores 0x1D at the end of the raw part).
                let enriched = ev.enriched();
                for r in &ev.recs {
                    b.extend_from_slice(&r.line);
                    if enriched && !r.line.contains(&ENRICH_SEP) {
                        b.push(ENRICH_SEP);
                    }
                    b.push(b'\n');
                }
            }
            Format::Default => {
                b.extend_from_slice(b"----\ntime->");
                b.extend_from_slice(time::ctime(ev.id.sec).as_bytes());
                b.push(b'\n');
                let last = ev.recs.last().map_or(0, |r| r.rtype);
                if (1200..1300).contains(&last) {
                    if let Some(r) = ev.recs.last() {
                        b.extend_from_slice(r.raw_part());
                        b.push(b'\n');
                    }
                } else {
                    for r in ev.recs.iter().rev() {
                        push_escaped(b, r.raw_part());
                        b.push(b'\n');
                    }
                }
            }
            Format::Interpret => {
                b.extend_from_slice(b"----\n");
                if let Some(it) = self.interp.as_mut() {
                    it.event(ev, b);
                }
            }
            Format::Json => match (&ev.json, self.json.as_mut()) {
                // A JSON event is printed as read unless names are to be added.
                (Some(line), _) if !self.json_interpret => {
                    b.extend_from_slice(line);
                    b.push(b'\n');
                }
                (_, Some(w)) => w.write_event(&ev.to_model(), b),
                (_, None) => {}
            },
        }
        out.write_all(b)
    }
}

/// Control bytes as `\ooo` (ausearch's tty escaping); audit text rarely has any.
fn push_escaped(b: &mut Vec<u8>, s: &[u8]) {
    for &c in s {
        if c < 0x20 || c == 0x7f {
            b.extend_from_slice(format!("\\{c:03o}").as_bytes());
        } else {
            b.push(c);
        }
    }
}
