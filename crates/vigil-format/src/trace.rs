//! Replay traces (docs/replay-trace.md).
