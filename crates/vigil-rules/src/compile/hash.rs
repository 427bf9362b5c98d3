//! Hashing: FNV-1a for string index keys (cheap to compute in BPF too) and a fast hasher for
//! the user-space index map.

use std::hash::{BuildHasher, Hasher};

/// FNV-1a, 64 bit. Index keys of string fields (exe, dir, path) are this hash of the bytes;
/// a collision only adds a candidate, whose program compares the string itself.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A directory as rules name it, without trailing slashes (`/` stays `/`).
pub fn trim_dir(dir: &[u8]) -> &[u8] {
    let mut end = dir.len();
    while end > 1 && dir[end - 1] == b'/' {
        end -= 1;
    }
    &dir[..end]
}

/// Every directory `path` is in or is, outermost first: `/`, `/a`, `/a/b` for `/a/b`.
/// Only component boundaries count (`/ab` is not below `/a`).
pub fn ancestors(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    let path = trim_dir(path);
    let root = path.first() == Some(&b'/');
    let cuts = path
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(_, b)| **b == b'/')
        .map(|(i, _)| i)
        .chain(std::iter::once(path.len()));
    let first: Option<&[u8]> = if root && path.len() > 1 {
        Some(&path[..1])
    } else {
        None
    };
    first
        .into_iter()
        .chain(cuts.map(move |i| &path[..i]))
        .filter(|p| !p.is_empty())
}

/// Hasher for [`super::layout::IndexKey`]: keys are already well-spread integers.
#[derive(Clone, Copy, Default, Debug)]
pub struct FastHash;

impl BuildHasher for FastHash {
    type Hasher = FastHasher;
    fn build_hasher(&self) -> FastHasher {
        FastHasher(0)
    }
}

#[derive(Clone, Copy, Debug)]
pub struct FastHasher(u64);

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        // Final avalanche (splitmix64) so bucket bits depend on every input bit.
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u8(*b);
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }

    fn write_u16(&mut self, i: u16) {
        self.write_u64(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_known_values() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn ancestors_stop_at_components() {
        let a: Vec<&[u8]> = ancestors(b"/etc/ssh/sshd_config").collect();
        assert_eq!(
            a,
            vec![
                &b"/"[..],
                &b"/etc"[..],
                &b"/etc/ssh"[..],
                &b"/etc/ssh/sshd_config"[..]
            ]
        );
        let r: Vec<&[u8]> = ancestors(b"/").collect();
        assert_eq!(r, vec![&b"/"[..]]);
        let t: Vec<&[u8]> = ancestors(b"/a/").collect();
        assert_eq!(t, vec![&b"/"[..], &b"/a"[..]]);
    }

    #[test]
    fn trim_keeps_root() {
        assert_eq!(trim_dir(b"/etc//"), b"/etc");
        assert_eq!(trim_dir(b"/"), b"/");
        assert_eq!(trim_dir(b"///"), b"/");
    }
}
