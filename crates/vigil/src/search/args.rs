//! `vigil search` options, spelled as ausearch spells them (single-dash long options such as
//! `-if`, `-ui`, `-sc`), so habits carry over. As in ausearch, an option's argument is the
//! next word unless that word starts with `-`, and `-ts`/`-te` take a date, a time, or both.
//!
//! vigil adds `--contid ID`, `--json`, `--rotated`, and allows `-if` several times (files are
//! read in the order given; a directory means its `audit.log` rotated set).

use std::ffi::OsString;
use std::path::PathBuf;

use vigil_format::RecordType;
use vigil_rules::tables;

use super::query::Query;
use super::time::{self, End};

/// How matching events are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// `----`, `time->...`, then the records (ausearch's default).
    #[default]
    Default,
    /// The records as read (`--raw`).
    Raw,
    /// Interpreted fields (`-i`).
    Interpret,
    /// One JSON object per event (`--json`); with `-i`, resolved names are added.
    Json,
}

/// Everything the command line asked for.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub inputs: Vec<PathBuf>,
    /// Each `-if FILE` names the base of a rotated set (`FILE.N` ... `FILE`).
    pub rotated: bool,
    /// `--input-logs`: the configured logs even when stdin is a pipe.
    pub input_logs: bool,
    /// `--config FILE`: the daemon configuration naming the logs (default: the embedded one).
    pub config: Option<PathBuf>,
    pub query: Query,
    pub format: Format,
    /// `-i` together with `--json`: add resolved names.
    pub json_interpret: bool,
    pub just_one: bool,
    pub line_buffered: bool,
    pub debug: bool,
    pub eoe_timeout: Option<u64>,
    pub help: bool,
    pub version: bool,
}

/// The usage text.
pub const USAGE: &str = "\
usage: vigil search [options]
  -a,--event <serial>            the event with this serial number
  --arch <machine|b32|b64>       events of this architecture
  --contid <id>                  events of this audit container id (vigil)
  -c,--comm <comm>               events whose comm contains this
  --config <file>                daemon configuration whose log.file is read when no -if
                                 is given (default: the embedded configuration) (vigil)
  --debug                        report lines that are skipped
  -e,--exit <code|errno>         syscall exit code or errno name
  --eoe-timeout <secs>           end of event timeout (default 2)
  --format raw|default|interpret|json
  -ga,--gid-all <gid>            group id or effective group id
  -ge,--gid-effective <gid>      effective group id
  -gi,--gid <gid>                group id
  -h,--help                      this help
  -i,--interpret                 interpret numbers into names
  -if,--input <file|dir>         read this file, or a directory's rotated audit.log set;
                                 may be given several times (read in order)
  --input-logs                   read the configured logs even when stdin is a pipe
  --json                         print one JSON object per event (vigil)
  --just-one                     stop after the first match
  -k,--key <key>                 events whose key contains this
  -l,--line-buffered             flush after every event
  -m,--message <type[,type]>     events holding a record of these types (ALL: any)
  -n,--node <node>               events from this node (repeatable)
  -p,--pid <pid>                 process id
  -pp,--ppid <ppid>              parent process id
  -r,--raw                       print the records as read
  --rotated                      each -if file is the base name of a rotated set (vigil)
  -sc,--syscall <name|number>    syscall
  --session <id>                 login session id
  -sv,--success <yes|no>         success value
  -ts,--start [date] [time]      events at or after this time
  -te,--end [date] [time]        events at or before this time
  -ua,--uid-all <uid>            uid, effective uid or login uid
  -ue,--uid-effective <uid>      effective uid
  -ui,--uid <uid>                uid
  -ul,--loginuid <uid>           login uid (auid)
  -v,--version                   version
  -w,--word                      strings must match whole
  -x,--executable <exe>          events whose executable contains this
Dates: the locale's form (date '+%x'), MM/DD/YYYY or YYYY-MM-DD; times HH:MM[:SS]; or
now, recent, boot, today, yesterday, this-week, week-ago, this-month, this-year.
";

fn user_id(opt: &str, v: &str) -> Result<u32, String> {
    if v.starts_with(|c: char| c.is_ascii_digit()) {
        return v
            .parse::<u64>()
            .map(|n| n as u32)
            .map_err(|e| format!("Numeric user ID conversion error ({e}) for {v}"));
    }
    if let Some(n) = v
        .strip_prefix('-')
        .filter(|n| n.starts_with(|c: char| c.is_ascii_digit()))
    {
        if opt == "-ul" {
            return n
                .parse::<u32>()
                .map(u32::wrapping_neg)
                .map_err(|e| format!("Error converting {v}: {e}"));
        }
    }
    lookup_user(v).ok_or_else(|| format!("{opt}: user ID is non-numeric and unknown ({v})"))
}

