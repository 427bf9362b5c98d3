//! Name resolution for ENRICHED text and JSON: users and groups (through libc, cached),
//! architectures, syscalls and io_uring ops (vigil-rules' tables), socket addresses.

use std::collections::HashMap;
use std::fmt::Write as _;

use vigil_rules::tables;

/// Turns ids into names. Implementations cache: writers call these for every uid field.
pub trait Resolver {
    /// User name of `uid`, `None` when there is none.
    fn user(&mut self, uid: u32) -> Option<&str>;
    /// Group name of `gid`, `None` when there is none.
    fn group(&mut self, gid: u32) -> Option<&str>;
    /// Syscall name for an `AUDIT_ARCH_*` value and number.
    fn syscall(&self, arch: u32, nr: u32) -> Option<&'static str> {
        syscall_name(arch, nr)
    }
    /// io_uring op name.
    fn uring_op(&self, op: u32) -> Option<&'static str> {
        tables::uring_op_name(op)
    }
}

/// Resolves nothing (ids print as `unknown(N)`): deterministic output for tests.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoResolver;

impl Resolver for NoResolver {
    fn user(&mut self, _uid: u32) -> Option<&str> {
        None
    }
    fn group(&mut self, _gid: u32) -> Option<&str> {
        None
    }
}

/// A fixed table of names (tests, replay with a recorded passwd).
#[derive(Debug, Default, Clone)]
pub struct MapResolver {
    pub users: HashMap<u32, String>,
    pub groups: HashMap<u32, String>,
}

impl Resolver for MapResolver {
    fn user(&mut self, uid: u32) -> Option<&str> {
        self.users.get(&uid).map(String::as_str)
    }
    fn group(&mut self, gid: u32) -> Option<&str> {
        self.groups.get(&gid).map(String::as_str)
    }
}

/// Hasher for small integer keys (uids, gids): one multiply instead of `SipHash`.
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = (u64::from(n) ^ self.0).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type IdMap<V> = HashMap<u32, V, std::hash::BuildHasherDefault<IdHasher>>;

/// The system's passwd/group databases via `getpwuid_r`/`getgrgid_r`, cached until
/// [`SystemResolver::clear`] (call it on reload: names can change).
#[derive(Debug, Default)]
pub struct SystemResolver {
    users: IdMap<Option<String>>,
    groups: IdMap<Option<String>>,
}

impl SystemResolver {
    pub fn new() -> SystemResolver {
        SystemResolver::default()
    }

    pub fn clear(&mut self) {
        self.users.clear();
        self.groups.clear();
    }
}

fn lookup_user(uid: u32) -> Option<String> {
    lookup_name(uid, libc::getpwuid_r, |pw: &libc::passwd| pw.pw_name)
}

fn lookup_group(gid: u32) -> Option<String> {
    lookup_name(gid, libc::getgrgid_r, |gr: &libc::group| gr.gr_name)
}

/// The C signature `getpwuid_r` and `getgrgid_r` share, over their entry type.
type ReentrantLookup<E> =
    unsafe extern "C" fn(u32, *mut E, *mut libc::c_char, libc::size_t, *mut *mut E) -> libc::c_int;

/// The name an NSS entry gives `id`, through a reentrant lookup (`getpwuid_r` with a
/// `passwd`, `getgrgid_r` with a `group`); the buffer grows while the entry does not fit.
fn lookup_name<E>(
    id: u32,
    lookup: ReentrantLookup<E>,
    name_of: fn(&E) -> *mut libc::c_char,
) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 4096];
    // SAFETY: E is `passwd` or `group`, for which all-zero is valid (null pointers, zero
    // ids); the entry is only read after the lookup reports success, when its pointers
    // point into `buf`.
    let mut entry: E = unsafe { std::mem::zeroed() };
    let mut result: *mut E = std::ptr::null_mut();
    loop {
        // SAFETY: every pointer is valid for the length passed; the lookup writes only there.
        let rc = unsafe {
            lookup(
                id,
                &raw mut entry,
                buf.as_mut_ptr(),
                buf.len(),
                &raw mut result,
            )
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        let name = name_of(&entry);
        if rc != 0 || result.is_null() || name.is_null() {
            return None;
        }
        // SAFETY: on success the name is a NUL-terminated string inside `buf`.
        let name = unsafe { std::ffi::CStr::from_ptr(name) };
        return Some(name.to_string_lossy().into_owned());
    }
}

