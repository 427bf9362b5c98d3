//! The log writer: file modes, refusal of unsafe paths, rotation, flushing, losses.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use vigil::config::{Config, Flush, MaxLogFileAction, OverflowAction, Space};
use vigil::logfile::{
    check_dir, numbered, FileOptions, LogError, LogFile, LossCause, Stamper, WriterConfig,
    WriterHandle,
};
use vigil_format::{f, rt, Event, Identity, Record, Value};

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Skips (returns false) when not root, unless privileged tests are required.
fn need_root(what: &str) -> bool {
    if is_root() {
        return true;
    }
    assert!(
        std::env::var("VIGIL_REQUIRE_PRIVILEGED").as_deref() != Ok("1"),
        "{what} needs root and VIGIL_REQUIRE_PRIVILEGED=1"
    );
    eprintln!("skipping {what}: not root");
    false
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn opts() -> FileOptions {
    FileOptions {
        flush: Flush::None,
        gid: None,
    }
}

fn user_event(serial: u64, text: &str) -> Event {
    let mut r = Record::new(rt::USER);
    r.push(f::PID, Value::Dec(1));
    r.push(f::UID, Value::Dec(0));
    r.push(f::AUID, Value::Dec(u64::from(u32::MAX)));
    r.push(f::SES, Value::Dec(u64::from(u32::MAX)));
    r.push(f::MSG, Value::Msg(text.as_bytes().to_vec()));
    Event {
        id: Identity::new(1_700_000_000, 1, serial),
        records: vec![r],
    }
}

fn writer_cfg(file: &Path) -> WriterConfig {
    let mut c = WriterConfig::from_config(&Config::default()).unwrap();
    c.file = file.to_path_buf();
    c.disk.space_left = Space::Mib(0);
    c.disk.admin_space_left = Space::Mib(0);
    c.file_opts.flush = Flush::None;
    c
}

fn spawn(cfg: WriterConfig, q: usize) -> WriterHandle {
    WriterHandle::spawn(cfg, q, Arc::new(Stamper::new()), Box::new(|_, _| {}))
        .unwrap_or_else(|e| panic!("writer: {e}"))
}

fn lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn active_log_is_0600_and_append_only() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("audit.log");
    let mut lf = LogFile::open(&p, &opts()).unwrap();
    lf.append(b"one\n").unwrap();
    assert_eq!(mode(&p), 0o600);
    // An existing file with loose permissions is tightened.
    drop(lf);
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut lf = LogFile::open(&p, &opts()).unwrap();
    assert_eq!(mode(&p), 0o600);
    assert_eq!(lf.size(), 4, "size is taken from the existing file");
    lf.append(b"two\n").unwrap();
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "one\ntwo\n");
    // The descriptor is append-only.
    let f = lf.try_clone_file().unwrap();
    let fl = unsafe { libc::fcntl(std::os::fd::AsRawFd::as_raw_fd(&f), libc::F_GETFL) };
    assert_ne!(fl & libc::O_APPEND, 0, "O_APPEND missing");
}

#[test]
fn torn_last_line_is_cut_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("audit.log");
    std::fs::write(
        &p,
        "type=USER msg=audit(1.000:1): a\ntype=USER msg=audit(1.0",
    )
    .unwrap();
    let lf = LogFile::open(&p, &opts()).unwrap();
    assert_eq!(lf.size(), 32);
    assert_eq!(
        std::fs::read_to_string(&p).unwrap(),
        "type=USER msg=audit(1.000:1): a\n"
    );
    // Whole lines are left alone; a file with no newline at all is emptied.
    drop(lf);
    LogFile::open(&p, &opts()).unwrap();
    assert_eq!(std::fs::metadata(&p).unwrap().len(), 32);
    std::fs::write(&p, "partial").unwrap();
    LogFile::open(&p, &opts()).unwrap();
    assert_eq!(std::fs::metadata(&p).unwrap().len(), 0);
}

#[test]
fn log_group_gives_0640() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("audit.log");
    let o = FileOptions {
        flush: Flush::None,
        gid: Some(4),
    };
    let mut lf = LogFile::open(&p, &o).unwrap();
    assert_eq!(mode(&p), 0o640);
    if is_root() {
        assert_eq!(std::fs::metadata(&p).unwrap().gid(), 4);
    }
    lf.append(b"x\n").unwrap();
    assert!(lf.rotate(2).unwrap());
    assert_eq!(mode(&numbered(&p, 1)), 0o440);
}

