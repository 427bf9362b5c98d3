//! Privileged: vigil-rules' compiled index judged in BPF, against the reference evaluator
//! (the harness in `rx_diff`: a second loader lists every syscall of the child).

mod rx_diff;

use rx_diff::{dump, name, run, Setup};
use vigil_abi::Counter;

const SETS: [&str; 3] = [
    "-a never,exit -F arch=b64 -S openat -F pid=PID -F success=0\n\
     -a always,exit -F arch=b64 -S open,openat,creat -F pid=PID -k rs0-open -k rs0-2nd\n\
     -a always,exit -F arch=b64 -S chmod -F a1=0600 -F pid=PID -k rs0-chmod\n\
     -a always,exit -F arch=b64 -S rename -F exit=0 -F ppid=ME -k rs0-rename\n\
     -a always,exit -F arch=b64 -S all -F uid=54321 -k rs0-nobody\n",
    "-a always,exit -F arch=b64 -S unlink,rename -F ppid=ME -k rs1-names\n\
     -a always,exit -S all -F pid=PID -F exit=-ENOENT -k rs1-enoent\n\
     -a always,exit -F arch=b64 -S chown -F auid!=4242 -F pid=PID -k rs1-chown -k x\n\
     -a never,exit -F arch=b64 -S creat -F pid=PID -k never-has-a-key\n\
     -a always,exit -F arch=b64 -S creat,chmod -F euid>=0 -F egid=0 -F pid=PID -k rs1-cc\n\
     -a always,exit -F arch=b64 -S chmod -C uid=obj_uid -F pid=PID -k rs1-own\n",
    "-a always,exit -F arch=b64 -S unlink -F dir=/tmp -F pid=PID -k rs2-dir\n\
     -a always,exit -F arch=b64 -S open,openat -F filetype=file -F perm=w -F pid=PID -k rs2-ft\n",
];

#[test]
fn bpf_verdicts_agree_with_user_space() {
    let Some(r) = run(
        "bpf_verdicts_agree_with_user_space",
        &Setup {
            sets: &SETS,
            args: &["files", "DIR"],
            auid: None,
            exempt: &|_| false,
        },
    ) else {
        return;
    };
    dump(&r);
    let wanted = r.judged().filter(|j| j.rulesets != 0).count();
    assert!(wanted >= 8, "only {wanted} wanted events");
    assert!(r.counters.get(Counter::RulesRun) > 0, "{}", r.counters);
    // Everything here is BPF's to judge, dir= and -C included.
    let undecided = r.undecided();
    assert!(undecided.is_empty(), "left to user space: {undecided:?}");
    // A rule with several keys decided in BPF.
    let open = r
        .judged()
        .find(|j| name(j) == "open" && j.ret >= 0)
        .expect("open");
    assert_eq!(
        r.keys(open, 0),
        Some(vec!["rs0-open".to_string(), "rs0-2nd".to_string()])
    );
}

/// Watches: `-w DIR` (a directory tree) and `-w DIR/a2` (a file that does not exist when
/// the rules are loaded: `rename` creates it) are judged in BPF, objects by inode, parent
/// directory and name.
#[test]
fn watches_are_judged_in_bpf() {
    let sets = [
        SETS[0],
        SETS[1],
        SETS[2],
        "-w DIR/a2 -p wa -k rs3-file\n-w DIR -p wa -k rs3-dir\n\
         -a always,exit -F arch=b64 -S chdir -F pid=PID -k rs3-cd\n",
    ];
    let Some(r) = run(
        "watches_are_judged_in_bpf",
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
    let undecided = r.undecided();
    assert!(undecided.is_empty(), "left to user space: {undecided:?}");
    let cd = r.judged().find(|e| name(e) == "chdir").expect("chdir");
    assert_eq!(cd.rulesets, 1 << 3);
    let rename = r.judged().find(|e| name(e) == "rename").expect("rename");
    // The file watch (on the target name), placed first, overrides the directory watch
    // (the inode phase may override a later rule).
    assert_eq!(r.keys(rename, 3), Some(vec!["rs3-file".to_string()]));
    let chmod = r.judged().find(|e| name(e) == "chmod").expect("chmod");
    assert_eq!(r.keys(chmod, 3), Some(vec!["rs3-dir".to_string()]));
}
