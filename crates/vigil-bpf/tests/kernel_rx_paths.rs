//! Privileged: what the rule index judges in BPF beyond ids and registers: watches of files
//! created, replaced and hard-linked after the rules were loaded, `dir=` trees reached by
//! names relative to the cwd or to a directory descriptor, `exe=`, `saddr_fam=`, the task list,
//! and a STIG-like rule set under a login session (how much is left to user space).

mod rx_diff;

use rx_diff::{dump, name, run, Setup};
use vigil_abi::Counter;
use vigil_bpf::SyscallEvent;

fn names_of(e: &SyscallEvent) -> Vec<String> {
    e.paths
        .iter()
        .filter_map(|p| p.full.as_ref().or(p.name.as_ref()))
        .map(|c| String::from_utf8_lossy(&c.bytes).into_owned())
        .collect()
}

fn touches(e: &SyscallEvent, what: &str) -> bool {
    names_of(e).iter().any(|n| n.ends_with(what))
}

const PATH_SETS: [&str; 3] = [
    "-w DIR/later -p wa -k later\n-w DIR/linked -p wa -k linked\n-w DIR/sub/ -p wa -k subdir\n",
    "-a always,exit -F dir=DIR -F perm=a -k attr\n\
     -a always,exit -F arch=b64 -S open,openat -F exe=EXE -F success=1 -F perm=w -k byexe\n\
     -a never,exit -F arch=b64 -S all -F exe=/bin/true\n\
     -a always,exit -F arch=b64 -S unlink,unlinkat,rmdir -F pid=PID -k del\n",
    "-a never,task -F uid=54321\n\
     -a always,exit -S all -F pid=PID -F perm=w -F success=1 -k anyw\n",
];

#[test]
fn watches_dirs_and_exe_by_inode() {
    let Some(r) = run(
        "watches_dirs_and_exe_by_inode",
        &Setup {
            sets: &PATH_SETS,
            args: &["paths", "DIR"],
            auid: None,
            // BPF compares inodes: the hard link is the watched file (the kernel agrees);
            // the reference compares names.
            exempt: &|e| touches(e, "sub/hard"),
        },
    ) else {
        return;
    };
    dump(&r);
    assert!(r.stdout.contains("paths done"), "{}", r.stdout);
    let later = format!("{}/later", r.dir);
    // The file created after the rules, and again after rename replaced it.
    let opens: Vec<&SyscallEvent> = r
        .judged()
        .filter(|e| name(e) == "open" && names_of(e).contains(&later))
        .collect();
    assert_eq!(opens.len(), 3, "{opens:?}");
    for o in &opens {
        assert_eq!(o.undecided, 0, "{o:?}");
        assert_eq!(r.keys(o, 0), Some(vec!["later".to_string()]), "{o:?}");
    }
    // A hard link to a watched file (it existed when the rules were loaded) is the
    // watched inode.
    let hard = r
        .judged()
        .find(|e| name(e) == "open" && touches(e, "sub/hard"))
        .expect("open of the hard link sent");
    assert_eq!(hard.undecided & 1, 0);
    assert_eq!(r.keys(hard, 0), Some(vec!["linked".to_string()]));
    // Names relative to a directory descriptor are placed under DIR/sub.
    for call in ["openat", "fchmodat", "unlinkat"] {
        let e = r.judged().find(|e| name(e) == call).expect(call);
        assert_eq!(e.undecided, 0, "{call}: {e:?}");
        assert_eq!(r.keys(e, 0), Some(vec!["subdir".to_string()]), "{call}");
    }
    let fchmod = r.judged().find(|e| name(e) == "fchmod").expect("fchmod");
    assert_eq!(r.keys(fchmod, 0), Some(vec!["subdir".to_string()]));
    assert_eq!(r.keys(fchmod, 1), Some(vec!["attr".to_string()]));
    // exe=: the workload's writes by its executable's inode.
    let by_exe = r
        .judged()
        .filter(|e| r.keys(e, 1) == Some(vec!["byexe".into()]));
    assert!(by_exe.count() >= 4);
    // Only names of several components relative to a directory above DIR/sub are left
    // to user space (the dir= tree cannot be told from their last component).
    for u in r.undecided() {
        assert!(
            names_of(u).iter().any(|n| n.starts_with("sub/")),
            "left to user space: {u:?}"
        );
    }
    assert!(r.undecided().len() <= 4, "{:?}", r.undecided());
    // Calls that found no child judge the names' directories (DIR/sub/ is in the tree).
    for call in ["unlink", "rename"] {
        let e = r
            .judged()
            .find(|e| name(e) == call && e.ret == -i64::from(libc::ENOENT))
            .unwrap_or_else(|| panic!("failed {call} sent"));
        assert_eq!(e.undecided, 0, "{call}: {e:?}");
        assert_eq!(r.keys(e, 0), Some(vec!["subdir".to_string()]), "{call}");
    }
    let mkdir = r
        .pairs
        .iter()
        .find(|(e, _)| name(e) == "mkdir" && e.ret == -i64::from(libc::EEXIST))
        .expect("mkdir EEXIST");
    assert!(mkdir.1.is_none(), "DIR itself is in no tree: {mkdir:?}");
    let sl = r.judged().find(|e| name(e) == "symlink").expect("symlink");
    assert_eq!(r.keys(sl, 0), Some(vec!["subdir".to_string()]));
    // Read-only opens skip the inode phase (perm prefilter): /etc/hostname is not sent.
    assert!(!r.judged().any(|e| touches(e, "/etc/hostname")));
}