#[test]
fn symlink_is_refused_and_its_target_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("elsewhere");
    std::fs::write(&target, "secret\n").unwrap();
    let p = dir.path().join("audit.log");
    std::os::unix::fs::symlink(&target, &p).unwrap();
    let err = LogFile::open(&p, &opts()).unwrap_err();
    assert!(matches!(err, LogError::File { .. }), "{err:?}");
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "secret\n");
}

#[test]
fn non_regular_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("audit.log");
    std::fs::create_dir(&p).unwrap();
    let err = LogFile::open(&p, &opts()).unwrap_err();
    assert!(err.to_string().contains(&p.display().to_string()), "{err}");
}

#[test]
fn writable_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("logs");
    std::fs::create_dir(&d).unwrap();
    for m in [0o777, 0o770, 0o1777] {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(m)).unwrap();
        let err = LogFile::open(&d.join("audit.log"), &opts()).unwrap_err();
        assert!(matches!(err, LogError::Dir { .. }), "{m:o}: {err:?}");
        assert!(err.to_string().contains("writable"), "{err}");
        assert!(
            !d.join("audit.log").exists(),
            "file created despite refusal"
        );
    }
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o750)).unwrap();
    check_dir(&d).unwrap();
}

#[test]
fn directory_owned_by_another_user_is_refused() {
    if !need_root("chown test") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("logs");
    std::fs::create_dir(&d).unwrap();
    std::os::unix::fs::chown(&d, Some(65534), None).unwrap();
    let err = check_dir(&d).unwrap_err();
    assert!(err.to_string().contains("owned by uid 65534"), "{err}");
}

#[test]
fn missing_directory_is_created_0700() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("new");
    LogFile::open(&d.join("audit.log"), &opts()).unwrap();
    assert_eq!(mode(&d), 0o700);
}

#[test]
fn rotation_names_counts_and_modes() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("audit.log");
    let mut lf = LogFile::open(&p, &opts()).unwrap();
    for i in 0..5 {
        lf.append(format!("gen{i}\n").as_bytes()).unwrap();
        assert!(lf.rotate(3).unwrap());
    }
    lf.append(b"gen5\n").unwrap();
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "gen5\n");
    assert_eq!(std::fs::read_to_string(numbered(&p, 1)).unwrap(), "gen4\n");
    assert_eq!(std::fs::read_to_string(numbered(&p, 2)).unwrap(), "gen3\n");
    assert!(!numbered(&p, 3).exists(), "num_logs = 3 keeps .1 and .2");
    assert_eq!(mode(&p), 0o600);
    assert_eq!(mode(&numbered(&p, 1)), 0o400);
    assert_eq!(mode(&numbered(&p, 2)), 0o400);
    // A smaller num_logs later removes the excess.
    assert!(lf.rotate(2).unwrap());
    assert!(!numbered(&p, 2).exists());
    // Below 2, rotation is disabled.
    assert!(!lf.rotate(1).unwrap());
    assert_eq!(std::fs::read_to_string(&p).unwrap(), "");
}

#[test]
fn keep_logs_never_removes() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("audit.log");
    let mut lf = LogFile::open(&p, &opts()).unwrap();
    for i in 0..6 {
        lf.append(format!("gen{i}\n").as_bytes()).unwrap();
        lf.shift().unwrap();
    }
    for n in 1..=6u32 {
        let want = format!("gen{}\n", 6 - n);
        assert_eq!(std::fs::read_to_string(numbered(&p, n)).unwrap(), want);
    }
    assert!(!numbered(&p, 7).exists());
}

#[test]
fn writer_writes_formats_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("audit.log");
    let mut c = writer_cfg(&p);
    c.overflow = OverflowAction::Block;
    let w = spawn(c, 4);
    let sub = w.submitter();
    for i in 0..100 {
        assert!(sub.submit(user_event(i, &format!("hello {i}"))));
    }
    assert!(sub.barrier());
    let st = w.shared().snapshot();
    assert_eq!(st.events_written, 100);
    assert_eq!(st.state, "writing");
    w.stop(Some(user_event(1000, "bye")));
    let l = lines(&p);
    assert_eq!(l.len(), 101);
    assert_eq!(
        l[7],
        "type=USER msg=audit(1700000000.001:7): pid=1 uid=0 auid=4294967295 ses=4294967295 \
         msg='hello 7'"
    );
    assert!(l[100].ends_with("msg='bye'"));
}

