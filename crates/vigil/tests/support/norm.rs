//! The comparable form of a syscall event, and the documented differences between the
//! kernel's records and vigil's (docs/design/kernel-differences.md, ids D1...).

use std::collections::BTreeMap;

use super::events::{Ev, PathItem};

/// SYSCALL fields compared between the kernel and vigil.
const SYSCALL_FIELDS: &[&str] = &[
    "arch", "syscall", "success", "exit", "a0", "a1", "a2", "a3", "items", "ppid", "pid", "auid",
    "uid", "gid", "euid", "suid", "fsuid", "egid", "sgid", "fsgid", "tty", "ses", "comm", "exe",
    "key",
];

/// A PATH field value in an expectation that matches any value (D11).
const ANY: &str = "*";

/// `want` (an expectation) matches `got`; an expected name of [`ANY`] (D11) leaves the
/// name, mode and owners open.
fn path_matches(want: &PathItem, got: &PathItem) -> bool {
    if want.name == ANY {
        return want.item == got.item
            && want.inode == got.inode
            && want.dev == got.dev
            && want.nametype == got.nametype;
    }
    want == got
}

/// What is compared of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Norm {
    /// Where the event is in its log (not compared).
    pub stamp: String,
    pub syscall: BTreeMap<&'static str, String>,
    /// Record types in order.
    pub types: Vec<String>,
    pub cwd: Option<String>,
    pub paths: Vec<PathItem>,
    pub argv: Vec<Vec<u8>>,
    pub saddr: Option<String>,
    /// `OBJ_PID` records' fields as text.
    pub obj_pids: Vec<BTreeMap<String, String>>,
    pub proctitle: Option<Vec<u8>>,
}

/// An event as it is.
pub fn norm(e: &Ev) -> Norm {
    let mut syscall = BTreeMap::new();
    for f in SYSCALL_FIELDS {
        if let Some(v) = e.sc(f) {
            syscall.insert(*f, v);
        }
    }
    Norm {
        stamp: e.stamp(),
        syscall,
        types: e.types(),
        cwd: e.get("CWD", "cwd"),
        paths: e.paths(),
        argv: e.argv(),
        saddr: e.get("SOCKADDR", "saddr"),
        obj_pids: e
            .recs("OBJ_PID")
            .map(|r| {
                r.fields
                    .iter()
                    .map(|f| (f.name.to_text().into_owned(), super::events::text(&f.value)))
                    .collect()
            })
            .collect(),
        proctitle: e.proctitle(),
    }
}

/// The syscall's name (x86_64).
fn name_of(nr: i64) -> &'static str {
    u32::try_from(nr)
        .ok()
        .and_then(|nr| vigil_rules::tables::syscall_name(0xc000_003e, nr))
        .unwrap_or("")
}

/// How vigil's exit hook captures the syscall (vigil-bpf's capture table).
fn class_of(nr: i64) -> Option<vigil_abi::SysClass> {
    let name = name_of(nr);
    vigil_bpf::capture::CAPTURE
        .iter()
        .find(|c| c.0 == name)
        .map(|c| c.1)
}

/// What vigil should write for the kernel's event `e`: the kernel's event with the documented
/// differences (docs/design/kernel-differences.md) applied; `None` when vigil writes no such
/// event. `exec_title`: the command line of the task's last successful execve before `e`.
pub fn expect(e: &Ev, exec_title: Option<&[u8]>) -> Option<Norm> {
    use vigil_abi::SysClass;
    let mut n = norm(e);
    let nr = e.nr();
    // D1: exit_group and exit never return, so no sys_exit tracepoint fires for them (the
    // kernel logs them from the task's exit path, without success/exit).
    if matches!(nr, 60 | 231) && e.sc("success").is_none() {
        return None;
    }
    // D2: a loginuid change makes the kernel log LOGIN with the syscall whatever the rules.
    if e.rec("LOGIN").is_some() {
        return None;
    }
    // D10: no MMAP aux record.
    n.types.retain(|t| t != "MMAP");
    let class = class_of(nr);
    let ok = e.success() == Some(true);
    // D5: a successful execve names the program, not its ELF interpreter.
    if class == Some(SysClass::Exec) && ok {
        n.paths.truncate(1);
    }
    for (i, p) in n.paths.iter_mut().enumerate() {
        p.item = i as u32;
        // D3: PARENT items name the directory without its facts. D4: names of path
        // syscalls (and of a failed open) come without the object's facts.
        let names_only = p.nametype == "PARENT"
            || class == Some(SysClass::Path)
            || (class == Some(SysClass::Open) && !ok);
        if names_only {
            p.inode = None;
            p.dev = None;
            p.mode = None;
            p.ouid = None;
            p.ogid = None;
        }
        // D11: a descriptor's object is named by its path (the kernel: `(null)`) and read at
        // exit, after the call's own change of mode or owner (the kernel: before).
        if class == Some(SysClass::Fd) {
            p.name = ANY.into();
        }
    }
    // The PATH records that remain, where the first one was.
    let items = n.paths.len();
    let at = n.types.iter().position(|t| t == "PATH");
    n.types.retain(|t| t != "PATH");
    if let Some(at) = at {
        for _ in 0..items {
            n.types.insert(at, "PATH".into());
        }
    }
    if n.syscall.contains_key("items") {
        n.syscall.insert("items", items.to_string());
    }
    if class == Some(SysClass::Exec) && ok {
        // D6: the argument registers at exit belong to the new program.
        for a in ["a0", "a1", "a2", "a3"] {
            n.syscall.insert(a, "0".into());
        }
    }
    // D7: the kernel keeps the first proctitle it logged for a task until the task exits;
    // vigil writes the command line at the event, which after an execve is the new one.
    if class == Some(SysClass::Exec) && ok {
        n.proctitle = title(&n.argv);
    } else if let Some(t) = exec_title {
        n.proctitle = Some(t.to_vec());
    }
    Some(n)
}

