//! Ring-buffer records to events, without undefined behaviour: every length is checked,
//! integers are read with `from_ne_bytes` (vigil-abi's generated `read`), discriminants go
//! through `TryFrom`; anything unexpected is a counted [`DecodeError`], never a panic.

use std::collections::{HashMap, VecDeque};

use vigil_abi::{
    ArgvChunk, ArgvInfo, ItemHdr, ItemType, Kind, ObjPid, Path, RecHdr, RuleMatch, Syscall, Task,
    VIGIL_ARGV_F_FAULT, VIGIL_ARGV_F_TRUNCATED, VIGIL_ITEM_F_FAULT, VIGIL_ITEM_F_PARTIAL,
    VIGIL_ITEM_F_TRUNCATED, VIGIL_ITEM_F_USER_MEM, VIGIL_MAX_RULESETS, VIGIL_RULE_F_KEY,
};

/// Events whose argv chunks may wait for their SYSCALL record at once; older ones are
/// dropped (and counted) when more arrive.
pub const MAX_PENDING_ARGV: usize = 1024;

/// A string or byte item as captured, with how it was captured.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Captured {
    pub bytes: Vec<u8>,
    /// `VIGIL_ITEM_F_*`.
    pub flags: u8,
}

impl Captured {
    pub fn truncated(&self) -> bool {
        self.flags & VIGIL_ITEM_F_TRUNCATED as u8 != 0
    }
    /// Read from user memory (not evidence of what the kernel used).
    pub fn from_user_memory(&self) -> bool {
        self.flags & VIGIL_ITEM_F_USER_MEM as u8 != 0
    }
    pub fn faulted(&self) -> bool {
        self.flags & VIGIL_ITEM_F_FAULT as u8 != 0
    }
    /// A path walk that did not reach the root.
    pub fn partial(&self) -> bool {
        self.flags & VIGIL_ITEM_F_PARTIAL as u8 != 0
    }
}

/// One path item: the name argument, the object's path by dentry walk, its inode facts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PathItem {
    pub index: u8,
    pub name: Option<Captured>,
    pub full: Option<Captured>,
    pub object: Option<Path>,
    /// The directory a relative name was resolved from, when a directory descriptor (not
    /// the working directory) gave it.
    pub base: Option<Captured>,
}

/// argv of a successful execve, reassembled from `ARGV_CHUNK` records.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Argv {
    pub args: Vec<Vec<u8>>,
    pub total_len: u32,
    pub captured_len: u32,
    /// Cut at the BPF side's limit.
    pub truncated: bool,
    /// A user-memory read failed.
    pub fault: bool,
    /// Chunks announced but not received (ring buffer full).
    pub missing_chunks: u32,
}

/// One syscall event as the exit hook captured it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyscallEvent {
    pub event_id: u64,
    pub tai_ns: u64,
    /// `AUDIT_ARCH_*`.
    pub arch: u32,
    pub nr: u32,
    pub args: [u64; 6],
    pub ret: i64,
    /// The rule generation that judged the event (`Loader::generation` when it was live).
    pub generation: u32,
    /// Bit i: ruleset i wants the event.
    pub rulesets: u64,
    /// Bit i: ruleset i was not judged in BPF; user space must judge it.
    pub undecided: u64,
    /// (rule set, compiled rule id) of every rule set BPF decided by a rule.
    pub matches: Vec<(u32, u32)>,
    /// (rule set, compiled rule id) whose keys label the event when that is not the
    /// deciding rule (a keyless inode-phase rule overrode a keyed exit-list rule).
    pub key_matches: Vec<(u32, u32)>,
    /// Supplementary groups (sent when rules test `gid=`/`egid=`).
    pub groups: Option<Captured>,
    /// `VIGIL_SC_F_*`.
    pub flags: u16,
    pub task: Task,
    pub exe: Option<Captured>,
    pub cwd: Option<Captured>,
    pub paths: Vec<PathItem>,
    pub sockaddr: Option<Captured>,
    pub argv: Option<Argv>,
    pub obj_pid: Option<ObjPid>,
    /// The command line at the event (at most 128 bytes, user memory).
    pub proctitle: Option<Captured>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("record of {0} bytes is shorter than its header")]
    Short(usize),
    #[error("record header says {said} bytes, {got} received")]
    BadLength { said: u32, got: usize },
    #[error(transparent)]
    Unknown(#[from] vigil_abi::UnknownValue),
    #[error("item {index} at offset {offset} overruns the record")]
    ItemOverrun { index: u16, offset: usize },
    #[error("item of type {kind:?} has {len} bytes, expected {expected}")]
    ItemSize {
        kind: ItemType,
        len: u32,
        expected: usize,
    },
    #[error("argv chunk of {len} bytes overruns its record")]
    ChunkOverrun { len: u32 },
}

