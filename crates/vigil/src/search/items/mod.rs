//! The searchable items of an event, read from its records the way ausearch 3.0.9 reads them
//! (`ausearch-parse.c`), so `vigil search` selects the same events:
//!
//! - Records are read in order; a later record overwrites what an earlier one set.
//! - Each record family yields its own fields (SYSCALL: syscall, success, exit, task ids, key;
//!   USER messages: pid, uid, auid, ses, the uid inside `msg='...'`, `res=`; LOGIN, DAEMON_*,
//!   `CONFIG_CHANGE`, ... their own); records such as PATH, CWD, EXECVE, PROCTITLE yield none.
//! - A field a criterion needs but the record lacks makes the whole event malformed: it
//!   matches nothing (ausearch skips it the same way).
//! - Unset items keep ausearch's defaults (`pid` -1, `syscall` 0, `loginuid` -2, ...), compared
//!   as the C types are (32-bit), so corner cases such as `-ui 4294967295` behave alike.
//!
//! vigil's own record types extend this: URINGOP yields the ring owner's task ids, success
//! and key (ausearch reads nothing from it), `CONTAINER_ID` and `CONTAINER_OP` yield `contid`.

/// Which items the query needs (ausearch reads only those, and only those can be missing).
#[derive(Debug, Clone, Copy, Default)]
pub struct Needs {
    pub pid: bool,
    pub ppid: bool,
    pub uid: bool,
    pub euid: bool,
    pub loginuid: bool,
    pub gid: bool,
    pub egid: bool,
    pub session: bool,
    pub success: bool,
    pub exit: bool,
    pub key: bool,
    /// `--arch` or `-sc NAME` (the arch of SYSCALL records is read), or interpreted output.
    pub arch: bool,
    pub comm: bool,
    pub exe: bool,
    pub contid: bool,
}

/// ausearch's `S_FAILED` / `S_SUCCESS` (and `S_UNSET` = -1).
pub const S_FAILED: i64 = 0;
pub const S_SUCCESS: i64 = 1;

/// What an event yields. Defaults are ausearch's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Items {
    pub pid: u32,
    pub ppid: u32,
    pub uid: u32,
    pub euid: u32,
    pub loginuid: u32,
    pub gid: u32,
    pub egid: u32,
    pub session: u32,
    /// -1 unset, else [`S_FAILED`], [`S_SUCCESS`] or whatever number `res=` held.
    pub success: i64,
    pub exit: Option<i64>,
    pub syscall: i32,
    pub arch: u32,
    /// `None` until a record with `key=` is seen.
    pub keys: Option<Vec<Vec<u8>>>,
    pub comm: Option<Vec<u8>>,
    pub exe: Option<Vec<u8>>,
    pub contids: Vec<u64>,
}

impl Default for Items {
    fn default() -> Items {
        Items {
            pid: u32::MAX,
            ppid: u32::MAX,
            uid: u32::MAX,
            euid: u32::MAX,
            loginuid: u32::MAX - 1,
            gid: u32::MAX,
            egid: u32::MAX,
            session: u32::MAX - 1,
            success: -1,
            exit: None,
            syscall: 0,
            arch: 0,
            keys: None,
            comm: None,
            exe: None,
            contids: Vec::new(),
        }
    }
}

/// A record the event cannot be searched with (ausearch: "malformed event skipped").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

type Step = Result<(), Malformed>;

mod fields;

use fields::{keys_of, string_value};
pub use fields::{strtoll, strtoul, unescape, unescape_all, Fields};

/// Record families, by how ausearch reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Syscall,
    TaskInfo,
    User,
    UserAvc,
    Login,
    Daemon1,
    Daemon2,
    Simple,
    ConfigChange,
    KernelAnom,
    Integrity,
    Tty,
    Kernel,
    Avc,
    Uring,
    Contid,
    Nothing,
}