impl Resolver for SystemResolver {
    fn user(&mut self, uid: u32) -> Option<&str> {
        self.users
            .entry(uid)
            .or_insert_with(|| lookup_user(uid))
            .as_deref()
    }
    fn group(&mut self, gid: u32) -> Option<&str> {
        self.groups
            .entry(gid)
            .or_insert_with(|| lookup_group(gid))
            .as_deref()
    }
}

/// `AUDIT_ARCH_X86_64`.
pub const AUDIT_ARCH_X86_64: u32 = tables::AUDIT_ARCH_X86_64;

/// Name of an `AUDIT_ARCH_*` value as auditd prints it (`x86_64`).
pub fn arch_name(arch: u32) -> Option<&'static str> {
    tables::machine_name(arch)
}

/// Syscall name for an `AUDIT_ARCH_*` value and number.
pub fn syscall_name(arch: u32, nr: u32) -> Option<&'static str> {
    tables::syscall_name(arch, nr)
}

/// Interprets a raw `sockaddr` as auditd's ENRICHED `SADDR={ ... }` text.
pub fn sockaddr_text(sa: &[u8]) -> String {
    let mut s = String::from("{ ");
    if sa.len() < 2 {
        s.push_str("unknown-family }");
        return s;
    }
    let fam = u16::from_ne_bytes([sa[0], sa[1]]);
    match fam {
        1 => {
            let path = &sa[2..];
            let abstract_ns = path.first() == Some(&0);
            let p = if abstract_ns { &path[1..] } else { path };
            let end = if abstract_ns {
                p.len()
            } else {
                p.iter().position(|&b| b == 0).unwrap_or(p.len())
            };
            let _ = write!(
                s,
                "saddr_fam=local path={}{} ",
                if abstract_ns { "@" } else { "" },
                sanitize(&p[..end])
            );
        }
        2 if sa.len() >= 8 => {
            let port = u16::from_be_bytes([sa[2], sa[3]]);
            let _ = write!(
                s,
                "saddr_fam=inet laddr={}.{}.{}.{} lport={port} ",
                sa[4], sa[5], sa[6], sa[7]
            );
        }
        10 if sa.len() >= 24 => {
            let port = u16::from_be_bytes([sa[2], sa[3]]);
            let mut a = [0u8; 16];
            a.copy_from_slice(&sa[8..24]);
            let _ = write!(
                s,
                "saddr_fam=inet6 laddr={} lport={port} ",
                std::net::Ipv6Addr::from(a)
            );
        }
        16 if sa.len() >= 12 => {
            let pid = u32::from_ne_bytes([sa[4], sa[5], sa[6], sa[7]]);
            let _ = write!(s, "saddr_fam=netlink nlnk-fam=16 nlnk-pid={pid} ");
        }
        _ => {
            let _ = write!(s, "saddr_fam={fam} ");
        }
    }
    s.push('}');
    s
}

/// Printable form of a name inside interpreted text: keeps 0x21-0x7e, replaces the rest.
fn sanitize(b: &[u8]) -> String {
    b.iter()
        .map(|&c| {
            if (0x21..=0x7e).contains(&c) {
                c as char
            } else {
                '?'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_resolves_and_tables_answer() {
        let mut r = SystemResolver::new();
        assert_eq!(r.user(0), Some("root"));
        assert_eq!(r.group(0), Some("root"));
        assert_eq!(r.user(3_999_999_999), None);
        assert_eq!(syscall_name(AUDIT_ARCH_X86_64, 257), Some("openat"));
        assert_eq!(syscall_name(AUDIT_ARCH_X86_64, 59), Some("execve"));
        assert_eq!(tables::uring_op_name(18), Some("openat"));
        assert_eq!(arch_name(AUDIT_ARCH_X86_64), Some("x86_64"));
    }

    #[test]
    fn sockaddr_interpretation() {
        let v4 = [2u8, 0, 0, 80, 127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            sockaddr_text(&v4),
            "{ saddr_fam=inet laddr=127.0.0.1 lport=80 }"
        );
        let mut un = vec![1u8, 0];
        un.extend_from_slice(b"/run/x.sock\0");
        assert_eq!(sockaddr_text(&un), "{ saddr_fam=local path=/run/x.sock }");
        assert_eq!(sockaddr_text(&[1]), "{ unknown-family }");
    }
}
