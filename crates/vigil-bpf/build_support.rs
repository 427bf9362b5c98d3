//! Shared by `build.rs` and `cargo xtask bpf`: how the BPF object is compiled and how its
//! C inputs are fingerprinted, so that both agree on what "stale" means.
//! Plain std only: build scripts cannot use the crate's dependencies.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The compilation unit, relative to the `bpf/` directory.
pub const MAIN_SOURCE: &str = "vigil.bpf.c";
/// Committed object and its record, relative to the crate directory.
pub const PREBUILT_OBJECT: &str = "prebuilt/vigil.bpf.o";
pub const PREBUILT_RECORD: &str = "prebuilt/vigil.bpf.o.inputs";

/// clang arguments, run with the `bpf/` directory as working directory so that every path
/// the object records (BTF line info) is relative and the output reproducible.
pub fn clang_args(out: &Path) -> Vec<String> {
    vec![
        "-O2".into(),
        "-g".into(),
        // BTF line info records the compilation directory; "." keeps the object the same
        // wherever the tree is checked out.
        "-fdebug-compilation-dir=.".into(),
        "-target".into(),
        "bpf".into(),
        "-D__TARGET_ARCH_x86".into(),
        "-Wall".into(),
        "-Werror".into(),
        "-nostdinc".into(),
        "-Iinclude".into(),
        "-I.".into(),
        "-c".into(),
        MAIN_SOURCE.into(),
        "-o".into(),
        out.display().to_string(),
    ]
}

/// Every file under `bpf_dir`, sorted by relative path ('/'-separated).
pub fn input_files(bpf_dir: &Path) -> io::Result<Vec<(String, PathBuf)>> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> io::Result<()> {
        for entry in fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                walk(base, &path, out)?;
            } else {
                let rel = path.strip_prefix(base).unwrap_or(&path);
                let rel = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                out.push((rel, path));
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(bpf_dir, bpf_dir, &mut files)?;
    files.sort();
    Ok(files)
}

/// SHA-256 over (relative path, length, content) of every input file and the clang
/// arguments: the fingerprint recorded next to the prebuilt object.
pub fn inputs_hash(bpf_dir: &Path) -> io::Result<String> {
    let mut data = Vec::new();
    for arg in clang_args(Path::new("OUT")) {
        data.extend_from_slice(arg.as_bytes());
        data.push(0);
    }
    for (rel, path) in input_files(bpf_dir)? {
        let content = fs::read(&path)?;
        data.extend_from_slice(rel.as_bytes());
        data.push(0);
        data.extend_from_slice(content.len().to_string().as_bytes());
        data.push(0);
        data.extend_from_slice(&content);
    }
    Ok(hex(&sha256(&data)))
}

/// The record committed next to the prebuilt object.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Record {
    pub inputs_sha256: String,
    pub object_sha256: String,
    pub clang: String,
}

impl Record {
    pub fn parse(text: &str) -> Record {
        let mut r = Record::default();
        for line in text.lines() {
            if let Some((k, v)) = line.split_once(' ') {
                match k {
                    "inputs-sha256" => r.inputs_sha256 = v.trim().to_string(),
                    "object-sha256" => r.object_sha256 = v.trim().to_string(),
                    "clang" => r.clang = v.trim().to_string(),
                    _ => {}
                }
            }
        }
        r
    }

    pub fn render(&self) -> String {
        format!(
            "# Written by `cargo xtask bpf`; build.rs refuses the object when the inputs differ.\n\
             inputs-sha256 {}\nobject-sha256 {}\nclang {}\n",
            self.inputs_sha256, self.object_sha256, self.clang
        )
    }
}

/// `clang --version` first line, or None when clang cannot run.
pub fn clang_version(clang: &str) -> Option<String> {
    let out = Command::new(clang).arg("--version").output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .map(|l| l.trim().to_string())
}

/// Compiles the object into `out`, then drops DWARF (BTF stays) when llvm-strip exists.
pub fn compile(clang: &str, bpf_dir: &Path, out: &Path) -> Result<(), String> {
    let status = Command::new(clang)
        .current_dir(bpf_dir)
        .args(clang_args(out))
        .status()
        .map_err(|e| format!("cannot run {clang}: {e}"))?;
    if !status.success() {
        return Err(format!(
            "{clang} failed ({status}) compiling {}",
            bpf_dir.join(MAIN_SOURCE).display()
        ));
    }
    strip(out);
    Ok(())
}

fn strip(obj: &Path) {
    for tool in [
        "llvm-strip",
        "llvm-strip-14",
        "llvm-strip-15",
        "llvm-strip-16",
    ] {
        if let Ok(st) = Command::new(tool).arg("-g").arg(obj).status() {
            if st.success() {
                return;
            }
        }
    }
}

pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// FIPS 180-4 SHA-256 (small and dependency-free; inputs are a few MB at most).
/// The names follow the standard.
#[allow(clippy::many_single_char_names)]
pub fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a_2f98,
        0x7137_4491,
        0xb5c0_fbcf,
        0xe9b5_dba5,
        0x3956_c25b,
        0x59f1_11f1,
        0x923f_82a4,
        0xab1c_5ed5,
        0xd807_aa98,
        0x1283_5b01,
        0x2431_85be,
        0x550c_7dc3,
        0x72be_5d74,
        0x80de_b1fe,
        0x9bdc_06a7,
        0xc19b_f174,
        0xe49b_69c1,
        0xefbe_4786,
        0x0fc1_9dc6,
        0x240c_a1cc,
        0x2de9_2c6f,
        0x4a74_84aa,
        0x5cb0_a9dc,
        0x76f9_88da,
        0x983e_5152,
        0xa831_c66d,
        0xb003_27c8,
        0xbf59_7fc7,
        0xc6e0_0bf3,
        0xd5a7_9147,
        0x06ca_6351,
        0x1429_2967,
        0x27b7_0a85,
        0x2e1b_2138,
        0x4d2c_6dfc,
        0x5338_0d13,
        0x650a_7354,
        0x766a_0abb,
        0x81c2_c92e,
        0x9272_2c85,
        0xa2bf_e8a1,
        0xa81a_664b,
        0xc24b_8b70,
        0xc76c_51a3,
        0xd192_e819,
        0xd699_0624,
        0xf40e_3585,
        0x106a_a070,
        0x19a4_c116,
        0x1e37_6c08,
        0x2748_774c,
        0x34b0_bcb5,
        0x391c_0cb3,
        0x4ed8_aa4a,
        0x5b9c_ca4f,
        0x682e_6ff3,
        0x748f_82ee,
        0x78a5_636f,
        0x84c8_7814,
        0x8cc7_0208,
        0x90be_fffa,
        0xa450_6ceb,
        0xbef9_a3f7,
        0xc671_78f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09_e667,
        0xbb67_ae85,
        0x3c6e_f372,
        0xa54f_f53a,
        0x510e_527f,
        0x9b05_688c,
        0x1f83_d9ab,
        0x5be0_cd19,
    ];
    let mut msg = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_be_bytes());
    for block in msg.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 32];
    for (i, v) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&v.to_be_bytes());
    }
    out
}