/// What the decoder saw, for status and loss records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DecodeStats {
    pub records: u64,
    pub events: u64,
    /// Records refused with a [`DecodeError`].
    pub errors: u64,
    /// argv chunks that never met their SYSCALL record (evicted).
    pub orphan_chunks: u64,
    /// Events whose argv missed chunks.
    pub argv_incomplete: u64,
}

#[derive(Debug)]
struct Chunk {
    offset: u32,
    data: Vec<u8>,
}

/// Stateful decoder: `ARGV_CHUNK` records wait for the SYSCALL record of their event.
#[derive(Debug, Default)]
pub struct Decoder {
    pending: HashMap<u64, Vec<Chunk>>,
    order: VecDeque<u64>,
    stats: DecodeStats,
}

// Record framing, shared with the io_uring decoder (both rings carry the same header and
// item layout).

/// `rec` cut to the length its header gives, once that length is checked against what
/// was received.
pub(crate) fn framed(rec: &[u8]) -> Result<(RecHdr, &[u8]), DecodeError> {
    let hdr = RecHdr::read(rec).ok_or(DecodeError::Short(rec.len()))?;
    let len = hdr.len as usize;
    if len < RecHdr::SIZE || len > rec.len() {
        return Err(DecodeError::BadLength {
            said: hdr.len,
            got: rec.len(),
        });
    }
    Ok((hdr, &rec[..len]))
}

/// One item of a record: header, type, payload.
pub(crate) struct Item<'r> {
    pub hdr: ItemHdr,
    pub kind: ItemType,
    pub payload: &'r [u8],
}

impl Item<'_> {
    pub(crate) fn captured(&self) -> Captured {
        Captured {
            bytes: self.payload.to_vec(),
            flags: self.hdr.flags,
        }
    }

    /// The path item this item belongs to (`paths` kept in index order), created on first
    /// use.
    pub(crate) fn path_in<'p>(&self, paths: &'p mut Vec<PathItem>) -> &'p mut PathItem {
        let index = self.hdr.index;
        if let Some(i) = paths.iter().position(|p| p.index == index) {
            return &mut paths[i];
        }
        paths.push(PathItem {
            index,
            ..PathItem::default()
        });
        paths.sort_by_key(|p| p.index);
        let i = paths.iter().position(|p| p.index == index).unwrap_or(0);
        &mut paths[i]
    }

    /// The item is refused: its size is not the `expected` one.
    pub(crate) fn size_error(&self, expected: usize) -> DecodeError {
        DecodeError::ItemSize {
            kind: self.kind,
            len: self.hdr.len,
            expected,
        }
    }

    /// A fixed-size item must be exactly `expected` bytes.
    pub(crate) fn expect_size(&self, expected: usize) -> Result<(), DecodeError> {
        if self.payload.len() == expected {
            Ok(())
        } else {
            Err(self.size_error(expected))
        }
    }
}

