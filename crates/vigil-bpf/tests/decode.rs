//! The decoder on synthetic records: a full event round-trips; truncated, garbage and
//! unknown records are counted errors (never a panic); argv reassembly and its losses.

use vigil_abi::{
    ArgvChunk, ArgvInfo, ItemHdr, ItemType, Kind, Path, RecHdr, Syscall, VIGIL_ITEM_F_USER_MEM,
};
use vigil_bpf::decode::{DecodeError, Decoder, MAX_PENDING_ARGV};

fn item(out: &mut Vec<u8>, t: ItemType, index: u8, flags: u8, payload: &[u8]) {
    ItemHdr {
        r#type: t as u16,
        index,
        flags,
        len: payload.len() as u32,
    }
    .write(out);
    out.extend_from_slice(payload);
    while !out.len().is_multiple_of(8) {
        out.push(0xAA); // padding garbage is ignored
    }
}

fn hdr(kind: Kind, len: usize, id: u64) -> RecHdr {
    RecHdr {
        kind: kind as u16,
        flags: 0,
        len: len as u32,
        event_id: id,
        tai_ns: 42,
    }
}

/// A SYSCALL record with every item type; argv announced in `nchunks` chunks.
fn syscall_record(id: u64, nchunks: u32, argv_len: u32) -> Vec<u8> {
    let mut items = Vec::new();
    item(&mut items, ItemType::Exe, 0, 0, b"/usr/bin/true");
    item(&mut items, ItemType::Cwd, 0, 0, b"/tmp");
    item(
        &mut items,
        ItemType::PathName,
        0,
        VIGIL_ITEM_F_USER_MEM as u8,
        b"x",
    );
    let mut p = Vec::new();
    Path {
        ino: 7,
        dev: (8 << 20) | 1,
        mode: 0o100_644,
        ..Path::default()
    }
    .write(&mut p);
    item(&mut items, ItemType::Path, 0, 0, &p);
    item(&mut items, ItemType::PathFull, 0, 0, b"/tmp/x");
    item(
        &mut items,
        ItemType::Sockaddr,
        0,
        0,
        &[2, 0, 0, 80, 127, 0, 0, 1],
    );
    let mut a = Vec::new();
    ArgvInfo {
        total_len: argv_len,
        captured_len: argv_len,
        nchunks,
        flags: 0,
    }
    .write(&mut a);
    item(&mut items, ItemType::Argv, 0, 0, &a);
    let mut sc = Syscall {
        hdr: hdr(Kind::Syscall, Syscall::SIZE + items.len(), id),
        nr: 59,
        ret: -2,
        args: [1, 2, 3, 4, 5, 6],
        nitems: 7,
        ..Syscall::default()
    };
    sc.task.pid = 1234;
    let mut rec = Vec::new();
    sc.write(&mut rec);
    rec.extend_from_slice(&items);
    rec
}

fn chunk(id: u64, index: u32, offset: u32, data: &[u8]) -> Vec<u8> {
    let c = ArgvChunk {
        hdr: hdr(Kind::ArgvChunk, ArgvChunk::SIZE + data.len(), id),
        index,
        offset,
        len: data.len() as u32,
        flags: 0,
    };
    let mut rec = Vec::new();
    c.write(&mut rec);
    rec.extend_from_slice(data);
    rec
}

#[test]
fn full_event_decodes() {
    let mut d = Decoder::new();
    assert_eq!(d.push(&chunk(9, 1, 6, b"-c\0\x01\xff\0")), Ok(None));
    assert_eq!(d.push(&chunk(9, 0, 0, b"/bin/\0")), Ok(None));
    let ev = d
        .push(&syscall_record(9, 2, 12))
        .expect("ok")
        .expect("event");
    assert_eq!(
        (ev.nr, ev.ret, ev.args[5], ev.task.pid, ev.tai_ns),
        (59, -2, 6, 1234, 42)
    );
    assert_eq!(ev.exe.expect("exe").bytes, b"/usr/bin/true");
    assert_eq!(ev.cwd.expect("cwd").bytes, b"/tmp");
    assert_eq!(ev.paths.len(), 1);
    let p = &ev.paths[0];
    assert!(p.name.as_ref().expect("name").from_user_memory());
    assert_eq!(p.full.as_ref().expect("full").bytes, b"/tmp/x");
    assert_eq!(p.object.expect("object").ino, 7);
    assert_eq!(ev.sockaddr.expect("sockaddr").bytes.len(), 8);
    let argv = ev.argv.expect("argv");
    assert_eq!(
        argv.args,
        vec![b"/bin/".to_vec(), b"-c".to_vec(), vec![1, 0xff]]
    );
    assert_eq!(argv.missing_chunks, 0);
    let s = d.stats();
    assert_eq!((s.records, s.events, s.errors), (3, 1, 0));
}

