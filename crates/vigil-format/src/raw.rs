//! What the kernel side captures for one syscall, io_uring op or user message, before any
//! formatting. The daemon decodes BPF events into [`RawEvent`]; replay reads them from a trace
//! (JSON lines, docs/replay-trace.md); [`crate::build_event`] turns one into audit records.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Version of the replay trace format (docs/replay-trace.md).
pub const TRACE_VERSION: u32 = 1;

/// Arbitrary bytes. In JSON: a string when the bytes are valid UTF-8, else `{"hex": "..."}`.
#[derive(Clone, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Bytes(pub Vec<u8>);

impl Bytes {
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b{:?}", String::from_utf8_lossy(&self.0))
    }
}

impl From<&[u8]> for Bytes {
    fn from(b: &[u8]) -> Bytes {
        Bytes(b.to_vec())
    }
}

impl From<&str> for Bytes {
    fn from(s: &str) -> Bytes {
        Bytes(s.as_bytes().to_vec())
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Bytes {
        Bytes(v)
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        if let Ok(text) = std::str::from_utf8(&self.0) {
            s.serialize_str(text)
        } else {
            let mut hex = Vec::with_capacity(self.0.len() * 2);
            crate::escape::push_hex_bytes(&mut hex, &self.0);
            let mut m = s.serialize_map(Some(1))?;
            m.serialize_entry("hex", std::str::from_utf8(&hex).unwrap_or_default())?;
            m.end()
        }
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Bytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or {\"hex\": \"...\"}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Bytes, E> {
                Ok(Bytes(v.as_bytes().to_vec()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Bytes, A::Error> {
                let mut out = None;
                while let Some(k) = map.next_key::<String>()? {
                    if k != "hex" || out.is_some() {
                        return Err(de::Error::custom(format!(
                            "unexpected key {k:?} in bytes object"
                        )));
                    }
                    let h: String = map.next_value()?;
                    out = Some(crate::escape::decode_hex(h.as_bytes()).ok_or_else(|| {
                        de::Error::custom("\"hex\" is not an even-length hex string")
                    })?);
                }
                out.map(Bytes)
                    .ok_or_else(|| de::Error::custom("bytes object needs \"hex\""))
            }
        }
        d.deserialize_any(V)
    }
}

/// What produced the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RawKind {
    /// A syscall (SYSCALL record).
    #[default]
    Syscall,
    /// An io_uring operation (URINGOP record).
    Uring,
    /// A user-space message (`vigil ctl -m`, a USER record).
    User,
}

/// The task behind the event. For io_uring: the ring owner's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct RawTask {
    /// Thread group id (what audit prints as `pid=`).
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    pub ppid: u32,
    pub uid: u32,
    pub euid: u32,
    pub suid: u32,
    pub fsuid: u32,
    pub gid: u32,
    pub egid: u32,
    pub sgid: u32,
    pub fsgid: u32,
    /// Login uid; `u32::MAX` (4294967295) when unset.
    pub auid: u32,
    /// Session id; `u32::MAX` when unset.
    pub ses: u32,
    /// Terminal name (`pts0`); `None` prints `(none)`.
    pub tty: Option<String>,
    pub comm: Bytes,
    /// Executable path; `None` prints `exe=(null)`.
    pub exe: Option<Bytes>,
    /// LSM subject label; printed as `subj=` only when present.
    pub subj: Option<Bytes>,
    /// Audit container id; `None` when the task is in no container.
    pub contid: Option<u64>,
    /// Execution domain (`task->personality`), for `-F pers=`; not printed.
    #[serde(skip_serializing_if = "is_zero")]
    pub pers: u32,
    /// Supplementary groups, when captured (`gid=`/`egid=` rules also match these); not
    /// printed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<u32>,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde passes a reference
fn is_zero<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// `nametype=` of a PATH record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NameType {
    #[default]
    Normal,
    Parent,
    Create,
    Delete,
    Unknown,
}

impl NameType {
    pub fn as_str(self) -> &'static str {
        match self {
            NameType::Normal => "NORMAL",
            NameType::Parent => "PARENT",
            NameType::Create => "CREATE",
            NameType::Delete => "DELETE",
            NameType::Unknown => "UNKNOWN",
        }
    }
}

/// File capabilities of a PATH item (`cap_fp=` ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct RawCaps {
    pub fp: u64,
    pub fi: u64,
    pub fe: u32,
    pub fver: u32,
    pub frootid: i64,
}

/// Device number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct DevNum {
    pub major: u32,
    pub minor: u32,
}

