//! JSON lines: one object per event, records coalesced (schema in docs/format.md).

mod reader;
mod value;
mod writer;

pub(crate) use reader::JsonLines;
pub use reader::{event_from_json, JsonReader};
pub use writer::{JsonWriter, JSON_SCHEMA};