/// The kernel's proctitle of a command line: arguments joined by NUL, at most 128 bytes,
/// trailing NULs cut.
pub fn title(argv: &[Vec<u8>]) -> Option<Vec<u8>> {
    let mut t = argv.join(&0u8);
    t.truncate(128);
    while t.last() == Some(&0) {
        t.pop();
    }
    (!t.is_empty()).then_some(t)
}

/// What identifies an event for pairing: pid, syscall, exit.
fn ident(n: &Norm) -> (Option<&String>, Option<&String>, Option<&String>) {
    (
        n.syscall.get("pid"),
        n.syscall.get("syscall"),
        n.syscall.get("exit"),
    )
}

/// Pairs the events (longest common subsequence of pid/syscall/exit) and lists every
/// difference: events only one side has, and every field that differs in a pair.
pub fn compare(want: &[Norm], got: &[Norm]) -> Vec<String> {
    let (n, m) = (want.len(), got.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if ident(&want[i]) == ident(&got[j]) {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && ident(&want[i]) == ident(&got[j]) {
            pair(&want[i], &got[j], &mut out);
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push(format!(
                "only vigil wrote {} {:?}",
                got[j].stamp,
                ident(&got[j])
            ));
            j += 1;
        } else {
            out.push(format!(
                "only the kernel wrote {} {:?}",
                want[i].stamp,
                ident(&want[i])
            ));
            i += 1;
        }
    }
    out
}

fn pair(w: &Norm, g: &Norm, out: &mut Vec<String>) {
    let at = format!("kernel {} / vigil {}", w.stamp, g.stamp);
    for f in SYSCALL_FIELDS {
        if w.syscall.get(f) != g.syscall.get(f) {
            out.push(format!(
                "{at}: SYSCALL {f}: kernel {:?}, vigil {:?}",
                w.syscall.get(f),
                g.syscall.get(f)
            ));
        }
    }
    let paths_match = w.paths.len() == g.paths.len()
        && w.paths
            .iter()
            .zip(&g.paths)
            .all(|(a, b)| path_matches(a, b));
    if !paths_match {
        out.push(format!(
            "{at}: PATH: kernel {:?}, vigil {:?}",
            w.paths, g.paths
        ));
    }
    let mut diff = |what: &str, a: String, b: String| {
        if a != b {
            out.push(format!("{at}: {what}: kernel {a}, vigil {b}"));
        }
    };
    diff("types", format!("{:?}", w.types), format!("{:?}", g.types));
    diff("CWD", format!("{:?}", w.cwd), format!("{:?}", g.cwd));
    diff("argv", format!("{:?}", w.argv), format!("{:?}", g.argv));
    diff(
        "SOCKADDR",
        format!("{:?}", w.saddr),
        format!("{:?}", g.saddr),
    );
    diff(
        "OBJ_PID",
        format!("{:?}", w.obj_pids),
        format!("{:?}", g.obj_pids),
    );
    diff(
        "PROCTITLE",
        format!("{:?}", w.proctitle.as_deref().map(String::from_utf8_lossy)),
        format!("{:?}", g.proctitle.as_deref().map(String::from_utf8_lossy)),
    );
}