#[test]
fn saddr_fam_and_exe_in_bpf() {
    let sets = [
        "-a always,exit -F arch=b64 -S connect,sendto -F saddr_fam=1 -k unix\n\
         -a always,exit -F arch=b64 -S connect -F saddr_fam=2 -F exe=EXE -k inet\n\
         -a always,exit -F arch=b64 -S socket -F exe!=EXE -k other-exe\n",
    ];
    let Some(r) = run(
        "saddr_fam_and_exe_in_bpf",
        &Setup {
            sets: &sets,
            args: &["sockets"],
            auid: None,
            exempt: &|_| false,
        },
    ) else {
        return;
    };
    dump(&r);
    assert!(r.undecided().is_empty(), "{:?}", r.undecided());
    let keys: Vec<_> = r.judged().filter_map(|e| r.keys(e, 0)).collect();
    let count = |k: &str| keys.iter().filter(|v| v[0] == k).count();
    assert_eq!(count("unix"), 2, "{keys:?}");
    assert_eq!(count("inet"), 1, "{keys:?}");
    assert_eq!(count("other-exe"), 0, "{keys:?}");
}

#[test]
fn task_list_in_bpf() {
    let sets = [
        // The child is excluded from rule set 0 whatever its exit rules say.
        "-a never,task -F pid=PID\n-a always,exit -S all -F pid=PID -k never-seen\n",
        // Rule set 1 records every syscall of the child (task rules take no key).
        "-a always,task -F pid=PID\n",
        // Rule set 2: a task rule that does not match, then exit rules.
        "-a never,task -F uid=54321\n-a always,exit -F arch=b64 -S unlink -F pid=PID -k del\n",
    ];
    let Some(r) = run(
        "task_list_in_bpf",
        &Setup {
            sets: &sets,
            args: &["files", "DIR"],
            auid: None,
            exempt: &|_| false,
        },
    ) else {
        return;
    };
    dump(&r);
    assert!(r.undecided().is_empty(), "{:?}", r.undecided());
    let n = r.pairs.len();
    let sent = r.judged().count();
    assert_eq!(
        sent, n,
        "every syscall of the child is recorded by rule set 1"
    );
    for e in r.judged() {
        assert_eq!(e.rulesets & 1, 0, "rule set 0 excluded the task: {e:?}");
        assert_eq!(r.keys(e, 1), Some(Vec::new()), "{e:?}");
    }
    let unlink = r.judged().find(|e| name(e) == "unlink").expect("unlink");
    assert_eq!(r.keys(unlink, 2), Some(vec!["del".to_string()]));
    // The verdict is cached per task (the counters are the whole machine's: every syscall
    // of every task is a candidate with an always,task rule).
    let walks = r.counters.get(Counter::TaskWalks);
    let candidates = r.counters.get(Counter::Candidates);
    assert!(
        walks >= 1 && walks * 4 < candidates,
        "{walks} walks for {candidates} candidates"
    );
}

/// Debian's 30-stig.rules shape (watches of identity files, dir= trees with perm=wa,
/// auid>=1000 rules) over the files and paths of a login session: nothing is left to user
/// space but names BPF cannot place.
#[test]
fn stig_like_set_is_judged_in_bpf() {
    let stig = "\
-a always,exit -F arch=b64 -S adjtimex,settimeofday -F key=time-change
-w DIR/later -p wa -k identity
-w DIR/passwd -p wa -k identity
-a always,exit -F dir=DIR/sub/ -F perm=wa -F key=system-locale
-a always,exit -F arch=b64 -S chmod,fchmod,fchmodat -F auid>=1000 -F auid!=unset -F key=perm_mod
-a always,exit -F arch=b64 -S chown,fchown,lchown,fchownat -F auid>=1000 -F auid!=unset -F key=perm_mod
-a always,exit -F arch=b64 -S open,truncate,ftruncate,creat,openat,openat2,open_by_handle_at -F exit=-EACCES -F auid>=1000 -F auid!=unset -F key=access
-a always,exit -F arch=b64 -S open,truncate,ftruncate,creat,openat,openat2,open_by_handle_at -F exit=-EPERM -F auid>=1000 -F auid!=unset -F key=access
-a always,exit -F arch=b64 -S unlink,unlinkat,rename,renameat -F auid>=1000 -F auid!=unset -F key=delete
-w DIR/sub/ -p wa -k actions
";
    for args in [["files", "DIR"], ["paths", "DIR"]] {
        let Some(r) = run(
            "stig_like_set_is_judged_in_bpf",
            &Setup {
                sets: &[stig],
                args: &args,
                auid: Some(1000),
                exempt: &|e| touches(e, "sub/hard"),
            },
        ) else {
            return;
        };
        dump(&r);
        let recorded = r.judged().filter(|e| e.rulesets != 0).count();
        assert!(recorded >= 3, "{args:?}: only {recorded} recorded");
        for u in r.undecided() {
            assert!(
                names_of(u).iter().any(|n| n.starts_with("sub/")),
                "{args:?}: left to user space: {u:?}"
            );
        }
        eprintln!(
            "{args:?}: {} syscalls, {} candidates, {} sent, {} undecided",
            r.pairs.len(),
            r.counters.get(Counter::Candidates),
            r.judged().count(),
            r.undecided().len()
        );
    }
}
