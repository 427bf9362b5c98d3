//! PATH items in the kernel's layout for the syscalls that look their last component up from
//! the parent directory (`filename_parentat`/`filename_create`: unlink, rmdir, mkdir, mknod,
//! rename, link, symlink, creat). The kernel records a `PARENT` item for each such directory,
//! then a `DELETE`/`CREATE` item for the child only when the child was found or made; its
//! `PARENT` name is the directory part of the name as passed (`dir/`), or the working
//! directory's path when the name has none. The exit hook cannot reach the directories, so
//! vigil's PARENT items carry the name and no inode (docs/design/kernel-differences.md, D3).

use vigil_format::raw::NameType;
use vigil_format::{Bytes, RawPath};

const ENOENT: i64 = 2;
const ENOTDIR: i64 = 20;
const EEXIST: i64 = 17;

/// The kernel's `parent_len`: the length of the directory part of `path`, its last `/`
/// included, trailing slashes disregarded; 0 when there is none.
pub fn parent_len(path: &[u8]) -> usize {
    if path.is_empty() {
        return 0;
    }
    let mut p = path.len() - 1;
    while path[p] == b'/' && p > 0 {
        p -= 1;
    }
    while path[p] != b'/' && p > 0 {
        p -= 1;
    }
    if path[p] == b'/' {
        p += 1;
    }
    p
}

/// The name the kernel writes for the PARENT item of `name`: its directory part, or `cwd`.
pub fn parent_name(name: &[u8], cwd: Option<&[u8]>) -> Option<Vec<u8>> {
    match parent_len(name) {
        0 => cwd.map(<[u8]>::to_vec),
        n => Some(name[..n].to_vec()),
    }
}

fn parent_of(p: &RawPath, cwd: Option<&[u8]>) -> RawPath {
    RawPath {
        name: p
            .name
            .as_ref()
            .and_then(|n| parent_name(&n.0, cwd))
            .map(Bytes),
        nametype: NameType::Parent,
        ..RawPath::default()
    }
}

/// How a syscall's names are looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Every name looked up whole (the items as captured).
    Whole,
    /// One name from its parent: unlink, rmdir, mkdir, mknod.
    Parent,
    /// creat: one name from its parent, the child made when the call succeeds.
    Creat,
    /// rename: two names from their parents.
    Rename,
    /// link: the old name whole, the new one from its parent. (The kernel takes the new name
    /// before the old one, so its PARENT item comes first; so for symlink.)
    Link,
    /// symlink: the target is never looked up, the link from its parent.
    Symlink,
}

pub fn shape(syscall: &str) -> Shape {
    match syscall {
        "unlink" | "unlinkat" | "rmdir" | "mkdir" | "mkdirat" | "mknod" | "mknodat" => {
            Shape::Parent
        }
        "creat" => Shape::Creat,
        "rename" | "renameat" | "renameat2" => Shape::Rename,
        "link" | "linkat" => Shape::Link,
        "symlink" | "symlinkat" => Shape::Symlink,
        _ => Shape::Whole,
    }
}

/// Whether a call of this shape that returned `ret` recorded no child (its last component
/// was not found, or was there already where it was to be made).
pub fn no_child(shape: Shape, ret: i64) -> bool {
    let lookup = ret == -ENOENT || ret == -ENOTDIR;
    match shape {
        Shape::Whole => false,
        Shape::Creat => ret < 0,
        Shape::Parent | Shape::Rename | Shape::Symlink | Shape::Link => lookup || ret == -EEXIST,
    }
}