fn group_id(opt: &str, v: &str) -> Result<u32, String> {
    if v.starts_with(|c: char| c.is_ascii_digit()) {
        return v
            .parse::<u64>()
            .map(|n| n as u32)
            .map_err(|e| format!("Numeric group ID conversion error ({e}) for {v}"));
    }
    lookup_group(v).ok_or_else(|| format!("{opt}: group ID is non-numeric and unknown ({v})"))
}

fn lookup_user(name: &str) -> Option<u32> {
    use vigil_rules::Host as _;
    vigil_rules::SystemHost.uid_of(name)
}

fn lookup_group(name: &str) -> Option<u32> {
    use vigil_rules::Host as _;
    vigil_rules::SystemHost.gid_of(name)
}

fn number(opt: &str, what: &str, v: &str) -> Result<u64, String> {
    if !v.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("{what} must be a numeric value, was {v}"));
    }
    v.parse::<u64>()
        .map_err(|e| format!("{opt}: illegal value {v} ({e})"))
}

/// `-m` list: names, numbers, `UNKNOWN[n]`; `ALL` means any.
fn message_types(v: &str) -> Result<Vec<u32>, String> {
    if v.eq_ignore_ascii_case("ALL") {
        return Ok(Vec::new());
    }
    v.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            RecordType::from_name(s.as_bytes())
                .or_else(|| tables::msgtype_number(s).map(RecordType))
                .map(|t| t.0)
                .ok_or_else(|| format!("-m: unknown message type {s}; valid: ALL, names such as SYSCALL, PATH, USER_LOGIN, or numbers"))
        })
        .collect()
}

fn exit_code(v: &str) -> Result<i64, String> {
    let numeric = v.starts_with(|c: char| c.is_ascii_digit())
        || (v.len() >= 2 && v.starts_with('-') && v[1..].starts_with(|c: char| c.is_ascii_digit()));
    if numeric {
        return Ok(super::items::strtoll(v.as_bytes()));
    }
    let name = v.strip_prefix('-').unwrap_or(v);
    tables::errno_number(name)
        .map(|n| -i64::from(n))
        .ok_or_else(|| format!("Unknown errno, was {v}"))
}

