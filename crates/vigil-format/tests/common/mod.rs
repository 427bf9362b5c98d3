//! Shared test helpers: the sample traces and a fixed resolver.
#![allow(dead_code)]

use std::path::PathBuf;

use vigil_format::resolve::MapResolver;
use vigil_format::trace::TraceReader;
use vigil_format::{build_event, Event, Identity, RawEvent};

pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub const TRACES: &[&str] = &["syscalls", "uring", "user", "hostile"];

pub fn load_trace(name: &str) -> Vec<RawEvent> {
    let path = crate_dir()
        .join("tests/traces")
        .join(format!("{name}.jsonl"));
    let f = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    TraceReader::new(std::io::BufReader::new(f), path.display().to_string())
        .map(|r| r.unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

/// Events of a trace, serials from `first_serial`, keys from the trace.
pub fn build_all(raws: &[RawEvent], first_serial: u64) -> Vec<Event> {
    raws.iter()
        .enumerate()
        .map(|(i, r)| {
            build_event(
                r,
                Identity::from_ns(r.ts_ns, first_serial + i as u64),
                &r.keys,
            )
        })
        .collect()
}

/// Names independent of the machine's passwd.
pub fn fixed_resolver() -> MapResolver {
    let mut r = MapResolver::default();
    r.users.insert(0, "root".into());
    r.users.insert(1000, "alice".into());
    r.groups.insert(0, "root".into());
    r.groups.insert(1000, "alice".into());
    r
}