#[test]
fn size_limit_rotates_and_keeps_whole_events() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("audit.log");
    let mut c = writer_cfg(&p);
    c.max_log_file = 4096;
    c.num_logs = 3;
    let w = spawn(c, 8);
    let sub = w.submitter();
    for i in 0..400 {
        sub.submit_wait(user_event(i, "0123456789012345678901234567890123456789"));
    }
    sub.barrier();
    assert!(w.shared().rotations.load(Ordering::Relaxed) >= 2);
    w.stop(None);
    for path in [p.clone(), numbered(&p, 1), numbered(&p, 2)] {
        let len = std::fs::metadata(&path).unwrap().len();
        assert!(len <= 4096, "{} is {len} bytes", path.display());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.ends_with('\n'), "torn line in {}", path.display());
    }
    assert!(!numbered(&p, 3).exists());
    // The newest events are in the active log, in order.
    let last = lines(&p);
    assert!(last.last().unwrap().contains(":399): "), "{last:?}");
}

#[test]
fn max_log_file_suspend_counts_losses_until_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("audit.log");
    let mut c = writer_cfg(&p);
    c.max_log_file = 2000;
    c.max_log_file_action = MaxLogFileAction::Suspend;
    let w = spawn(c, 8);
    let sub = w.submitter();
    for i in 0..100 {
        sub.submit_wait(user_event(i, "abcdefghijabcdefghijabcdefghij"));
    }
    sub.barrier();
    let st = w.shared().snapshot();
    assert_eq!(st.state, "suspended (max_log_file)");
    let lost = w.shared().lost(LossCause::MaxLogFile);
    assert_eq!(st.events_written + lost, 100);
    assert!(lost > 0);
    // Rotation resumes; the first lines of the new file report the loss.
    w.rotate(Some(user_event(5000, "rotated"))).unwrap();
    sub.barrier();
    w.stop(None);
    let l = lines(&p);
    assert!(
        l[0].starts_with("type=VIGIL_LOSS ")
            && l[0].ends_with(&format!("source=max_log_file lost={lost} total={lost}")),
        "{l:?}"
    );
    assert!(l[1].ends_with("msg='rotated'"), "{l:?}");
}

#[test]
fn queue_overflow_is_counted_and_reported_in_band() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    let mut cfg = writer_cfg(&log);
    cfg.overflow = OverflowAction::Drop;
    // No size limit: on a fast machine most of the flood is accepted and would rotate the
    // default 8 MiB log, taking earlier reports and events out of the file this test reads.
    cfg.max_log_file = 0;
    let w = spawn(cfg, 1);
    let sub = w.submitter();
    let n = 200_000u64;
    let mut accepted = 0u64;
    for i in 0..n {
        if sub.submit(user_event(i, "flood")) {
            accepted += 1;
        }
    }
    sub.barrier();
    let lost = w.shared().lost(LossCause::QueueFull);
    assert_eq!(accepted + lost, n, "every event is written or counted");
    assert!(lost > 0, "a queue of 1 under a flood must drop");
    // The loss is reported with the next write.
    sub.submit_wait(user_event(n, "after"));
    w.stop(None);
    let l = lines(&log);
    let reports: Vec<&String> = l
        .iter()
        .filter(|x| x.starts_with("type=VIGIL_LOSS "))
        .collect();
    let last = reports.last().expect("no VIGIL_LOSS record");
    assert!(
        last.contains("source=queue_full") && last.ends_with(&format!("total={lost}")),
        "{last}"
    );
    // The reports' `lost=` add up to the total: nothing is counted twice or missed.
    let sum: u64 = reports
        .iter()
        .map(|r| {
            let v = r.split(" lost=").nth(1).unwrap().split(' ').next().unwrap();
            v.parse::<u64>().unwrap()
        })
        .sum();
    assert_eq!(sum, lost);
    let user_lines = l.iter().filter(|x| x.starts_with("type=USER ")).count() as u64;
    assert_eq!(user_lines, accepted + 1);
}

