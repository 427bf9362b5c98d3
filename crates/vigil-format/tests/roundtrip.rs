//! write -> read -> identical model, for RAW, ENRICHED and JSON, with hostile values.

mod common;

use proptest::prelude::*;
use vigil_format::json::{JsonReader, JsonWriter};
use vigil_format::raw::{DevNum, NameType, RawObjPid, RawUring, UringCtx};
use vigil_format::{
    build_event, Bytes, Event, Identity, RawEvent, RawKind, RawPath, RawTask, TextMode, TextReader,
    TextWriter,
};

fn read_text(bytes: &[u8]) -> Vec<Event> {
    TextReader::new(bytes, "<mem>")
        .map(|r| r.unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

fn read_json(bytes: &[u8]) -> Vec<Event> {
    JsonReader::new(bytes, "<mem>")
        .map(|r| r.unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

fn strip_enriched(mut evs: Vec<Event>) -> Vec<Event> {
    for e in &mut evs {
        for r in &mut e.records {
            r.enriched.clear();
        }
    }
    evs
}

/// Every way of writing gives back the same events.
fn assert_round_trip(events: &[Event]) {
    for mode in [TextMode::Raw, TextMode::Enriched] {
        let mut w = TextWriter::new(mode, common::fixed_resolver());
        let mut out = Vec::new();
        for ev in events {
            w.write_event(ev, &mut out);
        }
        assert_eq!(w.stats.truncated, 0);
        for line in out.split(|&b| b == b'\n') {
            assert!(
                line.len() < vigil_format::text::MAX_LINE,
                "line of {} bytes",
                line.len()
            );
            let seps = line.split(|&b| b == 0x1d).count() - 1;
            assert!(
                seps <= usize::from(mode == TextMode::Enriched),
                "0x1D inside a value"
            );
        }
        let back = strip_enriched(read_text(&out));
        assert_eq!(back.as_slice(), events, "{mode:?} text round trip");

        let mut j = JsonWriter::new(mode, common::fixed_resolver());
        let mut out = Vec::new();
        for ev in events {
            j.write_event(ev, &mut out);
        }
        let back = strip_enriched(read_json(&out));
        assert_eq!(back.as_slice(), events, "{mode:?} JSON round trip");
    }
}

#[test]
fn sample_traces_round_trip() {
    for name in common::TRACES {
        let events = common::build_all(&common::load_trace(name), 1);
        assert_round_trip(&events);
    }
}

#[test]
fn huge_argv_round_trips_and_lines_stay_short() {
    let argv: Vec<Bytes> = (0..3000u32)
        .map(|i| Bytes(format!("arg{i}-{}", "y".repeat((i % 50) as usize)).into_bytes()))
        .chain([Bytes(vec![0xAB; 100_000])])
        .collect();
    let raw = RawEvent {
        kind: RawKind::Syscall,
        arch: 0xc000_003e,
        nr: 59,
        argv: Some(argv.clone()),
        ..RawEvent::default()
    };
    let ev = build_event(&raw, Identity::new(1, 2, 3), &[]);
    assert!(
        ev.records
            .iter()
            .filter(|r| r.rtype == vigil_format::rt::EXECVE)
            .count()
            > 10
    );
    let got: Vec<Vec<u8>> = ev.execve_argv();
    assert_eq!(got, argv.iter().map(|b| b.0.clone()).collect::<Vec<_>>());
    assert_round_trip(&[ev]);
}

fn bytes_strategy(max: usize) -> impl Strategy<Value = Bytes> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..max),
        prop::collection::vec(
            prop::sample::select(vec![
                b' ', b'"', b'\n', 0x01, 0x1d, b'\'', b'=', b'a', 0, 0xff, b'(', b')'
            ]),
            0..max
        ),
        "[a-z/._-]{0,40}".prop_map(String::into_bytes),
    ]
    .prop_map(Bytes)
}

prop_compose! {
    fn task_strategy()(ids in prop::array::uniform8(any::<u32>()), pid in any::<u32>(), auid in prop_oneof![Just(u32::MAX), any::<u32>()],
        comm in bytes_strategy(24), exe in prop::option::of(bytes_strategy(64)), tty in prop::option::of("[a-z]{1,4}[0-9]{0,2}"),
        contid in prop::option::of(any::<u64>())) -> RawTask {
        RawTask { pid, tid: pid, ppid: ids[0], uid: ids[1], euid: ids[2], suid: ids[3], fsuid: ids[4], gid: ids[5], egid: ids[6], sgid: ids[7], fsgid: ids[0],
            auid, ses: auid, tty, comm, exe, subj: None, contid, ..RawTask::default() }
    }
}

prop_compose! {
    fn path_strategy()(name in prop::option::of(bytes_strategy(300)), inode in prop::option::of(any::<u64>()), mode in any::<u32>(),
        dev in (any::<u32>(), any::<u32>()), nt in prop::sample::select(vec![NameType::Normal, NameType::Parent, NameType::Create, NameType::Delete, NameType::Unknown])) -> RawPath {
        RawPath { name, inode, dev: DevNum { major: dev.0, minor: dev.1 }, mode, ouid: dev.1, ogid: dev.0, rdev: DevNum::default(), nametype: nt, obj: None, caps: None, ..RawPath::default() }
    }
}

prop_compose! {
    fn raw_strategy()(kind in prop::sample::select(vec![RawKind::Syscall, RawKind::Uring, RawKind::User]), nr in 0u32..500, args in prop::array::uniform4(any::<u64>()),
        exit in any::<i64>(), task in task_strategy(), cwd in prop::option::of(bytes_strategy(200)), paths in prop::collection::vec(path_strategy(), 0..4),
        argv in prop::option::of(prop::collection::vec(bytes_strategy(200), 0..12)), sockaddr in prop::option::of(bytes_strategy(40)),
        opid in prop::option::of((any::<u32>(), bytes_strategy(20))), proctitle in prop::option::of(bytes_strategy(128)),
        text in bytes_strategy(200), ring in any::<u64>()) -> RawEvent {
        RawEvent { ts_ns: 0, kind, arch: 0xc000_003e, nr, args, exit, task, cwd, paths, argv, sockaddr,
            obj_pids: opid.map(|(pid, comm)| vec![RawObjPid { pid, auid: pid, uid: 0, ses: pid, obj: None, comm }]).unwrap_or_default(),
            proctitle, uring: Some(RawUring { ring, ctx: UringCtx::Iowq, personality: None }),
            user: Some(vigil_format::raw::RawUserMsg { rtype: 1005, text }), keys: Vec::new(), ..RawEvent::default() }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]
    #[test]
    fn hostile_events_round_trip(raw in raw_strategy(), keys in prop::collection::vec(bytes_strategy(20), 0..3),
        sec in any::<u32>(), msec in 0u16..1000, serial in any::<u64>(), node in prop::option::of("[a-z0-9.-]{1,20}")) {
        let mut id = Identity::new(u64::from(sec), msec, serial);
        id.node = node;
        let ev = build_event(&raw, id, &keys);
        assert_round_trip(&[ev]);
    }

    #[test]
    fn trace_lines_round_trip(raw in raw_strategy()) {
        let mut out = Vec::new();
        vigil_format::trace::write_event(&raw, &mut out);
        let back = vigil_format::trace::parse_line(&out).expect("parses").expect("an event");
        prop_assert_eq!(back, raw);
    }
}
