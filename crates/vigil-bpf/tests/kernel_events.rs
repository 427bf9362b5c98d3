//! Privileged: a real workload in a child process, filtered on its pid; the decoded events
//! must carry the syscall, arguments, return value, paths, inodes (as `stat()` sees them),
//! argv, socket address and signal target.

mod common;

use std::net::TcpListener;
use std::path::Path;

use vigil_abi::{Counter, VIGIL_AUDIT_ARCH_X86_64, VIGIL_PATH_F_EXE, VIGIL_PATH_F_FROM_FD};
use vigil_bpf::decode::{PathItem, SyscallEvent};
use vigil_bpf::{Hook, LoadOptions};

fn find<'a>(events: &'a [SyscallEvent], name: &str) -> Vec<&'a SyscallEvent> {
    let nr = common::nr(name);
    events.iter().filter(|e| e.nr == nr).collect()
}

fn name_of(p: &PathItem) -> &[u8] {
    p.name.as_ref().map_or(&[][..], |c| c.bytes.as_slice())
}

fn full_of(p: &PathItem) -> &[u8] {
    p.full.as_ref().map_or(&[][..], |c| c.bytes.as_slice())
}

/// The object facts must equal what the workload's `stat()` printed for `key`.
fn assert_object(p: &PathItem, out: &str, key: &str) {
    let o = p
        .object
        .unwrap_or_else(|| panic!("{key}: no object in {p:?}"));
    assert_eq!(o.ino as i64, common::field(out, key, "ino"), "{key}: inode");
    assert_eq!(
        i64::from(o.dev >> 20),
        common::field(out, key, "major"),
        "{key}: dev major"
    );
    assert_eq!(
        i64::from(o.dev & 0xf_ffff),
        common::field(out, key, "minor"),
        "{key}: dev minor"
    );
    assert_eq!(
        i64::from(o.mode),
        common::field(out, key, "mode"),
        "{key}: mode"
    );
    assert_eq!(
        i64::from(o.uid),
        common::field(out, key, "uid"),
        "{key}: uid"
    );
    assert_eq!(
        i64::from(o.gid),
        common::field(out, key, "gid"),
        "{key}: gid"
    );
}

fn check_task(e: &SyscallEvent) {
    assert_eq!(e.arch, VIGIL_AUDIT_ARCH_X86_64);
    assert_eq!(e.task.ppid, std::process::id(), "ppid is the test process");
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    assert_eq!(e.task.uid, uid);
    assert_eq!(e.task.euid, uid);
    assert_eq!(e.rulesets, 1);
    let exe = e.exe.as_ref().expect("exe");
    assert!(exe.bytes.starts_with(b"/"), "exe {exe:?}");
    assert!(!exe.partial());
}

#[allow(clippy::many_single_char_names)]
fn files(hook: Hook) {
    let test = format!("files_{hook:?}");
    let Some(mut kit) = common::kit_with(
        &test,
        &LoadOptions {
            hook,
            ..LoadOptions::default()
        },
    ) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let dirc = std::fs::canonicalize(dir.path()).expect("canonical");
    let d = dirc.to_str().expect("utf-8 temp path");
    let names = [
        "open", "openat", "creat", "chmod", "chown", "rename", "unlink",
    ];
    let (out, events) = common::run(&mut kit, &names, &["files", d]);
    let c = kit.loader.counters().expect("counters");
    assert_eq!(c.lost(), 0, "{c}");
    for e in &events {
        check_task(e);
    }

    // open(DIR/a, O_CREAT): name from the argument, object from the returned fd.
    let opens = find(&events, "open");
    let a = opens.iter().find(|e| e.ret >= 0).expect("open event");
    assert_eq!(a.ret, common::field(&out, "open", "fd"));
    let p = &a.paths[0];
    assert_eq!(name_of(p), format!("{d}/a").as_bytes());
    assert_eq!(full_of(p), format!("{d}/a").as_bytes());
    assert!(p
        .name
        .as_ref()
        .is_some_and(vigil_bpf::decode::Captured::from_user_memory));
    assert!(p
        .object
        .is_some_and(|o| o.flags & VIGIL_PATH_F_FROM_FD != 0));
    assert_object(p, &out, "a");
    assert_eq!(
        a.cwd.as_ref().map(|c| c.bytes.as_slice()),
        Some(d.as_bytes())
    );

    // A failed open: negative return, name only, no object.
    let miss = opens.iter().find(|e| e.ret < 0).expect("failed open");
    assert_eq!(miss.ret, -i64::from(libc::ENOENT));
    assert_eq!(name_of(&miss.paths[0]), format!("{d}/missing").as_bytes());
    assert!(miss.paths[0].object.is_none());

    // openat(AT_FDCWD, "b") after chdir: relative name, full path by dentry walk.
    let b = find(&events, "openat")
        .into_iter()
        .find(|e| {
            e.args[1] != 0 && e.ret >= 0 && e.paths.first().is_some_and(|p| name_of(p) == b"b")
        })
        .expect("openat b");
    assert_eq!(b.args[0] as i32, libc::AT_FDCWD);
    assert_eq!(b.args[2] as i32 & libc::O_CREAT, libc::O_CREAT);
    assert_eq!(full_of(&b.paths[0]), format!("{d}/b").as_bytes());
    assert_object(&b.paths[0], &out, "b");

    let creat = find(&events, "creat");
    assert_eq!(creat.len(), 1);
    assert_object(&creat[0].paths[0], &out, "c");
    assert_eq!(creat[0].args[1], 0o640);

    let chmod = find(&events, "chmod");
    assert_eq!(chmod.len(), 1);
    assert_eq!((chmod[0].ret, chmod[0].args[1]), (0, 0o600));
    assert_eq!(name_of(&chmod[0].paths[0]), format!("{d}/a").as_bytes());
    assert_eq!(find(&events, "chown").len(), 1);

    let rename = find(&events, "rename");
    assert_eq!(rename.len(), 1);
    assert_eq!(name_of(&rename[0].paths[0]), format!("{d}/a").as_bytes());
    assert_eq!(name_of(&rename[0].paths[1]), format!("{d}/a2").as_bytes());

    let unlink = find(&events, "unlink");
    assert_eq!(unlink.len(), 1);
    assert_eq!(
        (unlink[0].ret, name_of(&unlink[0].paths[0])),
        (0, &b"b"[..])
    );
    assert!(Path::new(&format!("{d}/a2")).exists());
}

