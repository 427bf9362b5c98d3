//! `vigil_uring_events` records to typed records, without undefined behaviour: lengths are
//! checked, integers read with vigil-abi's generated `read`, kinds and item types go through
//! `TryFrom`; anything unexpected is a [`DecodeError`] (counted by the reader), never a panic.

use vigil_abi::{ItemType, Path, UringCqe, UringDeny, UringKind, UringOp};

use crate::decode::{each_item, framed, Captured, DecodeError, PathItem};

/// Items a uring record may carry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Items {
    pub exe: Option<Captured>,
    pub cwd: Option<Captured>,
    pub paths: Vec<PathItem>,
    pub sockaddr: Option<Captured>,
}

/// An op at submit (or failed at init).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitRec {
    pub op: UringOp,
    pub items: Items,
}

/// An op's completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompleteRec {
    pub cqe: UringCqe,
    pub items: Items,
}

/// A policy denial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRec {
    pub deny: UringDeny,
    pub items: Items,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UringRecord {
    Submit(SubmitRec),
    Complete(CompleteRec),
    Policy(PolicyRec),
}

/// Items after the fixed part (`fixed` bytes) of `rec`.
fn items(rec: &[u8], fixed: usize, n: u16) -> Result<Items, DecodeError> {
    let mut out = Items::default();
    each_item(rec, fixed, n, |it| {
        match it.kind {
            ItemType::Exe => out.exe = Some(it.captured()),
            ItemType::Cwd => out.cwd = Some(it.captured()),
            ItemType::PathName => it.path_in(&mut out.paths).name = Some(it.captured()),
            ItemType::PathFull => it.path_in(&mut out.paths).full = Some(it.captured()),
            ItemType::Path => {
                it.expect_size(Path::SIZE)?;
                it.path_in(&mut out.paths).object = Path::read(it.payload);
            }
            ItemType::Sockaddr => out.sockaddr = Some(it.captured()),
            // Never sent by the io_uring programs: a record carrying one is refused.
            _ => return Err(it.size_error(0)),
        }
        Ok(())
    })?;
    Ok(out)
}

/// Decodes one record of `vigil_uring_events`.
pub fn decode(rec: &[u8]) -> Result<UringRecord, DecodeError> {
    let (hdr, rec) = framed(rec)?;
    Ok(match UringKind::try_from(u32::from(hdr.kind))? {
        UringKind::Submit => {
            let op = UringOp::read(rec).ok_or(DecodeError::Short(rec.len()))?;
            let items = items(rec, UringOp::SIZE, op.nitems)?;
            UringRecord::Submit(SubmitRec { op, items })
        }
        UringKind::Complete => {
            let cqe = UringCqe::read(rec).ok_or(DecodeError::Short(rec.len()))?;
            let items = items(rec, UringCqe::SIZE, cqe.nitems)?;
            UringRecord::Complete(CompleteRec { cqe, items })
        }
        UringKind::Policy => {
            let deny = UringDeny::read(rec).ok_or(DecodeError::Short(rec.len()))?;
            let items = items(rec, UringDeny::SIZE, deny.nitems)?;
            UringRecord::Policy(PolicyRec { deny, items })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_abi::{Creds, ItemHdr, RecHdr, Task};

    fn hdr(kind: u16, len: u32) -> RecHdr {
        RecHdr {
            kind,
            flags: 0,
            len,
            event_id: 7,
            tai_ns: 1,
        }
    }

    fn item(out: &mut Vec<u8>, t: ItemType, index: u8, payload: &[u8]) {
        ItemHdr {
            r#type: t as u16,
            index,
            flags: 0,
            len: payload.len() as u32,
        }
        .write(out);
        out.extend_from_slice(payload);
        while !out.len().is_multiple_of(8) {
            out.push(0);
        }
    }

    fn submit(nitems: u16, extra: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        let op = UringOp {
            hdr: hdr(UringKind::Submit as u16, 0),
            opcode: 35,
            nitems,
            creds: Creds::default(),
            task: Task::default(),
            ..UringOp::default()
        };
        op.write(&mut v);
        v.extend_from_slice(extra);
        let len = v.len() as u32;
        v[4..8].copy_from_slice(&len.to_ne_bytes());
        v
    }

    #[test]
    fn submit_with_two_names() {
        let mut items = Vec::new();
        item(&mut items, ItemType::PathName, 0, b"/tmp/a");
        item(&mut items, ItemType::PathName, 1, b"/tmp/b");
        item(&mut items, ItemType::Cwd, 0, b"/root");
        let UringRecord::Submit(s) = decode(&submit(3, &items)).unwrap() else {
            panic!("kind")
        };
        assert_eq!(s.op.opcode, 35);
        assert_eq!(s.items.paths.len(), 2);
        assert_eq!(s.items.paths[1].name.as_ref().unwrap().bytes, b"/tmp/b");
        assert_eq!(s.items.cwd.unwrap().bytes, b"/root");
    }

    #[test]
    fn refusals_never_panic() {
        assert!(matches!(decode(&[0; 4]), Err(DecodeError::Short(4))));
        let mut items = Vec::new();
        item(&mut items, ItemType::PathName, 0, b"/x");
        let mut rec = submit(2, &items); // says 2 items, has 1
        assert!(matches!(
            decode(&rec),
            Err(DecodeError::ItemOverrun { index: 1, .. })
        ));
        rec[0] = 99; // unknown kind
        assert!(matches!(decode(&rec), Err(DecodeError::Unknown(_))));
        let mut bad = Vec::new();
        item(&mut bad, ItemType::Path, 0, &[0; 3]);
        assert!(matches!(
            decode(&submit(1, &bad)),
            Err(DecodeError::ItemSize { .. })
        ));
        let mut argv = Vec::new();
        item(&mut argv, ItemType::Argv, 0, &[0; 16]);
        assert!(decode(&submit(1, &argv)).is_err());
        // Every truncation of a good record is refused or decodes, never panics.
        let good = submit(1, &items);
        for n in 0..good.len() {
            let _ = decode(&good[..n]);
        }
    }
}