/// Parses the words after `vigil search`.
pub fn parse(args: &[OsString]) -> Result<Options, String> {
    let words: Vec<String> = args
        .iter()
        .map(|a| {
            a.to_str()
                .map(str::to_string)
                .ok_or_else(|| format!("argument {} is not valid UTF-8", a.display()))
        })
        .collect::<Result<_, _>>()?;
    let mut opts = Options::default();
    let mut explicit_format = false;
    let mut i = 0;
    while i < words.len() {
        let opt = words[i].as_str();
        // The argument: the next word unless it looks like an option.
        let arg = words.get(i + 1).filter(|w| !w.starts_with('-')).cloned();
        let need = |what: &str| -> Result<String, String> {
            arg.clone()
                .ok_or_else(|| format!("Argument is required for {what}"))
        };
        let mut took = 1;
        let q = &mut opts.query;
        match opt {
            "-a" | "--event" => {
                q.event_id = Some(number(opt, "Audit event id", &need(opt)?)?);
            }
            "--arch" => {
                let v = need(opt)?;
                let arch = match v.as_str() {
                    "b64" => tables::arch_for_bits(tables::native_arch(), true),
                    "b32" => tables::arch_for_bits(tables::native_arch(), false),
                    m => tables::arch_from_machine(m),
                }
                .ok_or_else(|| format!("Unknown arch {v}"))?;
                if q.syscall.is_some() && q.arch.is_some() {
                    return Err("Arch needs to be defined before the syscall".into());
                }
                q.arch = Some(arch);
            }
            "-c" | "--comm" => q.comm = Some(need(opt)?.into_bytes()),
            "--config" => opts.config = Some(PathBuf::from(need(opt)?)),
            "--contid" => {
                q.contid = Some(number(opt, "Container id", &need(opt)?)?);
            }
            "--debug" => opts.debug = true,
            "-e" | "--exit" => {
                let v = words
                    .get(i + 1)
                    .cloned()
                    .ok_or_else(|| format!("Argument is required for {opt}"))?;
                q.exit = Some(exit_code(&v)?);
            }
            "--eoe-timeout" => {
                opts.eoe_timeout = Some(number(opt, "The timeout", &need(opt)?)?);
            }
            "--format" => {
                if explicit_format {
                    return Err("Multiple output formats, use only 1".into());
                }
                opts.format = match need(opt)?.as_str() {
                    "raw" => Format::Raw,
                    "default" => Format::Default,
                    f if f.starts_with("interp") => Format::Interpret,
                    "json" => Format::Json,
                    f => return Err(format!("Unknown option ({f}) for --format")),
                };
                explicit_format = true;
            }
            "-ga" | "--gid-all" => {
                let g = group_id(opt, &need(opt)?)?;
                q.gid = Some(g);
                q.egid = Some(g);
                q.gid_all = true;
            }
            "-ge" | "--gid-effective" => q.egid = Some(group_id(opt, &need(opt)?)?),
            "-gi" | "--gid" => q.gid = Some(group_id(opt, &need(opt)?)?),
            "-h" | "--help" => {
                opts.help = true;
                took = 0;
            }
            "-i" | "--interpret" => {
                match opts.format {
                    Format::Default | Format::Interpret => opts.format = Format::Interpret,
                    Format::Json => opts.json_interpret = true,
                    Format::Raw => return Err(format!("Conflicting output format {opt}")),
                }
                took = 0;
            }
            "-if" | "--input" => opts.inputs.push(PathBuf::from(need(opt)?)),
            "--input-logs" => {
                opts.input_logs = true;
                took = 0;
            }
            "--json" => {
                match opts.format {
                    Format::Default | Format::Json => {}
                    Format::Interpret => opts.json_interpret = true,
                    Format::Raw => return Err("Conflicting output format --json".into()),
                }
                opts.format = Format::Json;
                took = 0;
            }
            "--just-one" => {
                opts.just_one = true;
                took = 0;
            }
            "-k" | "--key" => q.key = Some(need(opt)?.into_bytes()),
            "-l" | "--line-buffered" => {
                opts.line_buffered = true;
                took = 0;
            }
            "-m" | "--message" => q.types.extend(message_types(&need(opt)?)?),
            "-n" | "--node" => q.nodes.push(need(opt)?),
            "-p" | "--pid" => q.pid = Some(number(opt, "Process id", &need(opt)?)? as u32),
            "-pp" | "--ppid" => {
                q.ppid = Some(number(opt, "Parent process id", &need(opt)?)? as u32);
            }
            "-r" | "--raw" => {
                if !matches!(opts.format, Format::Default | Format::Raw) {
                    return Err("Conflicting output format --raw".into());
                }
                opts.format = Format::Raw;
                took = 0;
            }
            "--rotated" => {
                opts.rotated = true;
                took = 0;
            }
            "-sc" | "--syscall" => {
                let v = need(opt)?;
                if v.starts_with(|c: char| c.is_ascii_digit()) {
                    q.syscall = Some(number(opt, "Syscall", &v)? as i32);
                } else {
                    let arch = *q.arch.get_or_insert_with(tables::native_arch);
                    let nr = tables::syscall_number(arch, &v)
                        .ok_or_else(|| format!("Syscall {v} not found"))?;
                    q.syscall = Some(nr as i32);
                }
            }
            "--session" => {
                let v = words
                    .get(i + 1)
                    .cloned()
                    .ok_or_else(|| format!("Argument is required for {opt}"))?;
                q.session = Some(if let Some(n) = v.strip_prefix('-') {
                    (number(opt, "Session id", n)? as u32).wrapping_neg()
                } else {
                    number(opt, "Session id", &v)? as u32
                });
            }
            "-sv" | "--success" => {
                q.success = match need(opt)?.as_str() {
                    "yes" => Some(true),
                    "no" => Some(false),
                    _ => return Err("Success must be 'yes' or 'no'.".into()),
                };
            }
            "-ts" | "--start" | "-te" | "--end" => {
                let end = if matches!(opt, "-ts" | "--start") {
                    End::Start
                } else {
                    End::End
                };
                let first = arg
                    .clone()
                    .ok_or_else(|| format!("{opt} requires either date and/or time"))?;
                let second = words.get(i + 2).filter(|w| !w.starts_with('-')).cloned();
                // One word: a keyword, a date, or a time; two: a date and a time, in
                // either order.
                let (date, tm) = if let Some(s) = second {
                    took = 3;
                    if first.contains(':') {
                        (Some(s), Some(first))
                    } else {
                        (Some(first), Some(s))
                    }
                } else {
                    took = 2;
                    if time::is_keyword(&first) || !first.contains(':') {
                        (Some(first), None)
                    } else {
                        (None, Some(first))
                    }
                };
                let t = time::parse(end, date.as_deref(), tm.as_deref())?;
                match end {
                    End::Start => q.start = Some(t),
                    End::End => q.end = Some(t),
                }
                i += took;
                continue;
            }
            "-ua" | "--uid-all" => {
                let u = user_id(opt, &need(opt)?)?;
                q.uid = Some(u);
                q.euid = Some(u);
                q.loginuid = Some(u);
                q.uid_all = true;
            }
            "-ue" | "--uid-effective" => q.euid = Some(user_id(opt, &need(opt)?)?),
            "-ui" | "--uid" => q.uid = Some(user_id(opt, &need(opt)?)?),
            "-ul" | "--loginuid" => {
                let v = words
                    .get(i + 1)
                    .cloned()
                    .ok_or_else(|| format!("Argument is required for {opt}"))?;
                q.loginuid = Some(user_id("-ul", &v)?);
            }
            "-v" | "--version" => {
                opts.version = true;
                took = 0;
            }
            "-w" | "--word" => {
                q.exact = true;
                took = 0;
            }
            "-x" | "--executable" => q.exe = Some(need(opt)?.into_bytes()),
            other => return Err(format!("{other} is an unsupported option")),
        }
        i += took + 1;
    }
    normalize(&mut opts.query);
    opts.query.interpret = opts.format == Format::Interpret;
    Ok(opts)
}

