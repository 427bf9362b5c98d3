//! Differential test, the kernel as the oracle: one rule file, loaded into kernel audit (with
//! Debian's auditd writing its log) and into `vigil daemon` at the same time, and one run of a
//! deterministic workload that both observe. The same syscalls happen once, so the two logs
//! must describe the same events: same syscalls, results, keys, identities, paths, records.
//! Where vigil deliberately writes something else, docs/design/kernel-differences.md says so
//! under an id (D1, D2, ...); [`expect`] applies exactly those differences to the kernel's
//! events, and any other mismatch fails the test.

mod daemon_util;
mod support;

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use daemon_util::{Setup, TestDaemon};
use support::events::{log_events, show, Ev};
use support::norm::{compare, expect, norm, title, Norm};
use support::workload::{cs, spawn, Op};
use support::{need_kernel_audit, pb, test_dir, unique_auid, TEST_GID, TEST_UID};
use vigil_testkit::{kernel_lock, unique_key, Auditd, AuditdOptions, KernelAuditGuard, KernelLock};

#[test]
fn vigil_and_kernel_audit_record_the_same_events() {
    let Some(lock) = lock_and_check("vigil_and_kernel_audit_record_the_same_events") else {
        return;
    };
    let k = unique_key("diff");
    let auid = unique_auid();
    let dir = test_dir("vigil-diff-");
    let d = dir.path();
    std::fs::write(d.join("existing"), "x").unwrap();
    std::fs::write(d.join("watched"), "x").unwrap();
    std::fs::create_dir(d.join("wdir")).unwrap();
    std::fs::set_permissions(d.join("wdir"), std::fs::Permissions::from_mode(0o777)).unwrap();
    let secret = d.join("secret");
    std::fs::write(&secret, "x").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let u = TEST_UID;
    let rules = format!(
        "-a never,exit -F arch=b64 -S getppid -F auid={auid}\n\
         -a always,exit -F arch=b64 -S open,openat,creat -F exit=-EACCES -F auid={auid} -k {k}-eacces\n\
         -a always,exit -F arch=b64 -S open,openat,creat -F success=0 -F auid={auid} -k {k}-openfail\n\
         -w {dd}/watched -p wa -k {k}-wfile\n\
         -w {dd}/wdir -p rwxa -k {k}-wdir\n\
         -a always,exit -F arch=b64 -S open,openat,creat -F uid=0 -F auid={auid} -k {k}-open\n\
         -a always,exit -F arch=b64 -S unlink,unlinkat,rename,renameat,renameat2,mkdir,rmdir,link,symlink -F auid={auid} -k {k}-fs\n\
         -a always,exit -F arch=b64 -S chmod,fchmodat,chown,fchownat,fchmod -F auid={auid} -k {k}-attr\n\
         -a always,exit -F arch=b64 -S execve -F auid={auid} -k {k}-exec\n\
         -a always,exit -F arch=b64 -S connect -F auid={auid} -k {k}-net\n\
         -a always,exit -F arch=b64 -S setuid,setresuid,setresgid,setgroups -F auid={auid} -k {k}-id\n\
         -a always,exit -F arch=b64 -S kill -F auid={auid} -k {k}-kill\n\
         -a always,exit -F arch=b64 -S all -F uid={u} -F auid={auid} -k {k}-all\n",
        dd = d.display()
    );
    let both = Both::start(lock, &rules, d);

    // A process to signal (its identity goes into OBJ_PID).
    let target_auid = unique_auid();
    let mut target = spawn(vec![Op::SetLoginuid(target_auid), Op::Sleep(120_000)]);
    target.release();
    let closed_port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ops = vec![
        Op::SetLoginuid(auid),
        Op::Chdir(cs(pb(d))),
        Op::OpenAt(cs("existing"), libc::O_RDONLY, 0),
        Op::Open(cs("missing"), libc::O_RDONLY, 0),
        Op::Creat(cs("created"), 0o644),
        Op::OpenAt(cs("watched"), libc::O_WRONLY, 0),
        Op::OpenAt(cs("watched"), libc::O_RDONLY, 0),
        Op::OpenAt(cs("wdir/inside"), libc::O_WRONLY | libc::O_CREAT, 0o644),
        Op::Unlink(cs("wdir/inside")),
        Op::Rename(cs("created"), cs("renamed")),
        Op::Mkdir(cs("sub"), 0o755),
        Op::UnlinkAt(cs("sub"), libc::AT_REMOVEDIR),
        Op::Chmod(cs("renamed"), 0o600),
        Op::Chown(cs("renamed"), TEST_UID, TEST_GID),
        Op::FchmodAt(cs("missing"), 0o600),
        Op::UnlinkAt(cs("missing"), 0),
        Op::Rename(cs("missing"), cs("missing2")),
        Op::Fchmod(cs("renamed"), 0o640),
        Op::Link(cs("renamed"), cs("hard")),
        Op::Symlink(cs("renamed"), cs("soft")),
        Op::Mkdir(cs("wdir"), 0o755),
        Op::Creat(cs("wdir/r"), 0o644),
        Op::Rename(cs("wdir/r"), cs("moved")),
        Op::Unlink(cs("moved")),
        Op::Unlink(cs("renamed")),
        Op::Connect(SocketAddrV4::new(Ipv4Addr::LOCALHOST, closed_port)),
        Op::Kill(target.pid() as i32, 0),
        Op::Exec(cs("/nonexistent/prog"), vec![cs("prog")]),
        Op::DropTo(TEST_UID, TEST_GID),
        Op::Setuid(0),
        Op::OpenAt(cs(pb(&secret)), libc::O_RDONLY, 0),
        Op::Getppid,
        Op::Fork(vec![Op::Getppid]),
        Op::Exec(cs("/bin/true"), vec![cs("/bin/true"), cs("done")]),
    ];
    let setuid_at = ops.iter().position(|o| matches!(o, Op::Setuid(_))).unwrap();
    let fork_at = ops.iter().position(|o| matches!(o, Op::Fork(_))).unwrap();
    let run = spawn(ops).go();
    assert_eq!(run.status, 0, "workload: {run:?}");
    assert_eq!(
        run.result(setuid_at),
        -i64::from(libc::EPERM),
        "setuid(0) as uid {u}"
    );
    assert_eq!(run.result(setuid_at + 1), -i64::from(libc::EACCES));

    let pids = [run.pid, u32::try_from(run.result(fork_at)).expect("fork")];
    let (kernel, ours) = both.events(&pids);
    // Only now: vigil reads a signal target's identity when the event arrives (D9).
    drop(target);
    assert!(
        kernel.len() > 30,
        "the kernel recorded only:\n{}",
        show(&kernel)
    );
    check(&kernel, &ours, |_| false);
}