#[test]
fn incremental_flush_modes_write_everything() {
    for flush in [
        Flush::Incremental,
        Flush::IncrementalAsync,
        Flush::Data,
        Flush::Sync,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("audit.log");
        let mut c = writer_cfg(&p);
        c.file_opts.flush = flush;
        c.freq = 7;
        let w = spawn(c, 16);
        let sub = w.submitter();
        for i in 0..50 {
            sub.submit_wait(user_event(i, "x"));
        }
        w.stop(None);
        assert_eq!(lines(&p).len(), 50, "{flush:?}");
    }
}

/// A tmpfs mounted for one test and unmounted on drop, even on panic.
/// The mount point, and the directory holding it (removed after unmounting).
struct Tmpfs(PathBuf, #[allow(dead_code)] tempfile::TempDir);

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        let ok = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(&mnt)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(
                std::env::var("VIGIL_REQUIRE_PRIVILEGED").as_deref() != Ok("1"),
                "cannot mount a tmpfs"
            );
            eprintln!("skipping: cannot mount a tmpfs");
            return None;
        }
        Some(Tmpfs(mnt, dir))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn full_disk_suspends_counts_and_resumes() {
    if !need_root("tmpfs full-disk test") {
        return;
    }
    let Some(fs) = Tmpfs::mount("512k") else {
        return;
    };
    let p = fs.0.join("audit.log");
    let filler = fs.0.join("filler");
    // Leave about 64 KiB free.
    std::fs::write(&filler, vec![0u8; 448 << 10]).unwrap();
    let w = spawn(writer_cfg(&p), 64);
    let sub = w.submitter();
    let n = 2000u64;
    for i in 0..n {
        sub.submit_wait(user_event(
            i,
            "a fairly long message to fill the disk quickly",
        ));
    }
    sub.barrier();
    let st = w.shared().snapshot();
    let lost = w.shared().lost(LossCause::DiskFull);
    assert!(lost > 0, "disk never filled: {st:?}");
    assert_eq!(st.events_written + lost, n);
    assert_eq!(st.state, "suspended (disk_full)");
    // Every whole event that had room was written, however big the batch that hit the wall.
    assert!(st.events_written > 0, "nothing written: {st:?}");
    // Whole lines only.
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.ends_with('\n'));
    assert_eq!(text.lines().count() as u64, st.events_written);
    // Free space: the writer notices by itself, resumes and reports the loss first.
    std::fs::remove_file(&filler).unwrap();
    let t0 = std::time::Instant::now();
    while w.shared().suspended().is_some() {
        assert!(
            t0.elapsed().as_secs() < 60,
            "writer did not resume after space returned"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    sub.submit_wait(user_event(9999, "back"));
    w.stop(None);
    let l = lines(&p);
    let tail = &l[st.events_written as usize..];
    assert!(
        tail[0].contains("source=disk_full") && tail[0].ends_with(&format!("total={lost}")),
        "{tail:?}"
    );
    assert!(tail.last().unwrap().ends_with("msg='back'"));
}

#[test]
fn low_space_threshold_triggers_its_action() {
    if !need_root("tmpfs space_left test") {
        return;
    }
    let Some(fs) = Tmpfs::mount("1m") else {
        return;
    };
    let p = fs.0.join("audit.log");
    let mut c = writer_cfg(&p);
    c.disk.space_left = Space::Percent(50);
    c.disk.space_left_action = vigil::config::DiskAction::Suspend;
    let w = spawn(c, 64);
    let sub = w.submitter();
    assert_eq!(w.shared().suspended(), None);
    // Fill past half, then nudge the writer past its byte-count check.
    std::fs::write(fs.0.join("filler"), vec![0u8; 600 << 10]).unwrap();
    let t0 = std::time::Instant::now();
    while w.shared().suspended().is_none() {
        assert!(t0.elapsed().as_secs() < 60, "space_left never acted");
        sub.submit_wait(user_event(1, "tick"));
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(w.shared().suspended(), Some(LossCause::LowSpace));
    std::fs::remove_file(fs.0.join("filler")).unwrap();
    let t0 = std::time::Instant::now();
    while w.shared().suspended().is_some() {
        assert!(t0.elapsed().as_secs() < 60, "did not resume");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    w.stop(None);
}