/// ausearch's sentinels: an id equal to its "unset" value is no criterion at all (its C
/// variables start at -1, so `-ui 4294967295` selects everything). Kept for parity.
fn normalize(q: &mut Query) {
    if !q.uid_all {
        for slot in [&mut q.uid, &mut q.euid] {
            if *slot == Some(u32::MAX) {
                *slot = None;
            }
        }
        if q.loginuid == Some(u32::MAX - 1) {
            q.loginuid = None;
        }
    }
    if !q.gid_all {
        for slot in [&mut q.gid, &mut q.egid] {
            if *slot == Some(u32::MAX) {
                *slot = None;
            }
        }
    }
    for slot in [&mut q.pid, &mut q.ppid] {
        if *slot == Some(u32::MAX) {
            *slot = None;
        }
    }
    if q.session == Some(u32::MAX - 1) {
        q.session = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Options, String> {
        parse(&s.split_whitespace().map(OsString::from).collect::<Vec<_>>())
    }

    #[test]
    fn ausearch_spellings() {
        let o = p("-if a.log -if b.log -k mykey -p 42 -pp 1 -ui 1000 -sc openat -m SYSCALL,PATH -sv yes -a 7 --raw").unwrap();
        assert_eq!(o.inputs, [PathBuf::from("a.log"), PathBuf::from("b.log")]);
        let q = &o.query;
        assert_eq!(q.key.as_deref(), Some(&b"mykey"[..]));
        assert_eq!((q.pid, q.ppid, q.uid), (Some(42), Some(1), Some(1000)));
        assert_eq!(q.syscall, Some(257));
        assert_eq!(q.arch, Some(tables::native_arch()));
        assert_eq!(q.types, [1300, 1302]);
        assert_eq!((q.success, q.event_id), (Some(true), Some(7)));
        assert_eq!(o.format, Format::Raw);
    }

    #[test]
    fn uid_all_and_numbers() {
        let q = p("-ua 0 -sc 59 -m 1300").unwrap().query;
        assert!(q.uid_all);
        assert_eq!((q.uid, q.euid, q.loginuid), (Some(0), Some(0), Some(0)));
        assert_eq!((q.syscall, q.arch), (Some(59), None));
        let q = p("-ua root -ul -1").unwrap().query;
        assert_eq!(q.loginuid, Some(u32::MAX));
        assert_eq!(p("-ui 4294967295").unwrap().query.uid, None);
    }

    #[test]
    fn time_takes_one_or_two_words() {
        let o = p("-ts 01/02/2024 10:00:00 -te 10:30:00 01/02/2024 -k x").unwrap();
        assert_eq!(o.query.end.unwrap() - o.query.start.unwrap(), 1800);
        assert_eq!(o.query.key.as_deref(), Some(&b"x"[..]));
        let o = p("-ts recent -te now").unwrap();
        assert!(o.query.start.unwrap() < o.query.end.unwrap());
        assert!(p("-ts").is_err());
        assert!(p("-ts 99/99/2024").is_err());
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(p("-k").unwrap_err().contains("-k"));
        assert!(p("-sv maybe").unwrap_err().contains("yes"));
        assert!(p("-sc notasyscall").unwrap_err().contains("notasyscall"));
        assert!(p("-m NOPE").unwrap_err().contains("NOPE"));
        assert!(p("--bogus").unwrap_err().contains("--bogus"));
        assert!(p("-p abc").unwrap_err().contains("abc"));
        assert!(p("--raw -i").is_err());
        let o = p("--json -i").unwrap();
        assert!(o.json_interpret && o.format == Format::Json);
    }
}
