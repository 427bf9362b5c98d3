//! JSON lines (docs/format.md).
