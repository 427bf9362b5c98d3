//! Reader behaviour: grouping of interleaved events, closing rules, errors with line numbers,
//! bounded lines, and the writer's line limit.

use proptest::prelude::*;
use vigil_format::text::{GroupLimits, MAX_LINE};
use vigil_format::{
    f, rt, Error, Event, Field, Identity, Record, TextMode, TextReader, TextWriter, Value,
};

fn read(text: &[u8]) -> Vec<Result<Event, Error>> {
    TextReader::new(text, "test.log").collect()
}

fn ok(text: &[u8]) -> Vec<Event> {
    read(text)
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

#[test]
fn interleaved_events_are_grouped_by_identity() {
    let log = b"type=SYSCALL msg=audit(100.001:1): arch=c000003e syscall=2 key=\"a\"\n\
type=SYSCALL msg=audit(100.001:2): arch=c000003e syscall=3 key=\"b\"\n\
type=CWD msg=audit(100.001:1): cwd=\"/\"\n\
type=CWD msg=audit(100.001:2): cwd=\"/tmp\"\n\
type=PROCTITLE msg=audit(100.001:2): proctitle=\"b\"\n\
type=PROCTITLE msg=audit(100.001:1): proctitle=\"a\"\n";
    let evs = ok(log);
    // Completed in the order their PROCTITLE arrived.
    assert_eq!(
        evs.iter().map(|e| e.id.serial).collect::<Vec<_>>(),
        vec![2, 1]
    );
    for e in &evs {
        assert_eq!(
            e.records.iter().map(|r| r.rtype).collect::<Vec<_>>(),
            vec![rt::SYSCALL, rt::CWD, rt::PROCTITLE]
        );
    }
    assert_eq!(
        evs[1].records[1].get(f::CWD),
        Some(&Value::Str(b"/".to_vec()))
    );
}

#[test]
fn same_serial_on_another_node_or_second_is_another_event() {
    let log = b"node=a type=USER_CMD msg=audit(5.000:7): pid=1 msg='x'\nnode=b type=USER_CMD msg=audit(5.000:7): pid=1 msg='x'\ntype=CWD msg=audit(5.000:7): cwd=\"/\"\ntype=CWD msg=audit(6.000:7): cwd=\"/\"\n";
    let evs = ok(log);
    assert_eq!(evs.len(), 4, "{evs:?}");
}

#[test]
fn single_record_types_close_at_once_and_idle_events_are_given_up() {
    // USER closes its event; the SYSCALL without PROCTITLE is completed after 2 s of log time.
    let log = b"type=SYSCALL msg=audit(10.000:1): arch=c000003e syscall=2\n\
type=USER msg=audit(10.500:2): pid=1 uid=0 auid=0 ses=1 msg='hi'\n\
type=CWD msg=audit(13.000:3): cwd=\"/\"\n";
    let mut it = TextReader::new(&log[..], "t");
    let first = it.next().unwrap().unwrap();
    assert_eq!(first.id.serial, 2, "USER is complete at once");
    let second = it.next().unwrap().unwrap();
    assert_eq!(
        second.id.serial, 1,
        "SYSCALL given up when the log passed 2 s"
    );
    assert_eq!(
        it.next().unwrap().unwrap().id.serial,
        3,
        "EOF completes the rest"
    );
    assert!(it.next().is_none());
}

#[test]
fn at_most_max_open_events_are_kept() {
    let mut log = Vec::new();
    for s in 0..50u32 {
        log.extend_from_slice(format!("type=CWD msg=audit(1.000:{s}): cwd=\"/\"\n").as_bytes());
    }
    let limits = GroupLimits {
        max_open: 4,
        ..GroupLimits::default()
    };
    let mut it = TextReader::with_limits(log.as_slice(), "t", limits);
    // The first event comes out once a fifth is open, long before EOF.
    assert_eq!(it.next().unwrap().unwrap().id.serial, 0);
    assert!(it.line_number() <= 5, "read {} lines", it.line_number());
    assert_eq!(it.count(), 49);
}

#[test]
fn errors_name_the_line_and_the_text_and_reading_goes_on() {
    let log = b"type=CWD msg=audit(1.000:1): cwd=\"/\"\ngarbage here\ntype=CWD msg=audit(1.000:2) cwd=\"/\"\ntype=PROCTITLE msg=audit(1.000:1): proctitle=\"x\"\n";
    let got = read(log);
    let errs: Vec<String> = got
        .iter()
        .filter_map(|r| r.as_ref().err().map(ToString::to_string))
        .collect();
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(
        errs[0].starts_with("test.log:2:1: expected type=: garbage here"),
        "{}",
        errs[0]
    );
    assert!(errs[1].starts_with("test.log:3:"), "{}", errs[1]);
    assert!(
        errs[1].contains("expected ): after the timestamp"),
        "{}",
        errs[1]
    );
    let evs: Vec<&Event> = got.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].records.len(), 2);
}

#[test]
fn overlong_lines_are_skipped_with_an_error_and_bounded_memory() {
    let mut log = b"type=CWD msg=audit(1.000:1): cwd=\"".to_vec();
    log.extend(std::iter::repeat_n(b'a', 5_000_000));
    log.extend_from_slice(b"\"\ntype=CWD msg=audit(1.000:2): cwd=\"/\"\n");
    let limits = GroupLimits {
        max_line: 64 * 1024,
        ..GroupLimits::default()
    };
    let got: Vec<_> = TextReader::with_limits(log.as_slice(), "big.log", limits).collect();
    assert_eq!(got.len(), 2);
    let e = got[0].as_ref().unwrap_err();
    assert_eq!(e.line(), 1);
    assert!(e.to_string().contains("longer than 65536 bytes"), "{e}");
    assert_eq!(got[1].as_ref().unwrap().id.serial, 2);
}

#[test]
fn lines_never_exceed_the_limit() {
    let mut r = Record::new(rt::PATH);
    r.fields.push(Field::new(f::ITEM, Value::Dec(0)));
    r.fields
        .push(Field::new(f::NAME, Value::Str(vec![0xff; 6000])));
    r.fields.push(Field::new(f::NAMETYPE, Value::tok("NORMAL")));
    let ev = Event {
        id: Identity::new(1, 0, 1),
        records: vec![r],
    };
    let mut w = TextWriter::new(TextMode::Enriched, vigil_format::NoResolver);
    let mut out = Vec::new();
    w.write_event(&ev, &mut out);
    assert_eq!(w.stats.truncated, 1);
    assert!(out.len() <= MAX_LINE, "{} bytes", out.len());
    assert!(
        out.len() > MAX_LINE - 10,
        "cut more than needed: {} bytes",
        out.len()
    );
    // Still a valid record whose name is a prefix of the original.
    let back = ok(&out);
    match back[0].records[0].get(f::NAME) {
        Some(Value::Str(b)) => assert!(!b.is_empty() && b.iter().all(|&c| c == 0xff)),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        back[0].records[0].get(f::NAMETYPE),
        Some(&Value::tok("NORMAL"))
    );
}

proptest! {
    #[test]
    fn any_bytes_read_without_panic(data in prop::collection::vec(any::<u8>(), 0..4096), lines in prop::collection::vec("type=[A-Z_]{1,8} msg=audit\\([0-9]{1,3}\\.[0-9]{3}:[0-9]{1,3}\\): [ -~]{0,60}", 0..8)) {
        let mut input = data;
        for l in lines {
            input.extend_from_slice(l.as_bytes());
            input.push(b'\n');
        }
        let n = TextReader::new(input.as_slice(), "p").count();
        prop_assert!(n <= input.len() + 1);
    }
}