#[test]
fn task_list_rules_against_the_kernel() {
    let Some(lock) = lock_and_check("task_list_rules_against_the_kernel") else {
        return;
    };
    let k = unique_key("diff-task");
    let (excluded, control) = (unique_auid(), unique_auid());
    let dir = test_dir("vigil-diff-task-");
    let file = dir.path().join("f");
    std::fs::write(&file, "x").unwrap();
    let rules = format!(
        "-a never,task -F auid={excluded}\n\
         -a always,exit -F arch=b64 -S openat -F auid={excluded} -k {k}\n\
         -a always,exit -F arch=b64 -S openat -F auid={control} -k {k}\n"
    );
    let both = Both::start(lock, &rules, dir.path());
    let ops = |auid| {
        vec![
            Op::SetLoginuid(auid),
            Op::OpenAt(cs(pb(&file)), libc::O_RDONLY, 0),
            Op::Fork(vec![Op::OpenAt(cs(pb(&file)), libc::O_RDONLY, 0)]),
        ]
    };
    let a = spawn(ops(excluded)).go();
    let b = spawn(ops(control)).go();
    let pids = [
        a.pid,
        u32::try_from(a.result(2)).expect("fork"),
        b.pid,
        u32::try_from(b.result(2)).expect("fork"),
    ];
    let (kernel, ours) = both.events(&pids);
    // The kernel: the workload was forked before it took the excluded login uid, so its open
    // is audited; its child was forked with it and is not. The control's two opens are.
    let opens = |evs: &[Ev], pid: u32| {
        evs.iter()
            .filter(|e| e.pid() == pid && e.nr() == 257)
            .count()
    };
    assert_eq!(
        [
            opens(&kernel, pids[0]),
            opens(&kernel, pids[1]),
            opens(&kernel, pids[2]),
            opens(&kernel, pids[3])
        ],
        [1, 0, 1, 1],
        "{}",
        show(&kernel)
    );
    // D12: vigil judges the task list with each event's identity.
    let auid = excluded.to_string();
    check(&kernel, &ours, |e| {
        e.sc("auid").as_deref() == Some(auid.as_str())
    });
}

