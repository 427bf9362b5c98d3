//! The user-space pipeline shared by `vigil replay` and the daemon: a captured
//! [`RawEvent`](vigil_format::RawEvent) becomes the filter's [`EventInput`](vigil_rules::input::EventInput)
//! ([`event_input`]), the compiled rule sets decide who records it and with which keys
//! ([`RuleFilter::select`]), and each wanting set gets its audit records
//! ([`RuleFilter::build`], identities from [`Serials`]).
//!
//! ```text
//! RawEvent --event_input--> EventInput --RuleFilter::select--> [Selection{set, keys, hidden}]
//!          --RuleFilter::build(id from Serials)--> vigil_format::Event --> writer
//! ```

mod input;
mod objpid;
mod select;

pub use input::{absolute, event_input, saddr_family};
pub use objpid::{fill_obj_pids, fill_obj_pids_from, read_identity, TaskIdentity};
pub use select::{RuleFilter, Selection, Serials};
