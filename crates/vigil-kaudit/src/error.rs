//! One error type for the crate: what failed, and the kernel's errno when it refused.

use std::io;
use std::time::Duration;

/// Errors from the audit netlink interface.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A socket call failed (`op` names it: "socket", "bind", "sendto", ...).
    #[error("audit netlink {op}: {source}")]
    Io {
        op: &'static str,
        #[source]
        source: io::Error,
    },
    /// The kernel answered a request with `NLMSG_ERROR` and a negative errno.
    #[error("kernel refused {request}: {} (errno {errno}){}", errno_text(*.errno), hint(request, *.errno))]
    Kernel { request: &'static str, errno: i32 },
    /// A message from the kernel did not have the expected shape.
    #[error("malformed {what} from the kernel: {detail}")]
    Malformed { what: &'static str, detail: String },
    /// No complete answer arrived in time.
    #[error("timed out after {after:?} waiting for the answer to {request}")]
    Timeout {
        request: &'static str,
        after: Duration,
    },
    /// The socket buffer overflowed; the kernel dropped messages meant for us.
    #[error("audit netlink receive buffer overrun: records were lost")]
    Overrun,
    /// A rule cannot be expressed as a kernel `audit_rule_data` (`origin` is `file:line` or empty).
    #[error("{origin}{}cannot encode rule for the kernel: {reason}", if origin.is_empty() { "" } else { ": " })]
    Encode { origin: String, reason: String },
    /// A kernel rule has no meaning in vigil's rule model.
    #[error("cannot decode kernel rule: {reason}")]
    Decode { reason: String },
    /// A request argument is out of the range the kernel accepts.
    #[error("invalid argument: {0}")]
    Invalid(String),
}

impl Error {
    /// The kernel's errno when it refused the request.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Kernel { errno, .. } => Some(*errno),
            Error::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }

    pub(crate) fn io(op: &'static str) -> Error {
        Error::Io {
            op,
            source: io::Error::last_os_error(),
        }
    }

    pub(crate) fn malformed(what: &'static str, detail: impl Into<String>) -> Error {
        Error::Malformed {
            what,
            detail: detail.into(),
        }
    }
}

/// `strerror` text without std's " (os error N)" suffix (the message gives the number).
pub(crate) fn errno_text(errno: i32) -> String {
    let text = io::Error::from_raw_os_error(errno).to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// The usual causes, so that the message says what to do.
fn hint(request: &str, errno: i32) -> &'static str {
    match (request, errno) {
        (_, libc::EPERM) => {
            ": needs CAP_AUDIT_CONTROL (root), or the audit configuration is locked (enabled=2)"
        }
        ("AUDIT_ADD_RULE", libc::EEXIST) => ": an identical rule is already loaded",
        ("AUDIT_ADD_RULE", libc::ENOENT) => ": a directory named by dir= does not exist",
        ("AUDIT_ADD_RULE", libc::EINVAL) => {
            ": the kernel does not accept this field, operator or value on this list"
        }
        ("AUDIT_DEL_RULE", libc::ENOENT) => ": no such rule is loaded",
        ("AUDIT_SET", libc::EEXIST) => ": another process is the audit daemon",
        ("AUDIT_SET", libc::EACCES) => ": only the registered audit daemon may unregister",
        _ => "",
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
