//! vigil's BPF programs, their loader and the ring-buffer reader.
//!
//! - [`object`]: the compiled object (built by build.rs) and its ABI version check.
//! - [`loader`]: [`Loader::load`], [`Loader::apply`] (atomic filter swap, attach/detach),
//!   counters, exclusions.
//! - [`reader`]: [`EventReader`] (epoll on the ring buffer) and [`decode`] (records to
//!   [`SyscallEvent`] without undefined behaviour).
//! - [`convert`]: [`SyscallEvent`] to [`vigil_format::RawEvent`].
//! - [`btf`]: a small BTF reader (the ABI layout test).
//! - [`features`]: what this kernel allows.
//! - [`uring`]: io_uring auditing and policy (own instance, ring buffer and loader).
//! - [`rules`]: vigil-rules' compiled rule index into the BPF maps ([`Loader::apply_rules`]).
//! - [`verdict`]: an event's [`vigil_rules::reference::Decision`] from BPF's verdicts plus
//!   user space for the rule sets BPF left undecided.
//!
//! Design: docs/design/bpf.md.

pub mod bare;
pub mod btf;
pub mod capture;
pub mod convert;
pub mod counters;
pub mod decode;
pub mod error;
pub mod features;
pub mod loader;
pub mod object;
pub mod paths;
pub mod reader;
pub mod rules;
pub mod uring;
pub mod verdict;

pub use counters::Counters;
pub use decode::{DecodeError, DecodeStats, Decoder, SyscallEvent};
pub use error::{Error, Result};
pub use features::Features;
pub use loader::{FilterSet, Hook, LoadOptions, Loader};
pub use reader::EventReader;
pub use rules::RuleCaps;