/// Takes the kernel lock, then checks the machine (another test's auditd may hold the audit
/// pid until it releases the lock).
fn lock_and_check(test: &str) -> Option<KernelLock> {
    let lock = kernel_lock();
    need_kernel_audit(test).then_some(lock)
}

/// Kernel audit (Debian's auditd writing the log) and `vigil daemon`, with one rule file.
struct Both {
    auditd: Auditd,
    vigil: TestDaemon,
}

impl Both {
    fn start(lock: KernelLock, rules: &str, dir: &Path) -> Both {
        let guard = KernelAuditGuard::with_lock(lock);
        let auditd = Auditd::start_guarded(guard, &AuditdOptions::default());
        // A deep backlog: the kernel must not lose events of an all-syscall rule.
        auditctl(&["-b", "8192"]);
        let rules_file = dir.join("diff.rules");
        std::fs::write(&rules_file, rules).unwrap();
        auditctl(&["-R", &rules_file.display().to_string()]);
        let vigil = TestDaemon::start(Setup {
            rules: Some(rules.to_owned()),
            kernel: true,
            ..Setup::default()
        });
        // The socket accepts connections before the hooks are armed; a served request means
        // the daemon is auditing.
        assert_eq!(vigil.status()["source"], "bpf");
        Both { auditd, vigil }
    }

    /// After a sync marker in each log: the syscall events of `pids` (kernel, vigil).
    fn events(mut self, pids: &[u32]) -> (Vec<Ev>, Vec<Ev>) {
        self.auditd.sync(Duration::from_secs(30));
        self.vigil.ctl_ok(&["-m", &unique_key("diff-sync")]);
        (
            sorted(log_events(self.auditd.log_path()), pids),
            sorted(log_events(&self.vigil.log), pids),
        )
    }
}

/// Compares vigil's events with the kernel's under the documented differences, plus
/// `absent`: kernel events the test's own difference says vigil does not write.
fn check(kernel: &[Ev], ours: &[Ev], absent: impl Fn(&Ev) -> bool) {
    let mut exec_title: Option<Vec<u8>> = None;
    let mut want: Vec<Norm> = Vec::new();
    for e in kernel {
        if !absent(e) {
            want.extend(expect(e, exec_title.as_deref()));
        }
        if e.nr() == 59 && e.success() == Some(true) {
            exec_title = title(&e.argv());
        }
    }
    let got: Vec<Norm> = ours.iter().map(norm).collect();
    let problems = compare(&want, &got);
    assert!(
        problems.is_empty(),
        "vigil differs from the kernel beyond docs/design/kernel-differences.md:\n{}\n\
         kernel:\n{}\nvigil:\n{}",
        problems.join("\n"),
        show(kernel),
        show(ours)
    );
}

/// Runs auditctl (the guard restores what it changes), panicking on failure.
fn auditctl(args: &[&str]) {
    let out = Command::new("auditctl")
        .args(args)
        .output()
        .expect("run auditctl");
    assert!(
        out.status.success(),
        "auditctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The syscall events of `pids`, in serial order.
fn sorted(evs: Vec<Ev>, pids: &[u32]) -> Vec<Ev> {
    let mut v: Vec<Ev> = evs
        .into_iter()
        .filter(|e| e.is_syscall() && pids.contains(&e.pid()))
        .collect();
    v.sort_by_key(|e| e.0.id.serial);
    v
}
