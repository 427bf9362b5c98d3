//! SUBMIT + COMPLETE records to one [`UringEvent`] per op (per completion for multishot ops).
//!
//! A SUBMIT waits for the COMPLETE carrying its event id. It is delivered without one when:
//! the BPF side said no completion can be joined (`NO_JOIN`); the op asked for
//! `IOSQE_CQE_SKIP_SUCCESS` and nothing came within [`JoinLimits::skip_wait`] (a successful op
//! posts no completion, so its result is unknown, but it did not fail); more than
//! [`JoinLimits::max_pending`] ops wait (the oldest goes); or the reader stops ([`Joiner::flush`]).
//! Every such case is counted in [`JoinStats`].
//!
//! The executable's path is sent by BPF once per process and executable (`vigil_uring_exe_seen`);
//! the joiner keeps it per thread group and falls back to `/proc/PID/exe`.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use vigil_abi::{
    Path, VIGIL_UCQE_F_PATH_CACHED, VIGIL_UOP_F_CQE_SKIP, VIGIL_UOP_F_FIXED_FILE,
    VIGIL_UOP_F_NO_JOIN,
};

use super::decode::{CompleteRec, PolicyRec, SubmitRec, UringRecord};

/// Why an op has no completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoCompletion {
    /// `IOSQE_CQE_SKIP_SUCCESS` and none came: the op succeeded, its result is not posted.
    Skipped,
    /// The BPF pending map was full.
    NotJoined,
    /// Waited too long among too many ([`JoinLimits::max_pending`]) or the reader stopped.
    Evicted,
}

/// One audited op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UringEvent {
    pub submit: SubmitRec,
    pub complete: Option<CompleteRec>,
    pub missing: Option<NoCompletion>,
    /// The submitting process's executable (kernel path walk, cached per process).
    pub exe: Option<Vec<u8>>,
}

