//! What `vigil search` reads: files in the order given, a directory or a rotated set as
//! `audit.log.N ... audit.log.1 audit.log` (oldest first, as ausearch reads them), or stdin.
//! Each file is RAW/ENRICHED audit text or vigil's JSON lines, told apart by its first byte.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use vigil_format::json::event_from_json;

use super::record::{Ev, Rec};

/// Lines longer than this are skipped (audit lines are at most 8970 bytes; JSON events of a
/// huge EXECVE can be longer). Keeps memory bounded on a file without newlines.
pub const MAX_LINE: usize = 4 << 20;

/// One input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    File(PathBuf),
    Stdin,
}

impl Input {
    pub fn name(&self) -> String {
        match self {
            Input::File(p) => p.display().to_string(),
            Input::Stdin => "<stdin>".into(),
        }
    }
}

/// The files of a rotated set with base name `base`, oldest first: `base.N` ... `base.1`,
/// `base` (numbers counted up from 1 while the file exists, as ausearch does).
pub fn rotated_set(base: &Path) -> Vec<PathBuf> {
    let mut set = Vec::new();
    let mut n = 1u32;
    loop {
        let p = PathBuf::from(format!("{}.{n}", base.display()));
        if !p.exists() {
            break;
        }
        set.push(p);
        n += 1;
    }
    set.reverse();
    set.push(base.to_path_buf());
    set
}

/// Expands `-if` arguments: a directory means its `audit.log` rotated set; with `rotated`,
/// a file name is the base name of a rotated set too.
pub fn expand(specs: &[PathBuf], rotated: bool) -> Vec<Input> {
    let mut out = Vec::new();
    for s in specs {
        if s.as_os_str() == "-" {
            out.push(Input::Stdin);
        } else if s.is_dir() {
            out.extend(
                rotated_set(&s.join("audit.log"))
                    .into_iter()
                    .map(Input::File),
            );
        } else if rotated {
            out.extend(rotated_set(s).into_iter().map(Input::File));
        } else {
            out.push(Input::File(s.clone()));
        }
    }
    out
}

/// Something read from an input.
pub enum Item {
    /// One audit text record.
    Rec(vigil_format::Identity, Rec),
    /// One whole event (a JSON line).
    Event(Ev),
}

/// Counts of what could not be read.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReadStats {
    pub lines: u64,
    pub skipped: u64,
}

/// Reads `input` and hands every record or event to `sink`; `sink` returns `false` to stop.
/// Lines that are not audit records (or JSON events) are skipped and counted; with `debug`
/// each is reported on stderr with its file and line.
pub fn read(
    input: &Input,
    debug: bool,
    stats: &mut ReadStats,
    sink: &mut dyn FnMut(Item) -> bool,
) -> anyhow::Result<()> {
    let name = input.name();
    let reader: Box<dyn Read> = match input {
        Input::Stdin => Box::new(io::stdin().lock()),
        Input::File(p) => {
            Box::new(File::open(p).with_context(|| format!("Error opening {}", p.display()))?)
        }
    };
    let mut r = BufReader::with_capacity(256 << 10, reader);
    let mut json: Option<bool> = None;
    let mut line_no = 0u64;
    loop {
        let Some(line) = read_line(&mut r).with_context(|| format!("reading {name}"))? else {
            return Ok(());
        };
        line_no += 1;
        stats.lines += 1;
        let Ok(line) = line else {
            stats.skipped += 1;
            if debug {
                eprintln!("{name}:{line_no}: line longer than {MAX_LINE} bytes skipped");
            }
            continue;
        };
        let first = line.iter().find(|b| !b.is_ascii_whitespace()).copied();
        let Some(first) = first else {
            continue;
        };
        let is_json = *json.get_or_insert(first == b'{');
        let item = if is_json {
            match event_from_json(&line) {
                Ok(ev) => Some(Item::Event(Ev {
                    recs: ev
                        .records
                        .into_iter()
                        .map(|r| Rec::from_record(&ev.id, r))
                        .collect(),
                    id: ev.id,
                    json: Some(line),
                })),
                Err(e) => {
                    if debug {
                        eprintln!("{name}:{line_no}: not a vigil JSON event: {e}");
                    }
                    None
                }
            }
        } else {
            let rec = Rec::from_line(line).map(|(id, rec)| Item::Rec(id, rec));
            if rec.is_none() && debug {
                eprintln!("{name}:{line_no}: not an audit record");
            }
            rec
        };
        match item {
            Some(item) => {
                if !sink(item) {
                    return Ok(());
                }
            }
            None => stats.skipped += 1,
        }
    }
}

/// One line without its newline (and a trailing `\r`); `Ok(None)` at the end,
/// `Ok(Some(Err(())))` for a line over [`MAX_LINE`] (consumed, not kept).
#[allow(clippy::type_complexity)]
fn read_line(r: &mut impl BufRead) -> io::Result<Option<Result<Vec<u8>, ()>>> {
    let mut buf = Vec::new();
    // `read_until` finds the newline fast; `take` bounds what one line may hold.
    let limit = MAX_LINE as u64 + 1;
    if r.by_ref().take(limit).read_until(b'\n', &mut buf)? == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
    } else if buf.len() as u64 == limit {
        // Too long: skip to the end of the line without keeping it.
        loop {
            buf.clear();
            let n = r.by_ref().take(limit).read_until(b'\n', &mut buf)?;
            if n == 0 || buf.last() == Some(&b'\n') {
                return Ok(Some(Err(())));
            }
        }
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(Some(Ok(buf)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_sets_are_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        for n in ["audit.log", "audit.log.1", "audit.log.2", "audit.log.4"] {
            std::fs::write(dir.path().join(n), "").unwrap();
        }
        let names: Vec<String> = expand(&[dir.path().to_path_buf()], false)
            .iter()
            .map(|i| i.name().rsplit('/').next().unwrap().to_string())
            .collect();
        // .4 is not reached: counting stops at the first gap, as ausearch's does.
        assert_eq!(names, ["audit.log.2", "audit.log.1", "audit.log"]);
        let base = dir.path().join("audit.log");
        assert_eq!(expand(std::slice::from_ref(&base), true).len(), 3);
        assert_eq!(expand(&[base], false).len(), 1);
    }

    #[test]
    fn long_lines_are_skipped_and_reading_goes_on() {
        let mut data = vec![b'x'; MAX_LINE + 10];
        data.extend_from_slice(b"\nok\r\n");
        let mut r = io::Cursor::new(data);
        assert_eq!(read_line(&mut r).unwrap(), Some(Err(())));
        assert_eq!(read_line(&mut r).unwrap(), Some(Ok(b"ok".to_vec())));
        assert_eq!(read_line(&mut r).unwrap(), None);
    }
}
