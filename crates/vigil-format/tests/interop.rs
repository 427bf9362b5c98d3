//! Interop: Debian's ausearch/aureport read what vigil writes, and vigil reads what the real
//! auditd writes on this machine.

mod common;

use std::io::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use vigil_format::text::parse_line;
use vigil_format::{rt, special, Event, TextMode, TextReader, TextWriter, Value};
use vigil_testkit::{require, unique_key, Auditd, Need};

fn run(tool: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(tool)
        .args(args)
        .env("LC_ALL", "C")
        .env("TZ", "UTC")
        .output()
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// ausearch's event blocks, each as its lines.
fn blocks(out: &str) -> Vec<String> {
    out.split("----")
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(str::to_string)
        .collect()
}

fn write_log(dir: &Path, mode: TextMode, events: &[Event]) -> std::path::PathBuf {
    let path = dir.join(format!("{mode:?}.log"));
    let mut w = TextWriter::new(mode, common::fixed_resolver());
    let mut out = Vec::new();
    for ev in events {
        w.write_event(ev, &mut out);
    }
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(&out))
        .expect("write log");
    path
}

fn all_events() -> Vec<Event> {
    let mut events = Vec::new();
    let mut serial = 1;
    for name in common::TRACES {
        let e = common::build_all(&common::load_trace(name), serial);
        serial += e.len() as u64;
        events.extend(e);
    }
    // Records the daemon writes itself.
    let who = special::Actor {
        pid: 77,
        uid: 0,
        auid: 1000,
        ses: 3,
    };
    for r in [
        special::daemon_start("0.1.0", "raw", "6.18.0", &who, true),
        special::config_change(&who, "add_rule", Some(b"rules-cfg"), 4, true),
        special::container_op(&who, 4242, 42, None, true),
        special::loss("ringbuf", 5, 17, Some(1)),
        special::daemon_rotate(&who),
        special::daemon_end(&who),
    ] {
        events.push(Event {
            id: vigil_format::Identity::new(1_700_000_100, 0, serial),
            records: vec![r],
        });
        serial += 1;
    }
    events
}

