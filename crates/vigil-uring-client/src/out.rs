//! One JSON object per line on stdout: what was done, by whom, with what result.

use std::io::Write;

use serde_json::{Map, Value};

/// The identities of the calling thread, read fresh for every line (they change when the
/// client drops privileges).
#[derive(Debug, Clone, Copy)]
pub struct Identity {
    pub pid: u32,
    pub tid: u32,
    pub uid: u32,
    pub euid: u32,
    pub gid: u32,
    pub egid: u32,
}

impl Identity {
    pub fn current() -> Identity {
        // SAFETY: these calls have no preconditions and cannot fail.
        unsafe {
            Identity {
                pid: libc::getpid() as u32,
                tid: libc::gettid() as u32,
                uid: libc::getuid(),
                euid: libc::geteuid(),
                gid: libc::getgid(),
                egid: libc::getegid(),
            }
        }
    }
}

/// A JSON line under construction. `event` says what kind of line it is: `ring` (a ring
/// was set up), `op` (one SQE and its CQE), `cqe` (a completion not caused by our own SQE,
/// e.g. a `MSG_RING` delivery), `info`, `summary`.
#[derive(Debug)]
pub struct Line(Map<String, Value>);

impl Line {
    /// A line of kind `event` carrying the caller's identities.
    pub fn new(event: &str) -> Line {
        let id = Identity::current();
        let mut m = Map::new();
        m.insert("event".into(), event.into());
        m.insert("pid".into(), id.pid.into());
        m.insert("tid".into(), id.tid.into());
        m.insert("uid".into(), id.uid.into());
        m.insert("euid".into(), id.euid.into());
        m.insert("gid".into(), id.gid.into());
        m.insert("egid".into(), id.egid.into());
        Line(m)
    }

    /// Adds (or replaces) one field.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Line {
        self.0.insert(key.to_owned(), value.into());
        self
    }

    /// Adds `res` and, for a negative result, `errno` (the symbolic name).
    #[must_use]
    pub fn result(self, res: i32) -> Line {
        let line = self.with("res", res);
        if res < 0 {
            line.with("errno", errno_name(-res))
        } else {
            line.with("errno", Value::Null)
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// Writes the line to stdout and flushes, so a reader sees it at once even when the
    /// process is killed right after.
    pub fn print(self) {
        let text = Value::Object(self.0).to_string();
        let mut out = std::io::stdout().lock();
        // A closed stdout must not turn into a panic; the exit status still tells the story.
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }
}

/// Symbolic name of an errno value, as the tests and vigil's records spell it.
pub fn errno_name(errno: i32) -> String {
    let name = match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ENOSPC => "ENOSPC",
        libc::EROFS => "EROFS",
        libc::ENOTEMPTY => "ENOTEMPTY",
        libc::ENOSYS => "ENOSYS",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::ECONNRESET => "ECONNRESET",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::EINPROGRESS => "EINPROGRESS",
        libc::ECANCELED => "ECANCELED",
        libc::EOWNERDEAD => "EOWNERDEAD",
        _ => return format!("E{errno}"),
    };
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_names_are_symbolic_and_unknown_ones_numeric() {
        assert_eq!(errno_name(libc::EACCES), "EACCES");
        assert_eq!(errno_name(libc::ECONNREFUSED), "ECONNREFUSED");
        assert_eq!(errno_name(4000), "E4000");
    }

    #[test]
    fn result_sets_errno_only_for_failures() {
        let ok = Line::new("op").result(3);
        assert_eq!(ok.get("res"), Some(&Value::from(3)));
        assert_eq!(ok.get("errno"), Some(&Value::Null));
        let bad = Line::new("op").result(-libc::EPERM);
        assert_eq!(bad.get("errno"), Some(&Value::from("EPERM")));
        let id = Identity::current();
        assert_eq!(bad.get("pid"), Some(&Value::from(id.pid)));
    }
}
