//! io_uring: fio as an unmodified third-party client, `IOSQE_CQE_SKIP_SUCCESS`, no rules no
//! hooks, and the BPF-LSM path (present in the object, refused by this kernel).

mod uring_kit;

use std::ffi::CString;
use std::time::Duration;

use io_uring::{opcode, squeue, types};
use object::Object as _;
use uring_kit::*;
use vigil_bpf::convert::Clock;
use vigil_bpf::uring::loader::LSM_PROGS;
use vigil_bpf::uring::{convert, NoCompletion, PolicyMode, UringConfig, UringOptions, UringOutput};

fn our_links(ids: &[u32]) -> usize {
    aya::programs::loaded_links()
        .filter_map(Result::ok)
        .filter(|l| ids.contains(&l.program_id()))
        .count()
}

#[test]
fn fio_io_uring_engine_is_audited_op_by_op() {
    let Some(mut kit) = kit("uring fio") else {
        return;
    };
    let Ok(fio) = which("fio") else {
        assert!(
            std::env::var("VIGIL_REQUIRE_PRIVILEGED").as_deref() != Ok("1"),
            "fio missing"
        );
        eprintln!("SKIP uring fio: fio not installed (scripts/deps.sh)");
        return;
    };
    let dir = tempfile::tempdir_in("/dev/shm").unwrap();
    let file = dir.path().join("fio.data");
    let fname = file.to_str().unwrap();
    // Lay the file out first, so that only fio's reads go through io_uring.
    std::fs::write(&file, vec![7u8; 1 << 20]).unwrap();
    kit.loader
        .apply(&config(&["read", "readv", "read_fixed"]))
        .expect("apply");
    let out = std::process::Command::new(&fio)
        .args([
            "--name=vigil",
            "--ioengine=io_uring",
            "--size=1M",
            "--bs=4k",
            "--rw=randread",
            "--iodepth=8",
            "--output-format=json",
        ])
        .arg(format!("--filename={fname}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "fio: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("fio json");
    let ios = v["jobs"][0]["read"]["total_ios"].as_u64().unwrap() as usize;
    assert_eq!(ios, 256);
    let clock = Clock::now();
    let mine = |o: &UringOutput| match o {
        UringOutput::Op(e) => path_names(e, clock).first().is_some_and(|p| p == fname),
        UringOutput::Denial(_) => false,
    };
    let got = collect(&mut kit.reader, Duration::from_secs(10), |o| {
        o.iter().filter(|x| mine(x)).count() >= ios
    });
    kit.loader.apply(&UringConfig::default()).expect("clear");
    let evs: Vec<_> = got
        .iter()
        .filter(|o| mine(o))
        .map(|o| match o {
            UringOutput::Op(e) => &**e,
            UringOutput::Denial(_) => unreachable!(),
        })
        .collect();
    let c = kit.loader.counters().unwrap();
    assert_eq!(evs.len(), ios, "fio did {ios} reads; {c}");
    assert_eq!(c.lost(), 0, "{c}");
    for e in &evs {
        let raw = convert::to_raw(e, &clock);
        assert_eq!(raw.exit, 4096);
        assert_eq!(
            raw.task.exe.as_ref().unwrap().0,
            fio.as_os_str().as_encoded_bytes()
        );
        assert_eq!(raw.task.comm.0, b"fio");
    }
    let key = vigil_testkit::unique_key("fio");
    let rules = vigil_rules::parse_str(
        &format!("-a always,io_uring -S read,readv,read_fixed -k {key}\n"),
        "t",
    )
    .unwrap()
    .rules;
    let text = audit_text(&evs, &[], Some(&rules));
    let found = ausearch(&text, &["-k", &key, "-f", fname]);
    assert!(found.success(), "{}", found.stderr);
    assert_eq!(found.stdout.matches("type=URINGOP").count(), ios);
}

fn which(name: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .find(|p| p.exists())
        })
        .ok_or(())
}

#[test]
fn cqe_skip_success_is_recorded_without_a_completion() {
    let opts = UringOptions {
        exclude_self: false,
        ..UringOptions::default()
    };
    let Some(mut kit) = kit_with("uring cqe_skip", &opts) else {
        return;
    };
    kit.loader.apply(&config(&["openat"])).expect("apply");
    let dir = tempfile::tempdir().unwrap();
    let ok = dir.path().join("present");
    std::fs::write(&ok, b"x").unwrap();
    let ok_c = CString::new(ok.to_str().unwrap()).unwrap();
    let bad_c = CString::new(dir.path().join("absent").to_str().unwrap()).unwrap();
    let me = u64::from(std::process::id()) << 32;
    let mut ring = io_uring::IoUring::<squeue::Entry, io_uring::cqueue::Entry>::new(8).unwrap();
    let open = |p: &CString, ud: u64| {
        opcode::OpenAt::new(types::Fd(libc::AT_FDCWD), p.as_ptr())
            .flags(libc::O_RDONLY | libc::O_CLOEXEC)
            .build()
            .flags(squeue::Flags::SKIP_SUCCESS)
            .user_data(ud)
    };
    // SAFETY: the path strings outlive the submission.
    unsafe {
        ring.submission().push(&open(&ok_c, me | 1)).unwrap();
        ring.submission().push(&open(&bad_c, me | 2)).unwrap();
    }
    ring.submit_and_wait(1).unwrap();
    let cqes: Vec<(u64, i32)> = ring
        .completion()
        .map(|c| (c.user_data(), c.result()))
        .collect();
    assert_eq!(
        cqes,
        vec![(me | 2, -libc::ENOENT)],
        "only the failure posts a completion"
    );
    // The skipped op is delivered once the joiner gave up on its completion
    // (JoinLimits::skip_wait, 1 s): leave a loaded machine room beyond that.
    let got = collect(&mut kit.reader, Duration::from_secs(10), |o| {
        ops_of(o, std::process::id()).len() >= 2
    });
    let pending_before = kit.loader.pending();
    let swept = kit.loader.sweep_pending(Duration::ZERO, None);
    kit.loader.apply(&UringConfig::default()).expect("clear");
    let evs = ops_of(&got, std::process::id());
    assert_eq!(evs.len(), 2, "{evs:#?}");
    let skipped = evs
        .iter()
        .find(|e| e.submit.op.user_data == me | 1)
        .unwrap();
    assert_eq!(skipped.missing, Some(NoCompletion::Skipped));
    assert_eq!(convert::result(skipped), 0);
    assert_eq!(
        path_names(skipped, Clock::now()),
        vec![ok.to_str().unwrap().to_string()]
    );
    let failed = evs
        .iter()
        .find(|e| e.submit.op.user_data == me | 2)
        .unwrap();
    assert_eq!(convert::result(failed), -i64::from(libc::ENOENT));
    // The successful skip left a pending entry in BPF until swept (or its request reused).
    assert_eq!(swept, pending_before);
    assert_eq!(kit.loader.pending(), 0);
    assert_eq!(kit.reader.stats().join.skipped, 1);
}