fn family(rtype: u32) -> Family {
    match rtype {
        1300 => Family::Syscall,
        1005 | 1100..=1106 | 1108..=1199 | 2100..=2999 => Family::User,
        1107 => Family::UserAvc,
        1006 => Family::Login,
        1200..=1203 | 1205 | 1206 => Family::Daemon1,
        1207 | 1208 => Family::Daemon2,
        1305 => Family::ConfigChange,
        1400 => Family::Avc,
        1328 | 1702 => Family::TaskInfo,
        1326 | 1700 | 1701 => Family::KernelAnom,
        1403..=1417 => Family::Simple,
        1800..=1807 => Family::Integrity,
        1319 => Family::Tty,
        1325 | 1335 => Family::Kernel,
        1336 => Family::Uring,
        1020 | 3000 => Family::Contid,
        _ => Family::Nothing,
    }
}

/// Reads every record of an event (type and raw text) into `Items`, as ausearch does.
pub fn extract<'r>(
    recs: impl IntoIterator<Item = (u32, &'r [u8])>,
    needs: &Needs,
) -> Result<Items, Malformed> {
    let mut it = Items::default();
    let mut idx = Vec::with_capacity(40);
    for (rtype, line) in recs {
        let fam = family(rtype);
        if fam == Family::Nothing {
            continue;
        }
        let mut f = Fields::new(rtype, line, &mut idx);
        read_record(fam, &mut f, needs, &mut it)?;
    }
    Ok(it)
}

fn read_record(fam: Family, f: &mut Fields<'_>, n: &Needs, it: &mut Items) -> Step {
    match fam {
        Family::Syscall => syscall(f, n, it),
        Family::TaskInfo => task_info(f, n, it),
        Family::User | Family::UserAvc => user(f, n, it, fam == Family::UserAvc),
        Family::Login => login(f, n, it),
        Family::Daemon1 => daemon1(f, n, it),
        Family::Daemon2 => {
            res_word(f, n, it);
            Ok(())
        }
        Family::Simple | Family::ConfigChange => simple(f, n, it, fam == Family::ConfigChange),
        Family::KernelAnom => kernel_anom(f, n, it),
        Family::Integrity => integrity(f, n, it),
        Family::Tty => tty(f, n, it),
        Family::Kernel => kernel(f, n, it),
        Family::Avc => avc(f, n, it),
        Family::Uring => uring(f, n, it),
        Family::Contid => {
            contid(f, n, it);
            Ok(())
        }
        Family::Nothing => Ok(()),
    }
}

fn set(slot: &mut u32, v: Option<u32>) {
    if let Some(v) = v {
        *slot = v;
    }
}

/// The numeric ids a record family holds, each `(needed, field, slot, required)`: a needed
/// field that is required but absent makes the event malformed.
fn ids<const N: usize>(f: &mut Fields<'_>, ids: [(bool, &str, &mut u32, bool); N]) -> Step {
    for (want, name, slot, required) in ids {
        if want {
            set(slot, f.num_or(name, required)?);
        }
    }
    Ok(())
}

/// `auid=`, or `loginuid=` where a record spells it so; one of them is required.
fn auid_or_loginuid(f: &mut Fields<'_>, n: &Needs, it: &mut Items) -> Step {
    if n.loginuid {
        let v = match f.num("auid") {
            Some(v) => v,
            None => f.num("loginuid").ok_or(Malformed)?,
        };
        it.loginuid = v as u32;
    }
    Ok(())
}

/// `comm=` and `exe=` where present (the families that require them read them themselves).
fn comm_exe(f: &mut Fields<'_>, n: &Needs, it: &mut Items) {
    if n.comm {
        if let Some(c) = f.text("comm") {
            it.comm = Some(string_value(c));
        }
    }
    if n.exe {
        if let Some(e) = f.text("exe") {
            it.exe = Some(string_value(e));
        }
    }
}

/// `key=`: its keys add to those of earlier records.
fn key(f: &mut Fields<'_>, n: &Needs, it: &mut Items) {
    if n.key {
        if let Some(v) = f.text("key") {
            let keys = keys_of(v);
            it.keys.get_or_insert_with(Vec::new).extend(keys);
        }
    }
}