/// Calls `f` with each of the `n` items after the fixed part (`fixed` bytes) of `rec`; an
/// item starts 8-aligned after the previous one.
pub(crate) fn each_item<'r>(
    rec: &'r [u8],
    fixed: usize,
    n: u16,
    mut f: impl FnMut(&Item<'r>) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    let mut off = fixed;
    for index in 0..n {
        let hdr = rec
            .get(off..)
            .and_then(ItemHdr::read)
            .ok_or(DecodeError::ItemOverrun { index, offset: off })?;
        let start = off + ItemHdr::SIZE;
        let payload = rec
            .get(start..start + hdr.len as usize)
            .ok_or(DecodeError::ItemOverrun { index, offset: off })?;
        let kind = ItemType::try_from(u32::from(hdr.r#type))?;
        f(&Item { hdr, kind, payload })?;
        off = (start + hdr.len as usize + 7) & !7;
    }
    Ok(())
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder::default()
    }

    pub fn stats(&self) -> DecodeStats {
        self.stats
    }

    /// Decodes one ring-buffer record. `Ok(None)` for records that are parts of a later
    /// event (argv chunks).
    pub fn push(&mut self, rec: &[u8]) -> Result<Option<SyscallEvent>, DecodeError> {
        self.stats.records += 1;
        let r = self.decode(rec);
        match &r {
            Err(_) => self.stats.errors += 1,
            Ok(Some(_)) => self.stats.events += 1,
            Ok(None) => {}
        }
        r
    }

    fn decode(&mut self, rec: &[u8]) -> Result<Option<SyscallEvent>, DecodeError> {
        let (hdr, rec) = framed(rec)?;
        match Kind::try_from(u32::from(hdr.kind))? {
            Kind::ArgvChunk => {
                self.chunk(rec)?;
                Ok(None)
            }
            Kind::Syscall => self.syscall(rec).map(Some),
        }
    }

    fn chunk(&mut self, rec: &[u8]) -> Result<(), DecodeError> {
        let c = ArgvChunk::read(rec).ok_or(DecodeError::Short(rec.len()))?;
        let data = rec
            .get(ArgvChunk::SIZE..ArgvChunk::SIZE + c.len as usize)
            .ok_or(DecodeError::ChunkOverrun { len: c.len })?;
        let id = c.hdr.event_id;
        if !self.pending.contains_key(&id) {
            if self.order.len() >= MAX_PENDING_ARGV {
                if let Some(old) = self.order.pop_front() {
                    if let Some(v) = self.pending.remove(&old) {
                        self.stats.orphan_chunks += v.len() as u64;
                    }
                }
            }
            self.order.push_back(id);
        }
        self.pending.entry(id).or_default().push(Chunk {
            offset: c.offset,
            data: data.to_vec(),
        });
        Ok(())
    }

    fn take_argv(&mut self, id: u64, info: &ArgvInfo) -> Argv {
        let mut chunks = self.pending.remove(&id).unwrap_or_default();
        self.order.retain(|x| *x != id);
        chunks.sort_by_key(|c| c.offset);
        let mut data = Vec::with_capacity(info.captured_len as usize);
        let mut received = 0u32;
        for c in &chunks {
            if c.offset as usize == data.len() {
                data.extend_from_slice(&c.data);
                received += 1;
            }
        }
        let missing = info.nchunks.saturating_sub(received);
        if missing > 0 {
            self.stats.argv_incomplete += 1;
        }
        let mut args: Vec<Vec<u8>> = data.split(|&b| b == 0).map(<[u8]>::to_vec).collect();
        if data.last() == Some(&0) || data.is_empty() {
            args.pop(); // the piece after the final NUL
        }
        Argv {
            args,
            total_len: info.total_len,
            captured_len: info.captured_len,
            truncated: info.flags & VIGIL_ARGV_F_TRUNCATED != 0,
            fault: info.flags & VIGIL_ARGV_F_FAULT != 0,
            missing_chunks: missing,
        }
    }

    fn syscall(&mut self, rec: &[u8]) -> Result<SyscallEvent, DecodeError> {
        let sc = Syscall::read(rec).ok_or(DecodeError::Short(rec.len()))?;
        let mut ev = SyscallEvent {
            event_id: sc.hdr.event_id,
            tai_ns: sc.hdr.tai_ns,
            arch: sc.arch,
            nr: sc.nr,
            args: sc.args,
            ret: sc.ret,
            generation: sc.generation,
            rulesets: sc.rulesets,
            undecided: sc.undecided,
            flags: sc.flags,
            task: sc.task,
            ..SyscallEvent::default()
        };
        each_item(rec, Syscall::SIZE, sc.nitems, |it| {
            let payload = it.payload;
            match it.kind {
                ItemType::Exe => ev.exe = Some(it.captured()),
                ItemType::Cwd => ev.cwd = Some(it.captured()),
                ItemType::PathName => it.path_in(&mut ev.paths).name = Some(it.captured()),
                ItemType::PathFull => it.path_in(&mut ev.paths).full = Some(it.captured()),
                ItemType::PathBase => it.path_in(&mut ev.paths).base = Some(it.captured()),
                ItemType::Groups => {
                    if payload.len() % 4 != 0 {
                        return Err(it.size_error(4));
                    }
                    ev.groups = Some(it.captured());
                }
                ItemType::Path => {
                    it.expect_size(Path::SIZE)?;
                    it.path_in(&mut ev.paths).object = Path::read(payload);
                }
                ItemType::Sockaddr => ev.sockaddr = Some(it.captured()),
                ItemType::Proctitle => ev.proctitle = Some(it.captured()),
                ItemType::Argv => {
                    it.expect_size(ArgvInfo::SIZE)?;
                    if let Some(info) = ArgvInfo::read(payload) {
                        ev.argv = Some(self.take_argv(ev.event_id, &info));
                    }
                }
                ItemType::ObjPid => {
                    it.expect_size(ObjPid::SIZE)?;
                    ev.obj_pid = ObjPid::read(payload);
                }
                ItemType::Rules => {
                    if payload.len() % RuleMatch::SIZE != 0
                        || payload.len() > 2 * RuleMatch::SIZE * VIGIL_MAX_RULESETS as usize
                    {
                        return Err(it.size_error(RuleMatch::SIZE));
                    }
                    for m in payload
                        .chunks_exact(RuleMatch::SIZE)
                        .filter_map(RuleMatch::read)
                    {
                        if m.ruleset & VIGIL_RULE_F_KEY != 0 {
                            ev.key_matches.push((m.ruleset & !VIGIL_RULE_F_KEY, m.rule));
                        } else {
                            ev.matches.push((m.ruleset, m.rule));
                        }
                    }
                }
            }
            Ok(())
        })?;
        Ok(ev)
    }
}
