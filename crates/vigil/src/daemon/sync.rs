//! A ring-buffer source's sync point: `vigil ctl -m` writes its marker only after every record
//! that was in the source's ring buffer when it asked has been delivered.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a reader may deliver nothing before a sync stops waiting for it (a reader stuck
/// in the kernel must not hang the control socket).
const STALL: Duration = Duration::from_secs(2);
/// The longest a marker's sync waits, all sources together, for readers that keep delivering
/// (a flood that outruns a reader never lets its pass end); well under the 30 s a `vigil ctl`
/// client waits for its answer.
pub const MAX_WAIT: Duration = Duration::from_secs(20);

/// Shared by a source's reader loop and the threads that ask it to sync.
#[derive(Default)]
pub struct SyncPoint {
    /// Sync requests made / served (a pass over the ring buffer begun after the request).
    asked: AtomicU64,
    done: AtomicU64,
    /// The reader loop has returned. Until then a sync waits for it, also before it started:
    /// events of a request made right after the daemon came up may already be in the ring.
    ended: AtomicBool,
}

impl SyncPoint {
    /// Reader: a pass over the ring buffer begins; returns the requests it will serve.
    pub fn pass_begins(&self) -> u64 {
        self.asked.load(Ordering::Acquire)
    }

    /// Reader: the pass begun with `pass_begins` returned `asked` has drained the ring.
    pub fn pass_done(&self, asked: u64) {
        self.done.store(asked, Ordering::Release);
    }

    /// Reader: the loop has returned; syncs no longer wait.
    pub fn end(&self) {
        self.ended.store(true, Ordering::Release);
    }

    pub fn ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// Returns once a pass over the ring buffer begun after this call has ended, the reader
    /// has ended, or `delivered` (the source's count of events delivered, which it keeps
    /// anyway) has not moved for `STALL` (then, or at `deadline`, with a warning: the marker
    /// may precede some events).
    pub fn wait(&self, source: &str, deadline: Instant, delivered: &dyn Fn() -> u64) {
        if self.ended() {
            return;
        }
        let want = self.asked.fetch_add(1, Ordering::AcqRel) + 1;
        let start = Instant::now();
        let mut last_moved = start;
        let mut seen = delivered();
        while self.done.load(Ordering::Acquire) < want && !self.ended() {
            let now = Instant::now();
            let n = delivered();
            if n != seen {
                seen = n;
                last_moved = now;
            }
            if now - last_moved >= STALL || now >= deadline {
                log::warn!(
                    "sync with the {source} reader gave up after {:?}: a marker may precede \
                     some of its events",
                    now - start
                );
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_served_pass_releases_the_waiter() {
        let p = Arc::new(SyncPoint::default());
        let reader = {
            let p = Arc::clone(&p);
            std::thread::spawn(move || {
                // Passes until the request shows up, then one more that serves it.
                loop {
                    let asked = p.pass_begins();
                    p.pass_done(asked);
                    if asked > 0 {
                        return asked;
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
            })
        };
        let t0 = Instant::now();
        p.wait("test", Instant::now() + MAX_WAIT, &|| 0);
        assert_eq!(reader.join().unwrap(), 1);
        assert!(
            t0.elapsed() < STALL,
            "served, yet waited {:?}",
            t0.elapsed()
        );
    }

    #[test]
    fn a_delivering_reader_is_waited_for_past_the_stall_limit() {
        let p = Arc::new(SyncPoint::default());
        let delivered = Arc::new(AtomicU64::new(0));
        let reader = {
            let p = Arc::clone(&p);
            let delivered = Arc::clone(&delivered);
            std::thread::spawn(move || {
                // One long pass (a flood): it delivers for longer than STALL, then ends.
                let asked = p.pass_begins();
                let t0 = Instant::now();
                while t0.elapsed() < STALL + Duration::from_millis(500) {
                    delivered.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(5));
                }
                p.pass_done(asked);
                // The next pass serves the request made during the long one.
                let asked = p.pass_begins();
                p.pass_done(asked);
                asked
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        p.wait("test", Instant::now() + MAX_WAIT, &|| {
            delivered.load(Ordering::Relaxed)
        });
        assert!(
            p.done.load(Ordering::Acquire) >= 1,
            "returned before the serving pass"
        );
        assert_eq!(reader.join().unwrap(), 1);
    }

    #[test]
    fn an_ended_or_stalled_reader_does_not_hang_the_waiter() {
        let p = SyncPoint::default();
        let t0 = Instant::now();
        p.wait("test", Instant::now() + MAX_WAIT, &|| 0);
        let waited = t0.elapsed();
        assert!(waited >= STALL && waited < STALL * 3, "{waited:?}");
        p.end();
        let t0 = Instant::now();
        p.wait("test", Instant::now() + MAX_WAIT, &|| 0);
        assert!(t0.elapsed() < Duration::from_millis(100));
    }
}