/// `success=yes|no` (SYSCALL, URINGOP).
fn success_yes(f: &mut Fields<'_>, n: &Needs, it: &mut Items) {
    if n.success {
        if let Some(v) = f.text("success") {
            it.success = if v == b"yes" { S_SUCCESS } else { S_FAILED };
        }
    }
}

/// A `res=` word: anything but `failed...` is success.
fn res_failed_or_success(v: &[u8]) -> i64 {
    if v.starts_with(b"failed") {
        S_FAILED
    } else {
        S_SUCCESS
    }
}

/// `res=`: strtoul of the value (`res=1` success, `res=0` failed).
fn res_num(f: &mut Fields<'_>, n: &Needs, it: &mut Items) {
    if n.success {
        if let Some(v) = f.num("res") {
            it.success = v as i64;
        }
    }
}

/// `res=success|failed` (daemon records): anything but `failed` is success.
fn res_word(f: &mut Fields<'_>, n: &Needs, it: &mut Items) {
    if n.success {
        if let Some(v) = f.text("res") {
            it.success = res_failed_or_success(v);
        }
    }
}

fn syscall(f: &mut Fields<'_>, n: &Needs, it: &mut Items) -> Step {
    if n.arch {
        let a = f.text("arch").ok_or(Malformed)?;
        it.arch = u32::from_str_radix(std::str::from_utf8(a).unwrap_or(""), 16).unwrap_or(0);
    }
    it.syscall = f.num("syscall").ok_or(Malformed)? as i32;
    success_yes(f, n, it);
    if n.exit {
        it.exit = Some(strtoll(f.text("exit").ok_or(Malformed)?));
    }
    // ausearch insists on a0 and a1 in every SYSCALL record.
    f.text("a0").ok_or(Malformed)?;
    f.text("a1").ok_or(Malformed)?;
    task_info(f, n, it)?;
    key(f, n, it);
    Ok(())
}

fn task_info(f: &mut Fields<'_>, n: &Needs, it: &mut Items) -> Step {
    auid_or_loginuid(f, n, it)?;
    ids(
        f,
        [
            (n.ppid, "ppid", &mut it.ppid, false),
            (n.pid, "pid", &mut it.pid, true),
            (n.uid, "uid", &mut it.uid, true),
            (n.gid, "gid", &mut it.gid, true),
            (n.euid, "euid", &mut it.euid, true),
            (n.egid, "egid", &mut it.egid, true),
            (n.session, "ses", &mut it.session, false),
        ],
    )?;
    if n.comm {
        it.comm = Some(string_value(f.text("comm").ok_or(Malformed)?));
    }
    if n.exe {
        it.exe = Some(string_value(f.text("exe").ok_or(Malformed)?));
    }
    res_num(f, n, it);
    Ok(())
}

/// USER-family messages: the task fields, then what the text in `msg='...'` holds.
fn user(f: &mut Fields<'_>, n: &Needs, it: &mut Items, avc: bool) -> Step {
    // USER_AVC ignores the late failures of the user parser (its codes above 20).
    auid_or_loginuid(f, n, it)?;
    ids(
        f,
        [
            (n.pid, "pid", &mut it.pid, true),
            (n.uid, "uid", &mut it.uid, true),
            (n.session, "ses", &mut it.session, false),
        ],
    )?;
    let msg = f.text("msg").map(<[u8]>::to_vec).unwrap_or_default();
    if n.uid {
        match msg_uid(&msg) {
            Ok(Some(u)) => it.uid = u,
            Err(e) if !avc => return Err(e),
            Ok(None) | Err(_) => {}
        }
    }
    if n.comm {
        if let Some(c) = after(&msg, b"comm=") {
            it.comm = Some(string_value(c));
        }
    }
    if n.exe {
        if let Some(e) = after(&msg, b"exe=") {
            it.exe = Some(string_value(e));
        }
    }
    if n.success {
        if let Some(r) = after(&msg, b"res=") {
            it.success = res_failed_or_success(r);
        } else if let Some(r) = after(&msg, b"result=") {
            let end = r.iter().position(|&b| b == b')').unwrap_or(r.len());
            it.success = if r[..end].eq_ignore_ascii_case(b"success") {
                S_SUCCESS
            } else {
                S_FAILED
            };
        }
    }
    Ok(())
}