/// `items` (one per captured name, in argument order, nametypes set) in the kernel's layout.
pub fn kernel_layout(
    shape: Shape,
    ret: i64,
    cwd: Option<&[u8]>,
    items: Vec<RawPath>,
) -> Vec<RawPath> {
    let lookup_failed = ret == -ENOENT || ret == -ENOTDIR;
    let children = !no_child(shape, ret);
    match (shape, items.as_slice()) {
        (Shape::Parent, [one]) => {
            let mut out = vec![parent_of(one, cwd)];
            if children {
                out.push(one.clone());
            }
            out
        }
        (Shape::Creat, [one]) if children => vec![parent_of(one, cwd), one.clone()],
        (Shape::Rename, [old, new]) => {
            // The new name is taken first, so its PARENT item comes first.
            let mut out = vec![parent_of(new, cwd), parent_of(old, cwd)];
            if children {
                out.push(old.clone());
                out.push(new.clone());
            }
            out
        }
        (Shape::Link, [old, new]) => {
            // The new name is taken first (its PARENT comes first); a missing old name ends
            // the call before the new one is looked up.
            if lookup_failed {
                return vec![old.clone()];
            }
            let mut out = vec![parent_of(new, cwd), old.clone()];
            if children {
                out.push(new.clone());
            }
            out
        }
        (Shape::Symlink, [target, link]) => {
            // The target is a string stored in the link, never a name looked up.
            let mut t = target.clone();
            t.nametype = NameType::Unknown;
            let mut out = vec![parent_of(link, cwd), t];
            if children {
                out.push(link.clone());
            }
            out
        }
        _ => items,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(name: &str, nt: NameType) -> RawPath {
        RawPath {
            name: Some(Bytes::from(name)),
            nametype: nt,
            ..RawPath::default()
        }
    }

    fn names(v: &[RawPath]) -> Vec<(String, NameType)> {
        v.iter()
            .map(|p| {
                let n = p
                    .name
                    .as_ref()
                    .map(|b| String::from_utf8_lossy(&b.0).into_owned());
                (n.unwrap_or_default(), p.nametype)
            })
            .collect()
    }

    #[test]
    fn parent_names_as_the_kernel_cuts_them() {
        let cwd = Some(&b"/home/a"[..]);
        assert_eq!(parent_name(b"wdir/inside", cwd), Some(b"wdir/".to_vec()));
        assert_eq!(parent_name(b"/tmp/x/f", cwd), Some(b"/tmp/x/".to_vec()));
        assert_eq!(parent_name(b"f", cwd), Some(b"/home/a".to_vec()));
        assert_eq!(parent_name(b"sub/", cwd), Some(b"/home/a".to_vec()));
        assert_eq!(parent_name(b"/f", cwd), Some(b"/".to_vec()));
        assert_eq!(parent_name(b"a//b", cwd), Some(b"a//".to_vec()));
        assert_eq!(parent_name(b"f", None), None);
    }

    #[test]
    fn layouts() {
        use NameType::{Create, Delete, Normal, Parent, Unknown};
        let cwd = Some(&b"/d"[..]);
        let s = |a: &str, n| (a.to_string(), n);
        let unlink = kernel_layout(Shape::Parent, 0, cwd, vec![item("x/f", Delete)]);
        assert_eq!(names(&unlink), vec![s("x/", Parent), s("x/f", Delete)]);
        let missing = kernel_layout(Shape::Parent, -2, cwd, vec![item("f", Unknown)]);
        assert_eq!(names(&missing), vec![s("/d", Parent)]);
        let exists = kernel_layout(Shape::Parent, -17, cwd, vec![item("f", Create)]);
        assert_eq!(names(&exists), vec![s("/d", Parent)]);
        let rename = kernel_layout(
            Shape::Rename,
            0,
            cwd,
            vec![item("a", Delete), item("/e/b", Create)],
        );
        assert_eq!(
            names(&rename),
            vec![
                s("/e/", Parent),
                s("/d", Parent),
                s("a", Delete),
                s("/e/b", Create)
            ]
        );
        let sym = kernel_layout(
            Shape::Symlink,
            0,
            cwd,
            vec![item("t", Normal), item("l", Create)],
        );
        assert_eq!(
            names(&sym),
            vec![s("/d", Parent), s("t", Unknown), s("l", Create)]
        );
        let link = kernel_layout(
            Shape::Link,
            -2,
            cwd,
            vec![item("o", Unknown), item("n", Create)],
        );
        assert_eq!(names(&link), vec![s("o", Unknown)]);
        let failed_creat = kernel_layout(Shape::Creat, -13, cwd, vec![item("c", Create)]);
        assert_eq!(names(&failed_creat), vec![s("c", Create)]);
        let whole = kernel_layout(Shape::Whole, -2, cwd, vec![item("w", Unknown)]);
        assert_eq!(names(&whole), vec![s("w", Unknown)]);
    }
}
