//! Errors of the format crate. Parse errors carry the line number and the offending bytes.

use std::fmt;

/// The first bytes of an offending line, printable.
#[derive(Clone, PartialEq, Eq)]
pub struct Snippet(pub Vec<u8>);

/// How many bytes of a bad line an error keeps.
pub const SNIPPET_MAX: usize = 160;

impl Snippet {
    pub fn of(line: &[u8]) -> Snippet {
        Snippet(line[..line.len().min(SNIPPET_MAX)].to_vec())
    }
}

impl fmt::Display for Snippet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in &self.0 {
            if (0x20..0x7f).contains(&b) && b != b'\\' {
                write!(f, "{}", b as char)?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Snippet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// An error while reading audit text, JSON or a trace.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{source_name}:{line}:{column}: {problem}: {text}")]
    Parse {
        /// File name or "<input>".
        source_name: String,
        /// 1-based line number.
        line: u64,
        /// 1-based byte column where the problem was found.
        column: usize,
        problem: String,
        text: Snippet,
    },
    #[error("{source_name}: read error after line {line}: {err}")]
    Io {
        source_name: String,
        line: u64,
        #[source]
        err: std::io::Error,
    },
}

impl Error {
    /// Line number of a parse error.
    pub fn line(&self) -> u64 {
        match self {
            Error::Parse { line, .. } | Error::Io { line, .. } => *line,
        }
    }
}
