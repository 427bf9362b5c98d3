//! The parts of the `vigil` binary that tests (and other binaries) reach: configuration, the
//! log writer, the daemon and its control socket. `main.rs` only wires the command line.

pub mod config;
pub mod ctl;
pub mod daemon;
pub mod logfile;
pub mod pipeline;
pub mod search;