#[test]
fn nothing_is_attached_without_rules_or_policy() {
    let Some(mut kit) = kit("uring no_rules_no_hooks") else {
        return;
    };
    let ids = kit.loader.program_ids();
    assert_eq!(our_links(&ids), 0, "after load");
    kit.loader.apply(&config(&["openat"])).expect("apply");
    assert_eq!(our_links(&ids), 4, "the four tracepoints");
    kit.loader.apply(&UringConfig::default()).expect("clear");
    assert_eq!(our_links(&ids), 0, "after the rules went");
    assert!(!kit.loader.is_attached());
    // Nothing runs: an io_uring op leaves the counters alone.
    let before = kit.loader.counters().unwrap();
    let out = spawn(&["msg-ring"]).wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        kit.loader
            .counters()
            .unwrap()
            .since(&before)
            .get(vigil_abi::UringCounter::Candidates),
        0
    );
}

#[test]
fn lsm_programs_are_in_the_object() {
    // The LSM deny path exists even where the kernel refuses it: each hook's program is in
    // the object, in the section that names its hook.
    let file = object::File::parse(vigil_bpf::object::OBJECT).unwrap();
    for (prog, hook) in LSM_PROGS {
        let sec = format!("lsm/{hook}");
        assert!(
            file.section_by_name(&sec).is_some(),
            "{prog}: no section {sec}"
        );
    }
    assert_eq!(PolicyMode::select(false).as_str(), "cgroup+kill");
}

#[test]
fn forcing_lsm_mode_on_a_kernel_that_refuses_it_fails_clearly() {
    if !vigil_testkit::require(
        "uring forcing_lsm",
        &[vigil_testkit::Need::Root, vigil_testkit::Need::Btf],
    ) {
        return;
    }
    let _lock = vigil_testkit::kernel_lock();
    let opts = UringOptions {
        mode: Some(PolicyMode::Lsm),
        ..UringOptions::default()
    };
    match vigil_bpf::uring::UringLoader::load(&opts) {
        Ok(l) => assert!(
            l.features().lsm_load.is_ok(),
            "LSM mode without LSM programs"
        ),
        Err(e) => assert!(e.to_string().contains("refuses LSM programs"), "{e}"),
    }
}

#[test]
fn service_follows_rules_and_policy() {
    if !vigil_testkit::require(
        "uring service",
        &[vigil_testkit::Need::Root, vigil_testkit::Need::Btf],
    ) {
        return;
    }
    let _lock = vigil_testkit::kernel_lock();
    let mut s = vigil_bpf::uring::UringService::load(&UringOptions::default()).expect("load");
    let rules = vigil_rules::parse_str("-a always,io_uring -S openat -k svc\n", "t.rules")
        .unwrap()
        .rules;
    s.set_rules(&rules).expect("rules");
    assert!(
        s.describe().contains("tracepoints attached"),
        "{}",
        s.describe()
    );
    // A bad policy is refused whole, naming the place; the live one stays.
    let err = s
        .set_policy("-a deny,io_uring -F path=/etc\n", "p.policy")
        .unwrap_err();
    assert!(err.contains("p.policy:1:"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let out = spawn(&[
        "ops",
        "--mode",
        "plain",
        "--dir",
        dir.path().to_str().unwrap(),
    ])
    .wait_with_output()
    .unwrap();
    let pid = lines(&out)[0]["pid"].as_u64().unwrap() as u32;
    let mut raws = Vec::new();
    let t0 = std::time::Instant::now();
    while raws.len() < 2 && t0.elapsed() < Duration::from_secs(5) {
        s.wait(Duration::from_millis(50)).unwrap();
        s.poll(
            &mut |r| {
                if r.task.pid == pid {
                    raws.push(r);
                }
            },
            &mut |_, _, _| {},
        );
    }
    // The client opens twice through io_uring.
    assert_eq!(raws.len(), 2, "{raws:#?}");
    assert!(raws
        .iter()
        .all(|r| r.nr == 18 && r.kind == vigil_format::RawKind::Uring));
    // -e 0: nothing attached.
    let mut off = rules.clone();
    off.settings.enabled = Some(0);
    s.set_rules(&off).unwrap();
    assert!(s.describe().contains("nothing attached"));
    assert_eq!(s.lost().get("uring_ringbuf"), Some(&0));
}
