//! A search query (what ausearch calls its search criteria) and the test of one event against
//! it (ausearch's `match()`): every criterion given must hold (all must hold); `-ua` and `-ga`
//! are ORs over the ids they cover; strings (`-k`, `-x`, `-c`) match as substrings unless
//! `-w` asks for whole words.

use super::items::{extract, Items, Needs, S_FAILED, S_SUCCESS};
use super::record::Ev;

/// Search criteria. `None` / empty: not part of the query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// `-ts`: seconds since the epoch, inclusive.
    pub start: Option<i64>,
    /// `-te`: seconds since the epoch, inclusive.
    pub end: Option<i64>,
    /// `-a`: event serial.
    pub event_id: Option<u64>,
    pub pid: Option<u32>,
    pub ppid: Option<u32>,
    pub uid: Option<u32>,
    pub euid: Option<u32>,
    pub loginuid: Option<u32>,
    /// `-ua`: `uid`, `euid` and `loginuid` hold the same id and any may match.
    pub uid_all: bool,
    pub gid: Option<u32>,
    pub egid: Option<u32>,
    /// `-ga`: `gid` or `egid` may match.
    pub gid_all: bool,
    pub session: Option<u32>,
    /// `-sc`: syscall number.
    pub syscall: Option<i32>,
    /// `--arch` or `-sc NAME`: the `AUDIT_ARCH_*` whose machine events must be of.
    pub arch: Option<u32>,
    pub exit: Option<i64>,
    /// `-sv yes|no`.
    pub success: Option<bool>,
    /// `-m`: record types, any of which the event must contain.
    pub types: Vec<u32>,
    pub key: Option<Vec<u8>>,
    pub comm: Option<Vec<u8>>,
    pub exe: Option<Vec<u8>>,
    /// `-n`: any of these nodes.
    pub nodes: Vec<String>,
    /// `--contid`: the event carries this audit container id.
    pub contid: Option<u64>,
    /// `-w`: strings must match whole.
    pub exact: bool,
    /// Interpreted output reads the arch of SYSCALL records too (as ausearch does).
    pub interpret: bool,
}

impl Query {
    /// The items the query reads (ausearch parses nothing else).
    pub fn needs(&self) -> Needs {
        Needs {
            pid: self.pid.is_some(),
            ppid: self.ppid.is_some(),
            uid: self.uid.is_some(),
            euid: self.euid.is_some(),
            loginuid: self.loginuid.is_some(),
            gid: self.gid.is_some(),
            egid: self.egid.is_some(),
            session: self.session.is_some(),
            success: self.success.is_some(),
            exit: self.exit.is_some(),
            key: self.key.is_some(),
            arch: self.arch.is_some() || self.interpret,
            comm: self.comm.is_some(),
            exe: self.exe.is_some(),
            contid: self.contid.is_some(),
        }
    }

    /// Whether a record with this header may belong to a matching event (ausearch drops
    /// records outside the time range before grouping them).
    pub fn time_ok(&self, sec: u64) -> bool {
        let sec = i64::try_from(sec).unwrap_or(i64::MAX);
        self.start.is_none_or(|s| sec >= s) && self.end.is_none_or(|e| sec <= e)
    }

    /// Whether `ev` matches every criterion.
    pub fn matches(&self, ev: &Ev) -> bool {
        if !self.time_ok(ev.id.sec) {
            return false;
        }
        if self.event_id.is_some_and(|a| a != ev.id.serial) {
            return false;
        }
        let needs = self.needs();
        let Ok(it) = extract(ev.recs.iter().map(|r| (r.rtype, r.raw_part())), &needs) else {
            return false;
        };
        if !self.nodes.is_empty()
            && !ev
                .id
                .node
                .as_ref()
                .is_some_and(|n| self.nodes.iter().any(|m| m == n))
        {
            return false;
        }
        if !self.users_match(&it) || !self.groups_match(&it) {
            return false;
        }
        if self.ppid.is_some_and(|p| p != it.ppid) || self.pid.is_some_and(|p| p != it.pid) {
            return false;
        }
        if let Some(a) = self.arch {
            if !same_machine(a, it.arch) {
                return false;
            }
        }
        if self.syscall.is_some_and(|s| s != it.syscall) {
            return false;
        }
        if self.session.is_some_and(|s| s != it.session) {
            return false;
        }
        if let Some(e) = self.exit {
            if it.exit != Some(e) {
                return false;
            }
        }
        if let Some(want) = self.success {
            let code = if want { S_SUCCESS } else { S_FAILED };
            if it.success != code {
                return false;
            }
        }
        if !self.types.is_empty() && !ev.recs.iter().any(|r| self.types.contains(&r.rtype)) {
            return false;
        }
        self.strings_match(&it) && self.contid_matches(&it)
    }

    fn users_match(&self, it: &Items) -> bool {
        if self.uid_all {
            let u = self.uid.unwrap_or(u32::MAX);
            return u == it.uid || u == it.euid || u == it.loginuid;
        }
        self.uid.is_none_or(|u| u == it.uid)
            && self.euid.is_none_or(|u| u == it.euid)
            && self.loginuid.is_none_or(|u| u == it.loginuid)
    }

    fn groups_match(&self, it: &Items) -> bool {
        if self.gid_all {
            let g = self.gid.unwrap_or(u32::MAX);
            return g == it.gid || g == it.egid;
        }
        self.gid.is_none_or(|g| g == it.gid) && self.egid.is_none_or(|g| g == it.egid)
    }

    fn strings_match(&self, it: &Items) -> bool {
        let m = |needle: &Option<Vec<u8>>, hay: Option<&Vec<u8>>| match needle {
            None => true,
            Some(n) => hay.is_some_and(|h| self.str_match(n, h)),
        };
        if !m(&self.exe, it.exe.as_ref()) || !m(&self.comm, it.comm.as_ref()) {
            return false;
        }
        match &self.key {
            None => true,
            Some(k) => it
                .keys
                .as_ref()
                .is_some_and(|ks| ks.iter().any(|h| self.str_match(k, h))),
        }
    }

    fn str_match(&self, needle: &[u8], hay: &[u8]) -> bool {
        if self.exact {
            needle == hay
        } else {
            needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
        }
    }

    fn contid_matches(&self, it: &Items) -> bool {
        self.contid.is_none_or(|c| it.contids.contains(&c))
    }
}

/// ausearch compares machines (`audit_elf_to_machine`), not arch values: an arch it cannot
/// map (0 when no SYSCALL record was read) never matches.
fn same_machine(want: u32, got: u32) -> bool {
    use vigil_rules::tables::machine_name;
    match (machine_name(want), machine_name(got)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}
