//! Keys unique per test, per process and per run.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// `PREFIX-PID-N-TIME`: unique among the tests of this process (counter), among
/// processes (pid) and across runs (time). Only `[A-Za-z0-9_-]` beyond the prefix, so
/// audit logs print it quoted, not hex.
pub fn unique_key(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64 & 0xffff_ffff);
    format!("{prefix}-{}-{n}-{t:x}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_and_keep_the_prefix() {
        let a = unique_key("t");
        let b = unique_key("t");
        assert_ne!(a, b);
        assert!(a.starts_with("t-"));
        assert!(a.len() < 64);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-'));
    }
}