/// The text after the first `pat` in `hay`.
fn after<'h>(hay: &'h [u8], pat: &[u8]) -> Option<&'h [u8]> {
    hay.windows(pat.len())
        .position(|w| w == pat)
        .map(|p| &hay[p + pat.len()..])
}

/// The `uid=` inside a user message (`USER_LOGIN`'s target uid): `auid=` is skipped, `suid=`
/// or `ouid=`-like names end the search, and the value must be digits after a space or quote.
fn msg_uid(msg: &[u8]) -> Result<Option<u32>, Malformed> {
    let mut from = 0;
    while let Some(p) = msg[from..].windows(4).position(|w| w == b"uid=") {
        let at = from + p;
        let prev = if at == 0 { b'\'' } else { msg[at - 1] };
        match prev {
            b'a' => {
                from = at + 1;
                continue;
            }
            b's' | b'u' => return Ok(None),
            b'\'' | b' ' => {}
            _ => return Err(Malformed),
        }
        let digits = &msg[at + 4..];
        let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
        if len == 0 {
            return Err(Malformed);
        }
        return Ok(Some(strtoul(&digits[..len]) as u32));
    }
    Ok(None)
}

fn login(f: &mut Fields<'_>, n: &Needs, it: &mut Items) -> Step {
    if n.success {
        it.success = f.num("res").map_or(S_SUCCESS, |v| v as i64);
    }
    ids(
        f,
        [
            (n.pid, "pid", &mut it.pid, true),
            (n.uid, "uid", &mut it.uid, true),
            (n.loginuid, "auid", &mut it.loginuid, true),
            (n.session, "ses", &mut it.session, true),
        ],
    )
}

fn daemon1(f: &mut Fields<'_>, n: &Needs, it: &mut Items) -> Step {
    ids(
        f,
        [
            (n.loginuid, "auid", &mut it.loginuid, true),
            (n.pid, "pid", &mut it.pid, true),
            (n.uid, "uid", &mut it.uid, false),
            (n.session, "ses", &mut it.session, false),
        ],
    )?;
    if n.success {
        if let Some(v) = f.text("res") {
            if !v.first().is_some_and(u8::is_ascii_alphabetic) {
                return Err(Malformed);
            }
        }
    }
    res_word(f, n, it);
    Ok(())
}

/// `CONFIG_CHANGE` and MAC policy messages: auid, ses, key, res.
fn simple(f: &mut Fields<'_>, n: &Needs, it: &mut Items, config: bool) -> Step {
    ids(
        f,
        [
            (n.loginuid, "auid", &mut it.loginuid, !config),
            (n.session, "ses", &mut it.session, false),
        ],
    )?;
    key(f, n, it);
    if config {
        it.success = S_SUCCESS;
    }
    res_num(f, n, it);
    Ok(())
}

fn kernel_anom(f: &mut Fields<'_>, n: &Needs, it: &mut Items) -> Step {
    ids(
        f,
        [
            (n.loginuid, "auid", &mut it.loginuid, true),
            (n.uid, "uid", &mut it.uid, false),
            (n.gid, "gid", &mut it.gid, false),
            (n.session, "ses", &mut it.session, false),
            (n.pid, "pid", &mut it.pid, false),
        ],
    )?;
    comm_exe(f, n, it);
    if f.text("arch").is_some() && f.rtype == 1326 {
        it.arch = f
            .text("arch")
            .and_then(|a| u32::from_str_radix(std::str::from_utf8(a).ok()?, 16).ok())
            .unwrap_or(0);
        it.syscall = f.num("syscall").ok_or(Malformed)? as i32;
    }
    res_num(f, n, it);
    Ok(())
}