/// A policy denial with the offender's executable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub rec: PolicyRec,
    pub exe: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UringOutput {
    Op(Box<UringEvent>),
    Denial(Box<Denial>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinLimits {
    pub max_pending: usize,
    pub skip_wait: Duration,
    /// Executables kept (thread groups).
    pub max_exes: usize,
    /// Open files whose path is kept.
    pub max_files: usize,
}

impl Default for JoinLimits {
    fn default() -> Self {
        JoinLimits {
            max_pending: 65_536,
            skip_wait: Duration::from_secs(1),
            max_exes: 16_384,
            max_files: 65_536,
        }
    }
}

/// What the joiner did (losses are data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JoinStats {
    pub submits: u64,
    pub completions: u64,
    /// Completions with no waiting SUBMIT (its record was lost, or it was evicted).
    pub orphan_completions: u64,
    pub skipped: u64,
    pub not_joined: u64,
    pub evicted: u64,
    pub denials: u64,
    /// Executables taken from /proc because the kernel's walk was not at hand.
    pub exe_from_proc: u64,
    /// Paths of an op's file taken from the cache (the kernel walked them once per file).
    pub file_path_cached: u64,
    /// ... taken from /proc/PID/fd (cache miss; checked against the inode).
    pub file_path_proc: u64,
    /// ... not found.
    pub file_path_missing: u64,
}

/// A file's path as the kernel walked it, by (thread group, file id).
struct FilePath {
    ino: u64,
    dev: u32,
    path: Vec<u8>,
}

struct Waiting {
    rec: SubmitRec,
    since: Instant,
    exe: Option<Vec<u8>>,
}

/// The join state.
pub struct Joiner {
    limits: JoinLimits,
    waiting: HashMap<u64, Waiting>,
    order: VecDeque<u64>,
    exes: HashMap<u32, Vec<u8>>,
    files: HashMap<(u32, u64), FilePath>,
    stats: JoinStats,
}

impl Joiner {
    pub fn new(limits: JoinLimits) -> Joiner {
        Joiner {
            limits,
            waiting: HashMap::new(),
            order: VecDeque::new(),
            exes: HashMap::new(),
            files: HashMap::new(),
            stats: JoinStats::default(),
        }
    }

    pub fn stats(&self) -> JoinStats {
        self.stats
    }

    /// Ops waiting for their completion.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    fn exe_of(&mut self, tgid: u32, sent: Option<&crate::decode::Captured>) -> Option<Vec<u8>> {
        if let Some(c) = sent {
            if self.exes.len() >= self.limits.max_exes && !self.exes.contains_key(&tgid) {
                self.exes.clear();
            }
            self.exes.insert(tgid, c.bytes.clone());
            return Some(c.bytes.clone());
        }
        if let Some(e) = self.exes.get(&tgid) {
            return Some(e.clone());
        }
        let p = std::fs::read_link(format!("/proc/{tgid}/exe")).ok()?;
        self.stats.exe_from_proc += 1;
        let b = p.into_os_string().into_encoded_bytes();
        self.exes.insert(tgid, b.clone());
        Some(b)
    }

    /// Takes one record; delivers what it completes.
    pub fn push(&mut self, rec: UringRecord, now: Instant, out: &mut dyn FnMut(UringOutput)) {
        match rec {
            UringRecord::Submit(s) => {
                self.stats.submits += 1;
                let exe = self.exe_of(s.op.task.pid, s.items.exe.as_ref());
                if s.op.flags & VIGIL_UOP_F_NO_JOIN != 0 {
                    self.stats.not_joined += 1;
                    out(UringOutput::Op(Box::new(UringEvent {
                        submit: s,
                        complete: None,
                        missing: Some(NoCompletion::NotJoined),
                        exe,
                    })));
                    return;
                }
                let id = s.op.hdr.event_id;
                if self.waiting.len() >= self.limits.max_pending {
                    self.evict_oldest(out);
                }
                self.order.push_back(id);
                self.waiting.insert(
                    id,
                    Waiting {
                        rec: s,
                        since: now,
                        exe,
                    },
                );
            }
            UringRecord::Complete(mut c) => {
                self.stats.completions += 1;
                let id = c.cqe.hdr.event_id;
                let more = c.cqe.cflags & 2 != 0;
                let Some(w) = (if more {
                    self.waiting.get(&id).map(|w| Waiting {
                        rec: w.rec.clone(),
                        since: w.since,
                        exe: w.exe.clone(),
                    })
                } else {
                    self.waiting.remove(&id)
                }) else {
                    self.stats.orphan_completions += 1;
                    return;
                };
                self.file_path(&w.rec, &mut c);
                out(UringOutput::Op(Box::new(UringEvent {
                    submit: w.rec,
                    complete: Some(c),
                    missing: None,
                    exe: w.exe,
                })));
            }
            UringRecord::Policy(p) => {
                self.stats.denials += 1;
                let exe = self.exe_of(p.deny.task.pid, p.items.exe.as_ref());
                out(UringOutput::Denial(Box::new(Denial { rec: p, exe })));
            }
        }
    }

    /// Keeps the path walked for the op's file, or puts the kept one back
    /// (`VIGIL_UCQE_F_PATH_CACHED`).
    fn file_path(&mut self, s: &SubmitRec, c: &mut CompleteRec) {
        let f = c.cqe.file_ref;
        if f == 0 {
            return;
        }
        let tgid = s.op.task.pid;
        let Some(item) = c.items.paths.iter_mut().find(|p| p.index == 0) else {
            return;
        };
        let Some(obj) = item.object else {
            return;
        };
        if c.cqe.vflags & VIGIL_UCQE_F_PATH_CACHED == 0 {
            if let Some(full) = &item.full {
                if self.files.len() >= self.limits.max_files {
                    self.files.clear();
                }
                self.files.insert(
                    (tgid, f),
                    FilePath {
                        ino: obj.ino,
                        dev: obj.dev,
                        path: full.bytes.clone(),
                    },
                );
            }
            return;
        }
        let kept = self
            .files
            .get(&(tgid, f))
            .filter(|k| k.ino == obj.ino && k.dev == obj.dev)
            .map(|k| k.path.clone());
        let path = if let Some(p) = kept {
            self.stats.file_path_cached += 1;
            Some(p)
        } else if let Some(p) = proc_fd_path(tgid, s, &obj) {
            self.stats.file_path_proc += 1;
            Some(p)
        } else {
            self.stats.file_path_missing += 1;
            None
        };
        item.full = path.map(|bytes| crate::decode::Captured { bytes, flags: 0 });
    }

    fn evict_oldest(&mut self, out: &mut dyn FnMut(UringOutput)) {
        while let Some(id) = self.order.pop_front() {
            if let Some(w) = self.waiting.remove(&id) {
                self.emit_unjoined(w, out);
                return;
            }
        }
    }

    fn emit_unjoined(&mut self, w: Waiting, out: &mut dyn FnMut(UringOutput)) {
        let missing = if w.rec.op.flags & VIGIL_UOP_F_CQE_SKIP != 0 {
            self.stats.skipped += 1;
            NoCompletion::Skipped
        } else {
            self.stats.evicted += 1;
            NoCompletion::Evicted
        };
        out(UringOutput::Op(Box::new(UringEvent {
            submit: w.rec,
            complete: None,
            missing: Some(missing),
            exe: w.exe,
        })));
    }

    /// Delivers `CQE_SKIP` ops whose wait is over (the order queue is by submit time).
    pub fn expire(&mut self, now: Instant, out: &mut dyn FnMut(UringOutput)) {
        let wait = self.limits.skip_wait;
        let mut keep = VecDeque::with_capacity(self.order.len());
        while let Some(id) = self.order.pop_front() {
            let Some(w) = self.waiting.get(&id) else {
                continue; // completed
            };
            if now.duration_since(w.since) < wait {
                keep.push_back(id);
                // Younger ones follow; but skip ops may sit behind long-waiting normal ops.
                continue;
            }
            if w.rec.op.flags & VIGIL_UOP_F_CQE_SKIP != 0 {
                if let Some(w) = self.waiting.remove(&id) {
                    self.emit_unjoined(w, out);
                }
            } else {
                keep.push_back(id);
            }
        }
        self.order = keep;
    }

    /// Delivers everything still waiting (the reader is stopping).
    pub fn flush(&mut self, out: &mut dyn FnMut(UringOutput)) {
        while let Some(id) = self.order.pop_front() {
            if let Some(w) = self.waiting.remove(&id) {
                self.emit_unjoined(w, out);
            }
        }
    }
}

/// `/proc/PID/fd/FD` of the op's fd when it still names the same inode (a fallback when the
/// kept path was evicted).
fn proc_fd_path(tgid: u32, s: &SubmitRec, obj: &Path) -> Option<Vec<u8>> {
    use std::os::unix::fs::MetadataExt;
    if s.op.fd < 0 || s.op.flags & VIGIL_UOP_F_FIXED_FILE != 0 {
        return None;
    }
    let link = format!("/proc/{tgid}/fd/{}", s.op.fd);
    let m = std::fs::metadata(&link).ok()?;
    if m.ino() != obj.ino || super::policy::kernel_dev(m.dev()) != obj.dev {
        return None;
    }
    Some(
        std::fs::read_link(&link)
            .ok()?
            .into_os_string()
            .into_encoded_bytes(),
    )
}

#[cfg(test)]
mod tests;
