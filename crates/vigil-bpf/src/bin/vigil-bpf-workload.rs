//! Test helper (not for users): makes a known set of syscalls once told to.
//!
//! `vigil-bpf-workload SCENARIO ARGS...` waits for a line on stdin (the test has set its
//! filter on this pid by then), runs the scenario with raw libc calls, prints `key value`
//! lines the test compares with the events, and exits.
//!
//! The syscalls are made with `libc::syscall` where libc would use another one (glibc's
//! `open` is `openat`).
//!
//! Scenarios: `files DIR`, `paths DIR` (see [`paths`]), `sockets`, `exec LONG_LEN` (never
//! returns on success), `exec-fail`, `connect PORT`, `kill`, `kill-child` (SIGTERM to a
//! forked child named `vigil-target`, reaped at once), `loop N` (N getppid calls),
//! `pace N BATCH PAUSE_US`.

use std::ffi::{CString, OsStr};
use std::io::{BufRead, Write};
use std::os::unix::ffi::OsStrExt;

fn cstr(s: impl AsRef<OsStr>) -> CString {
    CString::new(s.as_ref().as_bytes()).expect("no NUL in test paths")
}

fn check(what: &str, rc: i64) -> i64 {
    if rc < 0 {
        eprintln!("{what}: {}", std::io::Error::last_os_error());
        std::process::exit(2);
    }
    rc
}

fn stat_line(out: &mut impl Write, key: &str, path: &CString) {
    // SAFETY: st is plain data; path is NUL-terminated.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    check(
        "stat",
        i64::from(unsafe { libc::stat(path.as_ptr(), &raw mut st) }),
    );
    let _ = writeln!(
        out,
        "{key} ino={} major={} minor={} mode={} uid={} gid={}",
        st.st_ino,
        libc::major(st.st_dev),
        libc::minor(st.st_dev),
        st.st_mode,
        st.st_uid,
        st.st_gid
    );
}

/// Names the rule index must place (DIR exists and holds `sub/` and `linked`): a file
/// created and then replaced after the rules were loaded (`later`), a hard link to
/// `linked`, names relative to the cwd (one and several components) and to a directory
/// descriptor, descriptor calls.
fn paths(dir: &str, out: &mut impl Write) {
    // SAFETY (whole body): raw syscalls with NUL-terminated paths.
    unsafe {
        let p = |n: &str| cstr(format!("{dir}/{n}"));
        let wr = libc::O_CREAT | libc::O_WRONLY;
        let open = |name: &CString, flags: i32| {
            let fd = check(
                "open",
                libc::syscall(libc::SYS_open, name.as_ptr(), flags, 0o644),
            );
            libc::close(fd as i32);
        };
        check("chdir", i64::from(libc::chdir(cstr(dir).as_ptr())));
        open(&p("later"), wr);
        open(&cstr("later"), libc::O_WRONLY | libc::O_APPEND);
        open(&p("tmp"), wr);
        check(
            "rename",
            libc::syscall(libc::SYS_rename, p("tmp").as_ptr(), p("later").as_ptr()),
        );
        open(&p("later"), libc::O_WRONLY);
        check(
            "link",
            libc::syscall(libc::SYS_link, p("linked").as_ptr(), p("sub/hard").as_ptr()),
        );
        let _ = writeln!(out, "hard");
        open(&p("sub/hard"), libc::O_WRONLY);
        let d = check(
            "open",
            libc::syscall(
                libc::SYS_open,
                p("sub").as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY,
            ),
        ) as i32;
        let f = cstr("f");
        let fd = check("openat", i64::from(libc::openat(d, f.as_ptr(), wr, 0o644)));
        check("fchmod", i64::from(libc::fchmod(fd as i32, 0o600)));
        libc::close(fd as i32);
        check(
            "fchmodat",
            i64::from(libc::fchmodat(d, f.as_ptr(), 0o640, 0)),
        );
        check("unlinkat", i64::from(libc::unlinkat(d, f.as_ptr(), 0)));
        libc::close(d);
        open(&cstr("sub/g"), wr);
        check(
            "chmod",
            libc::syscall(libc::SYS_chmod, cstr("sub/g").as_ptr(), 0o600),
        );
        check(
            "unlink",
            libc::syscall(libc::SYS_unlink, cstr("sub/g").as_ptr()),
        );
        check(
            "mkdir",
            libc::syscall(libc::SYS_mkdir, cstr("sub/d").as_ptr(), 0o755),
        );
        check("rmdir", libc::syscall(libc::SYS_rmdir, p("sub/d").as_ptr()));
        check(
            "unlink",
            libc::syscall(libc::SYS_unlink, p("sub/hard").as_ptr()),
        );
        // Calls that find no child: their objects are the names' directories.
        let nope = libc::syscall(libc::SYS_unlink, p("sub/nope").as_ptr());
        let exists = libc::syscall(libc::SYS_mkdir, cstr("sub").as_ptr(), 0o755);
        let moved = libc::syscall(libc::SYS_rename, p("nope").as_ptr(), p("sub/x").as_ptr());
        let _ = writeln!(out, "no-child unlink={nope} mkdir={exists} rename={moved}");
        // A symbolic link's content is no object.
        check(
            "symlink",
            libc::syscall(
                libc::SYS_symlink,
                c"/etc/passwd".as_ptr(),
                p("sub/sl").as_ptr(),
            ),
        );
        check(
            "unlink",
            libc::syscall(libc::SYS_unlink, p("sub/sl").as_ptr()),
        );
        open(&cstr("/etc/hostname"), libc::O_RDONLY);
        check(
            "unlink",
            libc::syscall(libc::SYS_unlink, cstr("later").as_ptr()),
        );
        let _ = writeln!(out, "paths done");
    }
}

