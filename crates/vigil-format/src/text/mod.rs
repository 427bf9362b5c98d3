//! Audit text: the format `ausearch -if` reads.

pub mod parse;
pub mod reader;
pub mod writer;

pub use parse::{parse_line, LineError};
pub use reader::{GroupLimits, TextReader};
pub use writer::{TextMode, TextWriter, WriterStats, ENRICH_SEP, MAX_LINE};
