//! The paths rules name (`path=`/`-w FILE`, `dir=`/`-w DIR`, `exe=`), resolved to the kernel
//! objects BPF compares, as the kernel's own audit watches, trees and exe marks do: the
//! object's (device, inode), and its parent directory's (device, inode) with the hash of its
//! last component. The parent and name let BPF recognise a file created or replaced after
//! the rules were loaded (the kernel follows those through an fsnotify mark on the parent);
//! the inode catches the object under another name (a hard link).

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;

use vigil_rules::compile::hash::{fnv1a, trim_dir};
use vigil_rules::compile::layout::{CompiledSet, INSN_STR};

/// Kernel `AUDIT_*` numbers of the path-valued fields.
pub const FIELD_WATCH: u16 = 105;
pub const FIELD_DIR: u16 = 107;
pub const FIELD_EXE: u16 = 112;

/// A kernel object: `sb->s_dev` (major << 20 | minor) and the inode number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord, Hash)]
pub struct FileId {
    pub dev: u32,
    pub ino: u64,
}

/// What BPF knows of one path operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PathInfo {
    /// The object, when it exists.
    pub obj: Option<FileId>,
    /// Its parent directory, when that exists.
    pub parent: Option<FileId>,
    /// FNV-1a 64 of the last component.
    pub base_hash: u64,
    /// FNV-1a 64 of the path as the rule gives it.
    pub full_hash: u64,
    /// It ends with `/`.
    pub slash: bool,
}

/// The kernel's `dev_t` of a `stat` device number.
pub fn kernel_dev(st_dev: u64) -> u32 {
    let major = libc::major(st_dev);
    let minor = libc::minor(st_dev);
    (major << 20) | (minor & 0xf_ffff)
}

fn file_id(p: &std::path::Path) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(p).ok()?;
    Some(FileId {
        dev: kernel_dev(m.dev()),
        ino: m.ino(),
    })
}

/// The last component of `path` (after trimming trailing slashes).
pub fn base_name(path: &[u8]) -> &[u8] {
    let t = trim_dir(path);
    match t.iter().rposition(|&b| b == b'/') {
        Some(i) if t.len() > 1 => &t[i + 1..],
        _ => t,
    }
}

/// Resolves one path (symbolic links followed, as the kernel resolves a rule's path).
pub fn resolve(path: &[u8]) -> PathInfo {
    let t = trim_dir(path);
    let p = std::path::Path::new(std::ffi::OsStr::from_bytes(t));
    let parent = p.parent().and_then(file_id);
    PathInfo {
        obj: file_id(p),
        parent,
        base_hash: fnv1a(base_name(t)),
        full_hash: fnv1a(path),
        slash: path.len() > 1 && path.ends_with(b"/"),
    }
}

/// The string ids of `set` that path-valued conditions use, with their field.
pub fn path_operands(set: &CompiledSet) -> BTreeMap<u32, u16> {
    set.insns
        .iter()
        .filter(|i| {
            i.flags & INSN_STR != 0 && matches!(i.field, FIELD_WATCH | FIELD_DIR | FIELD_EXE)
        })
        .map(|i| (i.arg, i.field))
        .collect()
}

/// Every path operand of `set`, resolved now.
pub fn resolve_all(set: &CompiledSet) -> BTreeMap<u32, PathInfo> {
    path_operands(set)
        .into_keys()
        .map(|id| {
            let s = set.strings.get(id as usize).map_or(&[][..], Vec::as_slice);
            (id, resolve(s))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn names_and_hashes() {
        assert_eq!(base_name(b"/etc/passwd"), b"passwd");
        assert_eq!(base_name(b"/etc/sudoers.d/"), b"sudoers.d");
        assert_eq!(base_name(b"/"), b"/");
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, "x").unwrap();
        let r = resolve(f.as_os_str().as_bytes());
        let obj = r.obj.expect("exists");
        assert_eq!(obj.ino, std::fs::metadata(&f).unwrap().ino());
        assert_eq!(
            r.parent.unwrap().ino,
            std::fs::metadata(dir.path()).unwrap().ino()
        );
        assert_eq!(r.base_hash, fnv1a(b"f"));
        let gone = resolve(dir.path().join("nope").as_os_str().as_bytes());
        assert_eq!(gone.obj, None);
        assert!(gone.parent.is_some());
    }
}