/// One object the event touched (a PATH record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct RawPath {
    /// Name as the kernel resolved it; `None` prints `name=(null)`.
    pub name: Option<Bytes>,
    /// `None` when the object was not found: inode..rdev are then left out, as the kernel does.
    pub inode: Option<u64>,
    pub dev: DevNum,
    pub mode: u32,
    pub ouid: u32,
    pub ogid: u32,
    pub rdev: DevNum,
    pub nametype: NameType,
    /// LSM object label (`obj=`), when present.
    pub obj: Option<Bytes>,
    /// File capabilities; all zero when `None`.
    pub caps: Option<RawCaps>,
    /// Filesystem magic (`statfs.f_type`) of the object, for `-F fstype=`; 0 unknown; not
    /// printed.
    #[serde(skip_serializing_if = "is_zero")]
    pub fstype: u32,
}

/// A target process (`OBJ_PID` record, e.g. of kill).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct RawObjPid {
    pub pid: u32,
    pub auid: u32,
    pub uid: u32,
    pub ses: u32,
    pub obj: Option<Bytes>,
    pub comm: Bytes,
}

/// Where an io_uring op ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum UringCtx {
    /// Inside `io_uring_enter` of the submitting task.
    #[default]
    Inline,
    /// By the ring's SQPOLL thread.
    Sqpoll,
    /// By an io-wq worker.
    Iowq,
}

impl UringCtx {
    pub fn as_str(self) -> &'static str {
        match self {
            UringCtx::Inline => "inline",
            UringCtx::Sqpoll => "sqpoll",
            UringCtx::Iowq => "iowq",
        }
    }
}

/// Credentials borrowed through a registered personality.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct RawCreds {
    /// Personality id named by the SQE.
    pub id: u32,
    pub uid: u32,
    pub euid: u32,
    pub suid: u32,
    pub fsuid: u32,
    pub gid: u32,
    pub egid: u32,
    pub sgid: u32,
    pub fsgid: u32,
}

impl RawCreds {
    /// An op that names a personality runs with the registered credentials, and the kernel's
    /// io_uring filter judges it with them: they replace the task's ids in the filter's view
    /// (the record keeps the owner's ids too).
    pub fn apply_to(&self, t: &mut vigil_rules::input::TaskInput) {
        (t.uid, t.euid, t.suid, t.fsuid) = (self.uid, self.euid, self.suid, self.fsuid);
        (t.gid, t.egid, t.sgid, t.fsgid) = (self.gid, self.egid, self.sgid, self.fsgid);
    }
}

/// io_uring details of a [`RawKind::Uring`] event (the opcode is [`RawEvent::nr`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct RawUring {
    /// Ring identity (stable for the ring's life; the kernel's ctx address or a vigil id).
    pub ring: u64,
    pub ctx: UringCtx,
    /// Set when the SQE used a registered personality.
    pub personality: Option<RawCreds>,
}

/// A user-space message ([`RawKind::User`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct RawUserMsg {
    /// Record type (1005 USER, 1100-1199, 2100-2999).
    pub rtype: u32,
    pub text: Bytes,
}

/// One kernel-level event (one trace line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct RawEvent {
    /// Realtime timestamp, nanoseconds since the epoch.
    pub ts_ns: u64,
    pub kind: RawKind,
    /// `AUDIT_ARCH_*` (0xc000003e for x86_64); 0 for io_uring and user messages.
    pub arch: u32,
    /// Syscall number, or io_uring opcode.
    pub nr: u32,
    pub args: [u64; 4],
    /// Syscall return value or io_uring `cqe->res`.
    pub exit: i64,
    pub task: RawTask,
    pub cwd: Option<Bytes>,
    pub paths: Vec<RawPath>,
    /// execve argument vector, when the event is an execve.
    pub argv: Option<Vec<Bytes>>,
    /// Raw socket address bytes (SOCKADDR record).
    pub sockaddr: Option<Bytes>,
    pub obj_pids: Vec<RawObjPid>,
    /// `/proc/PID/cmdline` bytes (NUL-separated), at most 128 bytes as the kernel keeps.
    pub proctitle: Option<Bytes>,
    pub uring: Option<RawUring>,
    pub user: Option<RawUserMsg>,
    /// Keys of the rule that matched (several keys of one rule are joined by 0x01 in text).
    pub keys: Vec<Bytes>,
    /// `openat2` only: `open_how.flags` (what `perm=` reads of it); 0 when not captured.
    #[serde(skip_serializing_if = "is_zero")]
    pub openat2_flags: u64,
}

impl RawEvent {
    /// The kernel's success rule: a return value in -4095..=-1 is an error.
    pub fn success(&self) -> bool {
        !(-4095..=-1).contains(&self.exit)
    }
}
