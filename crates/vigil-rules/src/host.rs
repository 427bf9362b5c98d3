//! What a rule means can depend on the host, as it does for auditctl: user and group names are
//! looked up in this host's databases, `-w PATH` becomes a directory watch when PATH is a
//! directory here, the kernel refuses watches whose parent directory is missing, and `b64`/`b32`
//! follow this machine. Parsing goes through [`Host`] so tests can pin all of that down.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::CString;

/// What is at a path (following symlinks, like `stat(2)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    Dir,
    /// Exists and is not a directory.
    Other,
    Missing,
}

/// The host facts rule parsing needs.
pub trait Host {
    /// `getpwnam(name)->pw_uid`.
    fn uid_of(&self, name: &str) -> Option<u32>;
    /// `getgrnam(name)->gr_gid`.
    fn gid_of(&self, name: &str) -> Option<u32>;
    /// What `stat(path)` finds.
    fn path_kind(&self, path: &str) -> PathKind;
    /// The machine's `AUDIT_ARCH_*` value (what `b64` means).
    fn native_arch(&self) -> u32;
}

/// The real host: libc user/group lookups, the real filesystem, the build machine's arch.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemHost;

/// Calls a reentrant `get*nam_r` with a growing buffer; `call` returns the C result code and
/// whether an entry was found.
fn lookup_r(mut call: impl FnMut(&mut [libc::c_char]) -> (libc::c_int, bool)) -> bool {
    let mut size = 1024;
    loop {
        let mut buf: Vec<libc::c_char> = vec![0; size];
        let (rc, found) = call(&mut buf);
        if rc == libc::ERANGE && size < (1 << 20) {
            size *= 4;
            continue;
        }
        return rc == 0 && found;
    }
}

impl Host for SystemHost {
    fn uid_of(&self, name: &str) -> Option<u32> {
        let cname = CString::new(name).ok()?;
        // SAFETY: `pwd` and `buf` outlive the call; getpwnam_r writes only into them and sets
        // `result` to null or to `&pwd`.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut uid = None;
        let found = lookup_r(|buf| {
            let mut result: *mut libc::passwd = std::ptr::null_mut();
            let rc = unsafe {
                libc::getpwnam_r(
                    cname.as_ptr(),
                    &raw mut pwd,
                    buf.as_mut_ptr(),
                    buf.len(),
                    &raw mut result,
                )
            };
            if !result.is_null() {
                uid = Some(pwd.pw_uid);
            }
            (rc, !result.is_null())
        });
        if found {
            uid
        } else {
            None
        }
    }

    fn gid_of(&self, name: &str) -> Option<u32> {
        let cname = CString::new(name).ok()?;
        // SAFETY: as in `uid_of`, for getgrnam_r.
        let mut grp: libc::group = unsafe { std::mem::zeroed() };
        let mut gid = None;
        let found = lookup_r(|buf| {
            let mut result: *mut libc::group = std::ptr::null_mut();
            let rc = unsafe {
                libc::getgrnam_r(
                    cname.as_ptr(),
                    &raw mut grp,
                    buf.as_mut_ptr(),
                    buf.len(),
                    &raw mut result,
                )
            };
            if !result.is_null() {
                gid = Some(grp.gr_gid);
            }
            (rc, !result.is_null())
        });
        if found {
            gid
        } else {
            None
        }
    }

    fn path_kind(&self, path: &str) -> PathKind {
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => PathKind::Dir,
            Ok(_) => PathKind::Other,
            Err(_) => PathKind::Missing,
        }
    }

    fn native_arch(&self) -> u32 {
        crate::tables::native_arch()
    }
}

/// A host made of fixed facts, for tests and for checking rules meant for another machine.
#[derive(Debug, Clone, Default)]
pub struct FakeHost {
    pub users: BTreeMap<String, u32>,
    pub groups: BTreeMap<String, u32>,
    pub dirs: BTreeSet<String>,
    pub files: BTreeSet<String>,
    /// `AUDIT_ARCH_*`; 0 means x86_64.
    pub arch: u32,
}

impl FakeHost {
    /// root/0 user and group, `/` and `/etc` directories, x86_64.
    pub fn new() -> Self {
        let mut h = FakeHost::default();
        h.users.insert("root".into(), 0);
        h.groups.insert("root".into(), 0);
        h.dirs.insert("/".into());
        h.dirs.insert("/etc".into());
        h
    }
}

impl Host for FakeHost {
    fn uid_of(&self, name: &str) -> Option<u32> {
        self.users.get(name).copied()
    }
    fn gid_of(&self, name: &str) -> Option<u32> {
        self.groups.get(name).copied()
    }
    fn path_kind(&self, path: &str) -> PathKind {
        // stat("/tmp/") is stat("/tmp").
        let trimmed = path.trim_end_matches('/');
        let path = if trimmed.is_empty() { "/" } else { trimmed };
        if self.dirs.contains(path) {
            PathKind::Dir
        } else if self.files.contains(path) {
            PathKind::Other
        } else {
            PathKind::Missing
        }
    }
    fn native_arch(&self) -> u32 {
        if self.arch == 0 {
            crate::tables::AUDIT_ARCH_X86_64
        } else {
            self.arch
        }
    }
}

/// The directory the kernel resolves to attach a watch on `path` (`/etc` for `/etc/passwd`).
pub(crate) fn parent_dir(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_host_knows_root() {
        let h = SystemHost;
        assert_eq!(h.uid_of("root"), Some(0));
        assert_eq!(h.gid_of("root"), Some(0));
        assert_eq!(h.uid_of("no-such-user-vigil-test"), None);
        assert_eq!(h.uid_of("bad\0name"), None);
        assert_eq!(h.path_kind("/"), PathKind::Dir);
        assert_eq!(h.path_kind("/no/such/vigil/path"), PathKind::Missing);
    }

    #[test]
    fn parents() {
        assert_eq!(parent_dir("/etc/passwd"), "/etc");
        assert_eq!(parent_dir("/etc"), "/");
        assert_eq!(parent_dir("/a/b/c"), "/a/b");
    }
}
