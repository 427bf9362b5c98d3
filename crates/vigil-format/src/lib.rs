//! Audit record model, audit text (raw/enriched) and JSON writers, log reader, and the raw
//! kernel-level event shared by the daemon and replay.
//!
//! - [`model`]: [`Event`] = [`Identity`] + ordered [`Record`]s of typed [`Field`]s.
//! - [`raw`]: [`RawEvent`], what the BPF side captures (also the replay trace line).
//! - [`build_event`]: [`RawEvent`] -> [`Event`] in the kernel's record order and field values.
//! - [`text`]: RAW/ENRICHED audit text writer and streaming reader.
//! - [`json`]: JSON lines writer and reader (schema in docs/format.md).
//! - [`trace`]: replay trace reading and writing (docs/replay-trace.md).
//! - [`special`]: records the daemon writes itself (`DAEMON_*`, `CONFIG_CHANGE`, `CONTAINER_OP`,
//!   `VIGIL_LOSS`).
//! - [`tables`]: record types and fields, generated from `data/*.txt`.
//!
//! Pure code: no root, no kernel.

pub mod builder;
pub mod error;
pub mod escape;
pub mod json;
pub mod model;
pub mod raw;
pub mod resolve;
pub mod special;
pub mod tables;
pub mod text;
pub mod trace;

pub use builder::{build_event, build_event_with, execve_records, BuildOptions};
pub use error::Error;
pub use model::{Event, Field, FieldName, Identity, Record, Value};
pub use raw::{Bytes, RawEvent, RawKind, RawPath, RawTask};
pub use resolve::{NoResolver, Resolver, SystemResolver};
pub use tables::{f, rt, FieldId, RecordType};
pub use text::{TextMode, TextReader, TextWriter};