fn integrity(f: &mut Fields<'_>, n: &Needs, it: &mut Items) -> Step {
    ids(
        f,
        [
            // pid is taken even when no criterion needs it (unlike the other families).
            (true, "pid", &mut it.pid, false),
            (n.uid, "uid", &mut it.uid, false),
            (n.loginuid, "auid", &mut it.loginuid, false),
            (n.session, "ses", &mut it.session, false),
        ],
    )?;
    res_num(f, n, it);
    Ok(())
}

fn tty(f: &mut Fields<'_>, n: &Needs, it: &mut Items) -> Step {
    ids(
        f,
        [
            (n.pid, "pid", &mut it.pid, false),
            (n.uid, "uid", &mut it.uid, false),
            (n.loginuid, "auid", &mut it.loginuid, true),
            (n.session, "ses", &mut it.session, false),
        ],
    )
}

/// `NETFILTER_CFG`, `EVENT_LISTENER`: fill only what no earlier record filled.
fn kernel(f: &mut Fields<'_>, n: &Needs, it: &mut Items) -> Step {
    if n.pid && it.pid == u32::MAX {
        set(&mut it.pid, f.num_or("pid", true)?);
    }
    if n.uid && it.uid == u32::MAX {
        it.uid = f.num("uid").unwrap_or(0) as u32;
    }
    if n.loginuid && it.loginuid == u32::MAX - 1 {
        it.loginuid = f.num("auid").map_or(u32::MAX, |v| v as u32);
    }
    if n.session && it.session == u32::MAX - 1 {
        it.session = f.num("ses").map_or(u32::MAX, |v| v as u32);
    }
    if n.comm && it.comm.is_none() {
        it.comm = Some(string_value(f.text("comm").ok_or(Malformed)?));
    }
    if n.exe && it.exe.is_none() {
        it.exe = Some(
            f.text("exe")
                .map_or_else(|| b"(null)".to_vec(), string_value),
        );
    }
    res_num(f, n, it);
    Ok(())
}

/// Kernel AVC: `denied`/`granted`, pid; ausearch requires `tclass=`.
fn avc(f: &mut Fields<'_>, n: &Needs, it: &mut Items) -> Step {
    if n.success {
        let denied = f.has_word("denied");
        it.success = if denied { S_FAILED } else { S_SUCCESS };
    }
    if n.pid {
        set(&mut it.pid, f.num_or("pid", false)?);
    }
    f.text("tclass").ok_or(Malformed)?;
    Ok(())
}

/// vigil's URINGOP: the ring owner's ids, success and key (ausearch reads none of it).
fn uring(f: &mut Fields<'_>, n: &Needs, it: &mut Items) -> Step {
    success_yes(f, n, it);
    if n.exit {
        if let Some(v) = f.text("exit") {
            it.exit = Some(strtoll(v));
        }
    }
    ids(
        f,
        [
            (n.ppid, "ppid", &mut it.ppid, false),
            (n.pid, "pid", &mut it.pid, false),
            (n.uid, "uid", &mut it.uid, false),
            (n.euid, "euid", &mut it.euid, false),
            (n.gid, "gid", &mut it.gid, false),
            (n.egid, "egid", &mut it.egid, false),
            (n.loginuid, "auid", &mut it.loginuid, false),
            (n.session, "ses", &mut it.session, false),
        ],
    )?;
    comm_exe(f, n, it);
    key(f, n, it);
    Ok(())
}

fn contid(f: &mut Fields<'_>, n: &Needs, it: &mut Items) {
    if !n.contid {
        return;
    }
    if let Some(v) = f.text("contid") {
        // A list (`contid=7,3`: own id first, then the enclosing ones) or one number.
        for part in v.split(|&b| b == b',') {
            if !part.is_empty() && part.iter().all(u8::is_ascii_digit) {
                it.contids.push(strtoul(part));
            }
        }
    }
}

#[cfg(test)]
mod tests;