/// Socket addresses of two families (`saddr_fam=`): unix (connect, sendto), inet (connect).
fn sockets(out: &mut impl Write) {
    // SAFETY (whole body): raw socket calls with valid buffers and lengths.
    unsafe {
        let u = check(
            "socket",
            i64::from(libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0)),
        ) as i32;
        let mut sun: libc::sockaddr_un = std::mem::zeroed();
        sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (d, s) in sun.sun_path.iter_mut().zip(b"/nonexistent/vigil.sock") {
            *d = *s as libc::c_char;
        }
        let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
        let sa = (&raw const sun).cast::<libc::sockaddr>();
        let rc = libc::connect(u, sa, len);
        let _ = writeln!(out, "connect-unix rc={rc}");
        let rc = libc::sendto(u, b"x".as_ptr().cast(), 1, 0, sa, len);
        let _ = writeln!(out, "sendto-unix rc={rc}");
        libc::close(u);
        let i = check(
            "socket",
            i64::from(libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0)),
        ) as i32;
        let mut sin: libc::sockaddr_in = std::mem::zeroed();
        sin.sin_family = libc::AF_INET as libc::sa_family_t;
        sin.sin_port = 9u16.to_be();
        sin.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
        let rc = libc::connect(
            i,
            (&raw const sin).cast::<libc::sockaddr>(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        let _ = writeln!(out, "connect-inet rc={rc}");
        libc::close(i);
    }
}

