//! Privileged: `OBJ_PID` identities from the `signal_generate` tracepoint: the target's tgid,
//! uid, login uid, session and comm as the kernel saw it when the signal was generated, so a
//! target that is gone when user space reads the event is still described. Signal 0
//! generates nothing: its `OBJ_PID` stays unfilled (user space reads /proc).

mod common;

use vigil_abi::{Counter, VIGIL_OBJ_F_FOUND};
use vigil_bpf::convert::c_str;

#[test]
fn kill_target_identity_from_signal_generate() {
    let Some(mut kit) = common::kit("kill_target_identity_from_signal_generate") else {
        return;
    };
    let before = kit.loader.counters().expect("counters");
    let (out, events) = common::run(&mut kit, &["kill", "tgkill"], &["kill-child"]);
    let child = common::field(&out, "kill-child", "pid");
    assert_eq!(common::field(&out, "kill-child", "rc"), 0, "{out}");
    let kill = events
        .iter()
        .find(|e| e.nr == common::nr("kill"))
        .unwrap_or_else(|| panic!("no kill event: {events:?}"));
    let o = kill.obj_pid.expect("OBJ_PID item");
    assert_ne!(o.flags & VIGIL_OBJ_F_FOUND, 0, "{o:?}");
    assert_eq!(i64::from(o.pid), child);
    assert_eq!(o.sig, libc::SIGTERM as u32);
    assert_eq!(c_str(&o.comm), b"vigil-target");
    assert_eq!(o.uid, kill.task.uid);
    assert_eq!((o.auid, o.sessionid), (kill.task.auid, kill.task.sessionid));
    // tgkill(self, 0): no signal is generated; nothing is kept for it.
    let tg = events
        .iter()
        .find(|e| e.nr == common::nr("tgkill"))
        .expect("tgkill event");
    let o = tg.obj_pid.expect("OBJ_PID item");
    assert_eq!(o.flags & VIGIL_OBJ_F_FOUND, 0, "{o:?}");
    let d = kit.loader.counters().expect("counters").since(&before);
    assert!(d.get(Counter::KillTargets) >= 1, "{d}");
}