#[test]
fn ausearch_and_aureport_read_vigil_logs() {
    if !require("ausearch_and_aureport_read_vigil_logs", &[Need::AuditTools]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let events = all_events();
    for mode in [TextMode::Raw, TextMode::Enriched] {
        let log = write_log(dir.path(), mode, &events);
        let log_s = log.to_str().expect("utf-8 path");
        // -k KEY finds exactly the events carrying that key, with every record of them.
        for ev in &events {
            for key in ev.keys() {
                let key = std::str::from_utf8(key).expect("sample keys are text");
                let (ok, out, err) = run("ausearch", &["-if", log_s, "-k", key]);
                assert!(ok, "{mode:?}: ausearch -k {key:?} failed: {err}");
                // ausearch matches a key that contains the searched text.
                let want: Vec<&Event> = events
                    .iter()
                    .filter(|e| {
                        e.keys()
                            .iter()
                            .any(|k| k.windows(key.len()).any(|w| w == key.as_bytes()))
                    })
                    .collect();
                let got = blocks(&out);
                assert_eq!(got.len(), want.len(), "{mode:?}: -k {key:?}: {out}");
                for (block, e) in got.iter().zip(&want) {
                    let stamp = format!("msg=audit({}.{:03}:{})", e.id.sec, e.id.msec, e.id.serial);
                    assert_eq!(
                        block.matches(&stamp).count(),
                        e.records.len(),
                        "{mode:?}: -k {key:?}: records of {stamp} in {block}"
                    );
                }
            }
        }
        // -i interprets every event; check fields of the known ones.
        let (ok, out, err) = run("ausearch", &["-if", log_s, "-i"]);
        assert!(ok, "{mode:?}: ausearch -i: {err}");
        let got = blocks(&out);
        assert_eq!(
            got.len(),
            events.len(),
            "{mode:?}: ausearch -i event count:\n{out}"
        );
        let text = out.as_str();
        for want in [
            "syscall=openat success=yes exit=3",
            "exit=EACCES",
            "auid=unset",
            "name=/etc/passwd",
            "proctitle=cat /etc/passwd",
            "syscall=connect success=no exit=ECONNREFUSED",
            "saddr={ saddr_fam=inet laddr=127.0.0.1 lport=80 }",
            "a2=print('hello world')",
            "nametype=DELETE",
            "type=URINGOP",
            // ausearch 3.0.9 prints the op number uninterpreted.
            "uring_op=18",
            "key=uring",
            "type=CONTAINER_ID",
            "type=USER",
            "ocomm=sleep",
        ] {
            assert!(
                text.contains(want),
                "{mode:?}: ausearch -i output lacks {want:?}"
            );
        }
        if mode == TextMode::Enriched {
            assert!(
                text.contains("auid=alice uid=alice"),
                "ENRICHED names used by ausearch -i:\n{out}"
            );
        }
        // Other selectors on our records.
        // Other selectors on our records; the expected counts come from the model.
        let count = |pred: &dyn Fn(&Event) -> bool| events.iter().filter(|e| pred(e)).count();
        let sys = |e: &Event, f: vigil_format::FieldId| {
            e.first(rt::SYSCALL).and_then(|r| r.get(f)).cloned()
        };
        for (args, n) in [
            (
                vec!["-m", "URINGOP"],
                count(&|e| e.first(rt::URINGOP).is_some()),
            ),
            (
                vec!["-sc", "openat"],
                count(&|e| sys(e, vigil_format::f::SYSCALL) == Some(Value::Dec(257))),
            ),
            (
                vec!["-sc", "io_uring_enter"],
                count(&|e| sys(e, vigil_format::f::SYSCALL) == Some(Value::Dec(426))),
            ),
            (
                vec!["-sv", "no"],
                count(&|e| sys(e, vigil_format::f::SUCCESS) == Some(Value::tok("no"))),
            ),
            (
                vec!["-p", "5001"],
                count(&|e| sys(e, vigil_format::f::PID) == Some(Value::Dec(5001))),
            ),
            (
                vec!["-ua", "1000"],
                // ausearch does not parse vigil's own record types (CONTAINER_OP by name).
                count(&|e| {
                    e.main_record()
                        .is_some_and(|r| !r.rtype.def().is_some_and(|d| d.vigil))
                        && e.main_record().and_then(|r| r.get(vigil_format::f::AUID))
                            == Some(&Value::Dec(1000))
                }),
            ),
        ] {
            let mut a = vec!["-if", log_s];
            a.extend(&args);
            let (_, out, err) = run("ausearch", &a);
            assert_eq!(
                blocks(&out).len(),
                n,
                "{mode:?}: ausearch {args:?}: {err}\n{out}"
            );
        }
        let (_, out, _) = run("ausearch", &["-if", log_s, "-m", "USER"]);
        assert!(
            out.contains("msg='plain marker'"),
            "{mode:?}: ausearch -m USER:\n{out}"
        );
        for (t, n) in [
            ("DAEMON_START", 1),
            ("CONFIG_CHANGE", 1),
            ("DAEMON_END", 1),
            ("DAEMON_ROTATE", 1),
        ] {
            let (_, out, err) = run("ausearch", &["-if", log_s, "-m", t]);
            assert_eq!(blocks(&out).len(), n, "{mode:?}: ausearch -m {t}: {err}");
        }
        // aureport --summary runs clean and counts every event.
        let (ok, out, err) = run("aureport", &["-if", log_s, "--summary"]);
        assert!(
            ok && err.trim().is_empty(),
            "{mode:?}: aureport --summary: {err}\n{out}"
        );
        assert!(
            out.contains("Number of keys:"),
            "{mode:?}: aureport output:\n{out}"
        );
        assert!(
            out.contains("Number of changes in configuration: 1"),
            "{mode:?}: aureport output:\n{out}"
        );
    }
}

struct RuleCleanup;
impl Drop for RuleCleanup {
    fn drop(&mut self) {
        let _ = Command::new("auditctl").arg("-D").output();
    }
}

#[test]
fn vigil_reads_a_log_written_by_real_auditd() {
    if !require(
        "vigil_reads_a_log_written_by_real_auditd",
        &[Need::Root, Need::AuditNetlink, Need::AuditTools],
    ) {
        return;
    }
    // The fixture holds /tmp/vigil-kernel.lock and restores rules, enabled flag and pid on drop.
    let mut auditd = Auditd::start();
    let _cleanup = RuleCleanup;
    let key = unique_key("fmt-real");
    let dir = tempfile::tempdir().expect("tempdir");
    let watched = dir.path().join("watched file");
    std::fs::write(&watched, b"x").expect("create watched file");
    let w = watched.to_str().expect("utf-8");
    let (ok, _, err) = run("auditctl", &["-w", w, "-p", "wa", "-k", &key]);
    assert!(ok, "auditctl -w: {err}");
    let exec_key = format!("{key}-x");
    // ppid=: only our own printf; another process on the machine running /usr/bin/printf
    // meanwhile would add a second event.
    let ppid = format!("ppid={}", std::process::id());
    let (ok, _, err) = run(
        "auditctl",
        &[
            "-a",
            "always,exit",
            "-F",
            "arch=b64",
            "-S",
            "execve",
            "-F",
            "exe=/usr/bin/printf",
            "-F",
            &ppid,
            "-k",
            &exec_key,
        ],
    );
    assert!(ok, "auditctl -a: {err}");
    std::fs::write(&watched, b"changed").expect("trigger write");
    let long = "L".repeat(9000);
    let st = Command::new("/usr/bin/printf")
        .args(["%s", "two words", "tab\there", &long])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run printf");
    assert!(st.success());
    auditd.sync(Duration::from_secs(10));
    let _ = Command::new("auditctl").arg("-D").output();
    let log = std::fs::read(auditd.log_path()).expect("read auditd log");
    auditd.stop();

    // Every line parses, and written back (RAW) it is byte for byte auditd's line.
    let mut w = TextWriter::new(TextMode::Raw, vigil_format::NoResolver);
    for (n, line) in log
        .split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
    {
        let (id, rec) = parse_line(line).unwrap_or_else(|e| {
            panic!(
                "auditd log line {}: {e:?}: {}",
                n + 1,
                String::from_utf8_lossy(line)
            )
        });
        let mut out = Vec::new();
        w.write_record(&id, &rec, &mut out);
        let got = &out[..out.len() - 1];
        if got != line {
            let at = got
                .iter()
                .zip(line.iter())
                .position(|(a, b)| a != b)
                .unwrap_or(got.len().min(line.len()));
            let show = |b: &[u8]| {
                String::from_utf8_lossy(&b[at.saturating_sub(40)..(at + 40).min(b.len())])
                    .into_owned()
            };
            panic!(
                "auditd log line {} not reproduced at byte {at}: vigil {:?} auditd {:?}",
                n + 1,
                show(got),
                show(line)
            );
        }
    }
    // Grouped into events: the watch event has SYSCALL, CWD, PATH(s), PROCTITLE.
    let events: Vec<Event> = TextReader::new(log.as_slice(), "auditd.log")
        .map(|r| r.unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let with_key = |k: &str| {
        events
            .iter()
            .filter(|e| e.keys().contains(&k.as_bytes()))
            .collect::<Vec<_>>()
    };
    let watch = with_key(&key);
    assert!(
        !watch.is_empty(),
        "no event with key {key} in:\n{}",
        String::from_utf8_lossy(&log)
    );
    let ev = watch[0];
    let types: Vec<_> = ev.records.iter().map(|r| r.rtype).collect();
    assert_eq!(types.first(), Some(&rt::SYSCALL));
    assert_eq!(types.last(), Some(&rt::PROCTITLE));
    assert!(
        types.contains(&rt::CWD) && types.contains(&rt::PATH),
        "{types:?}"
    );
    let names: Vec<_> = ev
        .records
        .iter()
        .filter(|r| r.rtype == rt::PATH)
        .filter_map(|r| r.get(vigil_format::f::NAME))
        .collect();
    assert!(
        names
            .iter()
            .any(|v| matches!(v, Value::Str(b) if b.ends_with(b"watched file"))),
        "{names:?}"
    );
    // The execve event: argv reassembled from EXECVE records, long argument split by the kernel.
    let exec = with_key(&exec_key);
    assert_eq!(exec.len(), 1, "execve events with {exec_key}");
    let argv = exec[0].execve_argv();
    let want: Vec<Vec<u8>> = [
        "/usr/bin/printf",
        "%s",
        "two words",
        "tab\there",
        long.as_str(),
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    assert_eq!(argv, want);
    assert!(exec[0].records.iter().any(|r| r
        .fields
        .iter()
        .any(|f| matches!(f.name, vigil_format::FieldName::ArgPart(4, _)))));
}

#[test]
fn enriched_text_matches_real_auditd() {
    if !require(
        "enriched_text_matches_real_auditd",
        &[Need::Root, Need::AuditNetlink, Need::AuditTools],
    ) {
        return;
    }
    let opts = vigil_testkit::AuditdOptions {
        log_format: "ENRICHED".into(),
        ..vigil_testkit::AuditdOptions::default()
    };
    let mut auditd = Auditd::start_with(&opts);
    let _cleanup = RuleCleanup;
    let key = unique_key("fmt-enr");
    let dir = tempfile::tempdir().expect("tempdir");
    let watched = dir.path().join("f");
    std::fs::write(&watched, b"x").expect("create");
    let (ok, _, err) = run(
        "auditctl",
        &[
            "-w",
            watched.to_str().expect("utf-8"),
            "-p",
            "wa",
            "-k",
            &key,
        ],
    );
    assert!(ok, "auditctl -w: {err}");
    std::fs::write(&watched, b"y").expect("trigger");
    auditd.sync(Duration::from_secs(10));
    let _ = Command::new("auditctl").arg("-D").output();
    let log = std::fs::read(auditd.log_path()).expect("read log");
    auditd.stop();

    let mut checked = 0;
    let mut ours = TextWriter::new(TextMode::Enriched, vigil_format::SystemResolver::new());
    for (n, line) in log
        .split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
    {
        let (id, rec) = parse_line(line).unwrap_or_else(|e| panic!("line {}: {e:?}", n + 1));
        // Read back, written again as read: byte for byte.
        let mut out = Vec::new();
        TextWriter::new(TextMode::Enriched, vigil_format::NoResolver)
            .write_record(&id, &rec, &mut out);
        assert!(
            out[..out.len() - 1] == *line,
            "line {} not reproduced:\n{}",
            n + 1,
            String::from_utf8_lossy(line)
        );
        // Our own interpretation of the raw fields equals auditd's for the records of our event.
        if rec.rtype == rt::SYSCALL || rec.rtype == rt::PATH {
            let mut raw_only = rec.clone();
            raw_only.enriched.clear();
            let mut mine = Vec::new();
            ours.write_record(&id, &raw_only, &mut mine);
            assert_eq!(
                String::from_utf8_lossy(&mine[..mine.len() - 1]),
                String::from_utf8_lossy(line),
                "line {}: vigil's ENRICHED differs from auditd's",
                n + 1
            );
            checked += 1;
        }
    }
    eprintln!("checked {checked} records against auditd ENRICHED");
    assert!(checked >= 2, "no SYSCALL/PATH records in the ENRICHED log");
}