#[allow(clippy::too_many_lines)]
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    let mut out = std::io::stdout().lock();
    let scenario = args.get(1).map_or("", String::as_str);
    // SAFETY (whole block): raw syscalls with NUL-terminated paths and valid buffers.
    unsafe {
        match scenario {
            "files" => {
                let dir = cstr(&args[2]);
                let a = cstr(format!("{}/a", args[2]));
                let a2 = cstr(format!("{}/a2", args[2]));
                let c = cstr(format!("{}/c", args[2]));
                let b = cstr("b");
                check("chdir", i64::from(libc::chdir(dir.as_ptr())));
                let fd = check(
                    "open",
                    libc::syscall(
                        libc::SYS_open,
                        a.as_ptr(),
                        libc::O_CREAT | libc::O_WRONLY,
                        0o644,
                    ),
                );
                let _ = writeln!(out, "open fd={fd}");
                stat_line(&mut out, "a", &a);
                libc::close(fd as i32);
                let fd = check(
                    "openat",
                    i64::from(libc::openat(
                        libc::AT_FDCWD,
                        b.as_ptr(),
                        libc::O_CREAT | libc::O_RDWR,
                        0o600,
                    )),
                );
                let _ = writeln!(out, "openat fd={fd}");
                stat_line(&mut out, "b", &cstr(format!("{}/b", args[2])));
                libc::close(fd as i32);
                let fd = check("creat", libc::syscall(libc::SYS_creat, c.as_ptr(), 0o640));
                stat_line(&mut out, "c", &c);
                libc::close(fd as i32);
                check("chmod", libc::syscall(libc::SYS_chmod, a.as_ptr(), 0o600));
                check(
                    "chown",
                    libc::syscall(libc::SYS_chown, a.as_ptr(), libc::getuid(), libc::getgid()),
                );
                check(
                    "rename",
                    libc::syscall(libc::SYS_rename, a.as_ptr(), a2.as_ptr()),
                );
                check("unlink", libc::syscall(libc::SYS_unlink, b.as_ptr()));
                let missing = cstr(format!("{}/missing", args[2]));
                let rc = libc::syscall(libc::SYS_open, missing.as_ptr(), libc::O_RDONLY);
                let _ = writeln!(out, "open-missing rc={rc}");
            }
            "paths" => paths(&args[2], &mut out),
            "sockets" => sockets(&mut out),
            "exec" => {
                let long_len: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1000);
                let prog = cstr("/bin/true");
                let long = cstr("L".repeat(long_len));
                let binary = CString::new(vec![0x01, 0xff, b'"', b' ', b'x']).expect("no NUL");
                let argv = [
                    prog.as_ptr(),
                    long.as_ptr(),
                    binary.as_ptr(),
                    std::ptr::null(),
                ];
                let envp = [std::ptr::null()];
                let _ = out.flush();
                libc::execve(prog.as_ptr(), argv.as_ptr(), envp.as_ptr());
                check("execve", -1);
            }
            "exec-many" => {
                // Several 60 KiB arguments: more argv than the BPF side captures.
                let prog = cstr("/bin/true");
                let parts: Vec<CString> = (0..4)
                    .map(|i| cstr(format!("{i}").repeat(60_000)))
                    .collect();
                let mut argv = vec![prog.as_ptr()];
                argv.extend(parts.iter().map(|p| p.as_ptr()));
                argv.push(std::ptr::null());
                let envp = [std::ptr::null()];
                let _ = out.flush();
                libc::execve(prog.as_ptr(), argv.as_ptr(), envp.as_ptr());
                check("execve", -1);
            }
            "exec-fail" => {
                let prog = cstr("/nonexistent/vigil-no-such-program");
                let argv = [prog.as_ptr(), std::ptr::null()];
                let envp = [std::ptr::null()];
                let rc = libc::execve(prog.as_ptr(), argv.as_ptr(), envp.as_ptr());
                let _ = writeln!(out, "execve rc={rc}");
            }
            "connect" => {
                let port: u16 = args[2].parse().expect("port");
                let s = check(
                    "socket",
                    i64::from(libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0)),
                ) as i32;
                let mut sa: libc::sockaddr_in = std::mem::zeroed();
                sa.sin_family = libc::AF_INET as libc::sa_family_t;
                sa.sin_port = port.to_be();
                sa.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
                let rc = libc::connect(
                    s,
                    (&raw const sa).cast::<libc::sockaddr>(),
                    std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                );
                let _ = writeln!(out, "connect rc={rc}");
                libc::close(s);
            }
            "kill-child" => {
                // A target that is gone by the time user space reads the event.
                let child = libc::fork();
                if child == 0 {
                    libc::prctl(libc::PR_SET_NAME, c"vigil-target".as_ptr());
                    loop {
                        libc::pause();
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
                let rc = libc::kill(child, libc::SIGTERM);
                let mut status = 0;
                libc::waitpid(child, &raw mut status, 0);
                let tid = libc::gettid();
                let rc2 = libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, 0);
                let _ = writeln!(out, "kill-child pid={child} rc={rc} tgkill0={rc2}");
            }
            "kill" => {
                let me = libc::getpid();
                let rc = libc::kill(me, 0);
                let _ = writeln!(out, "kill pid={me} rc={rc}");
            }
            "pace" => {
                // getppid in batches with pauses: a steady stream a debug-build reader keeps up with.
                let n: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1000);
                let batch: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(20);
                let pause = std::time::Duration::from_micros(
                    args.get(4).and_then(|s| s.parse().ok()).unwrap_or(1000),
                );
                for i in 0..n {
                    libc::getppid();
                    if i % batch == batch - 1 {
                        std::thread::sleep(pause);
                    }
                }
                let _ = writeln!(out, "pace n={n}");
            }
            "loop" => {
                let n: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1000);
                for _ in 0..n {
                    libc::getppid();
                }
                let _ = writeln!(out, "loop n={n}");
            }
            other => {
                eprintln!("unknown scenario {other:?}");
                std::process::exit(2);
            }
        }
    }
}
