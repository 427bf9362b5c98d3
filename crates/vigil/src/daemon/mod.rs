//! `vigil daemon`: the daemon's parts (records, rule state, signals, sources, status); the
//! start-up and signal loop land with the event pipeline they feed.

pub mod records;
pub mod rules;
pub mod signals;
pub mod source;
pub mod status;