#[test]
fn every_truncation_is_a_counted_error() {
    let rec = syscall_record(1, 0, 0);
    let mut d = Decoder::new();
    for cut in 0..rec.len() {
        // As received (header length now wrong) ...
        assert!(d.push(&rec[..cut]).is_err(), "cut {cut} accepted");
        // ... and with the header length patched to match: the items overrun.
        if cut >= Syscall::SIZE {
            let mut r = rec[..cut].to_vec();
            r[4..8].copy_from_slice(&(cut as u32).to_ne_bytes());
            let last_item_ends_here = d.push(&r).is_ok();
            assert!(
                !last_item_ends_here || cut == rec.len(),
                "cut {cut} accepted"
            );
        }
    }
    let s = d.stats();
    assert_eq!(s.events, 0);
    assert_eq!(s.errors, s.records);
}

#[test]
fn unknown_kind_and_item_are_errors() {
    let mut d = Decoder::new();
    let mut rec = syscall_record(1, 0, 0);
    rec[0..2].copy_from_slice(&77u16.to_ne_bytes());
    assert!(matches!(d.push(&rec), Err(DecodeError::Unknown(u)) if u.value == 77));
    let mut rec = syscall_record(1, 0, 0);
    rec[Syscall::SIZE..Syscall::SIZE + 2].copy_from_slice(&999u16.to_ne_bytes());
    assert!(matches!(d.push(&rec), Err(DecodeError::Unknown(u)) if u.what == "vigil_item_type"));
    // A fixed-size item with the wrong size.
    let mut rec = syscall_record(1, 0, 0);
    let mut items = Vec::new();
    item(&mut items, ItemType::Path, 0, 0, &[0; 3]);
    rec.truncate(Syscall::SIZE);
    rec.extend_from_slice(&items);
    let n = rec.len() as u32;
    rec[4..8].copy_from_slice(&n.to_ne_bytes());
    // nitems = 1 (before the 2-byte flags, 4-byte pad and the 128-byte task).
    rec[Syscall::SIZE - 128 - 8..Syscall::SIZE - 128 - 6].copy_from_slice(&1u16.to_ne_bytes());
    assert!(matches!(d.push(&rec), Err(DecodeError::ItemSize { .. })));
    assert_eq!(d.stats().errors, 3);
}

#[test]
fn random_bytes_never_panic() {
    let mut d = Decoder::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let valid = syscall_record(5, 0, 0);
    for i in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 600) as usize;
        let mut buf: Vec<u8> = (0..len).map(|j| (x >> (j % 56)) as u8).collect();
        if i % 2 == 0 && !buf.is_empty() {
            // Mutate a valid record instead: more paths through the item parser.
            buf = valid.clone();
            let at = (x as usize) % buf.len();
            buf[at] ^= (x >> 8) as u8 | 1;
        }
        let _ = d.push(&buf);
    }
    let s = d.stats();
    assert_eq!(s.records, 20_000);
    // Random bytes are almost never a valid record: nearly all are counted errors.
    assert!(s.errors > 10_000, "{s:?}");
}

#[test]
fn missing_and_orphan_argv_chunks_are_counted() {
    let mut d = Decoder::new();
    d.push(&chunk(3, 0, 0, b"a\0")).expect("chunk");
    let ev = d
        .push(&syscall_record(3, 2, 4))
        .expect("ok")
        .expect("event");
    assert_eq!(ev.argv.expect("argv").missing_chunks, 1);
    assert_eq!(d.stats().argv_incomplete, 1);

    for id in 0..(MAX_PENDING_ARGV as u64 + 5) {
        d.push(&chunk(1000 + id, 0, 0, b"z\0")).expect("chunk");
    }
    assert_eq!(d.stats().orphan_chunks, 5);
}