#[test]
fn files_raw_tp() {
    files(Hook::RawTp);
}

#[test]
fn files_tp_btf() {
    files(Hook::TpBtf);
}

#[test]
fn execve_long_and_binary_args() {
    let Some(mut kit) = common::kit("execve_long_and_binary_args") else {
        return;
    };
    let (_, events) = common::run(&mut kit, &["execve"], &["exec", "70000"]);
    let ex = find(&events, "execve");
    assert_eq!(ex.len(), 1, "{events:?}");
    let e = ex[0];
    assert_eq!(e.ret, 0);
    let argv = e.argv.as_ref().expect("argv");
    assert_eq!(argv.missing_chunks, 0);
    assert!(!argv.truncated);
    assert_eq!(argv.args.len(), 3);
    assert_eq!(argv.args[0], b"/bin/true");
    assert_eq!(argv.args[1], vec![b'L'; 70000]);
    assert_eq!(argv.args[2], vec![0x01, 0xff, b'"', b' ', b'x']);
    assert_eq!(argv.total_len as usize, 9 + 1 + 70000 + 1 + 5 + 1);
    // The new program: exe and PATH item 0 from the new mm.
    let exe = e.exe.as_ref().expect("exe");
    let real = std::fs::canonicalize("/bin/true").expect("true");
    assert_eq!(exe.bytes, real.as_os_str().as_encoded_bytes());
    assert_eq!(e.task.comm[..4], *b"true");
    let p = &e.paths[0];
    assert_eq!(name_of(p), b"/bin/true");
    let o = p.object.expect("exe inode");
    assert!(o.flags & VIGIL_PATH_F_EXE != 0);
    let md = std::fs::metadata(&real).expect("stat true");
    assert_eq!(o.ino, std::os::unix::fs::MetadataExt::ino(&md));
}

#[test]
fn execve_argv_truncated_and_failed_exec() {
    let Some(mut kit) = common::kit("execve_argv_truncated_and_failed_exec") else {
        return;
    };
    let before = kit.loader.counters().expect("counters");
    let (_, events) = common::run(&mut kit, &["execve"], &["exec-many"]);
    let e = find(&events, "execve")[0];
    let argv = e.argv.as_ref().expect("argv");
    assert!(argv.truncated, "{argv:?}");
    assert_eq!(
        argv.captured_len,
        vigil_abi::VIGIL_ARGV_CHUNK * vigil_abi::VIGIL_ARGV_CHUNKS_MAX
    );
    assert_eq!(argv.total_len as usize, 10 + 4 * 60_001);
    assert_eq!(argv.args[1], vec![b'0'; 60_000]);
    let d = kit.loader.counters().expect("counters").since(&before);
    assert_eq!(d.get(Counter::TruncArgv), 1, "{d}");

    let (out, events) = common::run(&mut kit, &["execve"], &["exec-fail"]);
    assert_eq!(common::field(&out, "execve", "rc"), -1);
    let e = find(&events, "execve")[0];
    assert_eq!(e.ret, -i64::from(libc::ENOENT));
    assert!(e.argv.is_none());
    assert_eq!(name_of(&e.paths[0]), b"/nonexistent/vigil-no-such-program");
}

#[test]
fn connect_sockaddr() {
    let Some(mut kit) = common::kit("connect_sockaddr") else {
        return;
    };
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = listener.local_addr().expect("addr").port();
    let (out, events) = common::run(&mut kit, &["connect"], &["connect", &port.to_string()]);
    assert_eq!(common::field(&out, "connect", "rc"), 0);
    let e = find(&events, "connect")[0];
    assert_eq!(e.ret, 0);
    assert_eq!(e.args[2], 16);
    let sa = e.sockaddr.as_ref().expect("sockaddr");
    assert_eq!(sa.bytes.len(), 16);
    assert_eq!(
        u16::from_ne_bytes([sa.bytes[0], sa.bytes[1]]),
        libc::AF_INET as u16
    );
    assert_eq!(u16::from_be_bytes([sa.bytes[2], sa.bytes[3]]), port);
    assert_eq!(&sa.bytes[4..8], &[127, 0, 0, 1]);
    assert!(e.cwd.is_none());
}

#[test]
fn kill_target() {
    let Some(mut kit) = common::kit("kill_target") else {
        return;
    };
    let (out, events) = common::run(&mut kit, &["kill"], &["kill"]);
    let e = find(&events, "kill")[0];
    assert_eq!(e.ret, 0);
    let o = e.obj_pid.expect("obj_pid");
    assert_eq!(i64::from(o.pid), common::field(&out, "kill", "pid"));
    assert_eq!(o.sig, 0);
}
