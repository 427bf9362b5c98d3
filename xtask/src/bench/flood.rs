//! `bench flood`: an openat flood matching one rule; the highest rate of events written to
//! disk with nothing lost, vigil vs kernel audit + auditd (docs/BENCHMARKS.md, "Sustained
//! event rate").
//!
//! Per daemon: start it with the one-rule file, then flood at rising target rates (doubling
//! until a step loses events or the generator cannot reach its target, then bisecting), then
//! once as fast as possible. After each step a marker is written through the daemon; the log
//! is read up to it, counting the flood's SYSCALL records. A step is sustained when every
//! openat made was written and no loss counter moved.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::compare::RunDir;
use super::floodgen::FloodPlan;
use super::kernel::{Auditd, AuditdConf, Kernel};
use super::procs::{binaries, die_with_parent, Bins};
use super::report::{loadavg, machine};
use super::vigild::{self, VigilConf, Vigild};

pub use super::floodgen::child;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Kernel,
    Vigil,
}

impl Target {
    fn label(self) -> &'static str {
        match self {
            Target::Kernel => "kernel audit + auditd",
            Target::Vigil => "vigil",
        }
    }
}

struct Args {
    seconds: f64,
    threads: u32,
    rates: Option<Vec<u64>>,
    start: u64,
    max: u64,
    bisect: u32,
    targets: Vec<Target>,
    format: String,
    uid: u32,
    build: bool,
    keep: bool,
    out: Option<PathBuf>,
}

const HELP: &str = "usage: cargo run --release -p xtask -- bench flood [OPTIONS]
  --seconds S      duration of each step (default 3)
  --threads N      flooding threads (default: one per online CPU)
  --rates LIST     target openat/s to try, in order (default: search from --start)
  --start N        first target of the search (default 5000)
  --max N          highest target of the search (default 2560000)
  --bisect N       bisection steps after the first failing target (default 3)
  --targets LIST   kernel,vigil (default both)
  --format F       raw or enriched, for both daemons (default raw)
  --uid U          uid the flood runs as; the rule matches it (default 54329)
  --no-build       use the release binaries already built
  --keep           keep the run directory
  --out FILE       also write the markdown report to FILE";

fn parse_args(args: &[String]) -> anyhow::Result<Args> {
    let mut a = Args {
        seconds: 3.0,
        // SAFETY: sysconf has no memory arguments.
        threads: u32::try_from(unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) })
            .unwrap_or(1)
            .max(1),
        rates: None,
        start: 5000,
        max: 2_560_000,
        bisect: 3,
        targets: vec![Target::Kernel, Target::Vigil],
        format: "raw".into(),
        uid: 54_329,
        build: true,
        keep: false,
        out: None,
    };
    let mut it = args.iter();
    while let Some(k) = it.next() {
        let mut val = || it.next().with_context(|| format!("{k} needs a value"));
        let bad = |s: &str| anyhow::anyhow!("{k}: bad value {s:?}");
        match k.as_str() {
            "--seconds" => a.seconds = val().and_then(|s| s.parse().map_err(|_| bad(s)))?,
            "--threads" => a.threads = val().and_then(|s| s.parse().map_err(|_| bad(s)))?,
            "--start" => a.start = val().and_then(|s| s.parse().map_err(|_| bad(s)))?,
            "--max" => a.max = val().and_then(|s| s.parse().map_err(|_| bad(s)))?,
            "--bisect" => a.bisect = val().and_then(|s| s.parse().map_err(|_| bad(s)))?,
            "--uid" => a.uid = val().and_then(|s| s.parse().map_err(|_| bad(s)))?,
            "--rates" => {
                let v = val()?;
                a.rates = Some(
                    v.split(',')
                        .map(|r| r.parse().map_err(|_| bad(r)))
                        .collect::<anyhow::Result<_>>()?,
                );
            }
            "--targets" => {
                a.targets = val()?
                    .split(',')
                    .map(|t| match t {
                        "kernel" => Ok(Target::Kernel),
                        "vigil" => Ok(Target::Vigil),
                        _ => Err(bad(t)),
                    })
                    .collect::<anyhow::Result<_>>()?;
            }
            "--format" => {
                let f = val()?;
                if f != "raw" && f != "enriched" {
                    return Err(bad(f));
                }
                a.format.clone_from(f);
            }
            "--no-build" => a.build = false,
            "--keep" => a.keep = true,
            "--out" => a.out = Some(PathBuf::from(val()?)),
            "--help" | "-h" => {
                println!("{HELP}");
                std::process::exit(0);
            }
            other => bail!("unknown option {other:?}\n{HELP}"),
        }
    }
    if a.seconds <= 0.0 || a.threads == 0 || a.start == 0 || a.uid == 0 {
        bail!("--seconds, --threads, --start and --uid must be positive");
    }
    Ok(a)
}

/// One flood step.
struct Step {
    /// Target openat/s; 0 = as fast as possible.
    rate: u64,
    ops: u64,
    errors: u64,
    elapsed: f64,
    /// From the end of the flood until the marker was on disk.
    drain: f64,
    written: u64,
    lost: u64,
    lost_detail: String,
    /// CPU seconds of the daemon (auditd + kauditd, or vigil) during the step.
    cpu: f64,
}

impl Step {
    fn sustained(&self) -> bool {
        self.lost == 0 && self.written == self.ops && self.errors == 0
    }
    fn achieved(&self) -> f64 {
        self.ops as f64 / self.elapsed
    }
    fn written_rate(&self) -> f64 {
        self.written as f64 / (self.elapsed + self.drain)
    }
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let a = parse_args(args)?;
    // SAFETY: geteuid has no arguments.
    if unsafe { libc::geteuid() } != 0 {
        bail!("bench flood needs root (kernel audit, auditd, BPF)");
    }
    let bins = binaries(a.build)?;
    let dir = RunDir::new("vigil-bench-flood", a.keep)?;
    let file = flood_file(&dir.path)?;
    let rules = dir.path.join("flood.rules");
    std::fs::write(
        &rules,
        format!(
            "-a always,exit -F arch=b64 -S openat -F uid={} -F key=flood\n",
            a.uid
        ),
    )?;
    let mut kernel = Kernel::take()?;
    let load_start = loadavg();
    let mut results = Vec::new();
    let mut outcome = Ok(());
    for t in &a.targets {
        match run_target(&a, *t, &bins, &mut kernel, &dir.path, &rules, &file) {
            Ok(steps) => results.push((*t, steps)),
            Err(e) => {
                outcome = Err(e.context(format!("flooding {}", t.label())));
                break;
            }
        }
    }
    let restored = kernel.restore();
    drop(kernel);
    outcome?;
    restored.context("restoring kernel audit state")?;
    let text = markdown(&a, &results, &load_start);
    print!("{text}");
    if let Some(out) = &a.out {
        std::fs::write(out, &text).with_context(|| out.display().to_string())?;
    }
    Ok(())
}

/// The file the flood opens: in a directory every uid can search.
fn flood_file(dir: &Path) -> anyhow::Result<String> {
    use std::os::unix::fs::PermissionsExt;
    let d = dir.join("target");
    std::fs::create_dir_all(&d)?;
    for p in [dir, d.as_path()] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755))?;
    }
    let f = d.join("file");
    std::fs::write(&f, b"flood\n")?;
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644))?;
    Ok(f.display().to_string())
}

enum Daemon {
    Kernel(Auditd),
    Vigil(Vigild),
}

fn run_target(
    a: &Args,
    t: Target,
    bins: &Bins,
    kernel: &mut Kernel,
    dir: &Path,
    rules: &Path,
    file: &str,
) -> anyhow::Result<Vec<Step>> {
    let ddir = dir.join(match t {
        Target::Kernel => "auditd",
        Target::Vigil => "vigil",
    });
    let mut d = match t {
        Target::Kernel => {
            let conf = AuditdConf {
                format: a.format.to_uppercase(),
                ..AuditdConf::default()
            };
            let auditd = Auditd::start(kernel, &ddir, &conf)?;
            // Debian's 10-base-config.rules: -b 8192.
            kernel.set_backlog_limit(8192)?;
            kernel.load_rules(rules)?;
            Daemon::Kernel(auditd)
        }
        Target::Vigil => {
            let conf = VigilConf {
                format: a.format.clone(),
                ..VigilConf::default()
            };
            Daemon::Vigil(Vigild::start(&bins.vigil, &ddir, rules, &conf)?)
        }
    };
    let steps = ladder(a, t, &mut d, kernel, file);
    if let Daemon::Kernel(auditd) = &mut d {
        let cleared = kernel.clear_rules();
        auditd.stop();
        kernel.set_enabled(0)?;
        cleared?;
    }
    drop(d);
    steps
}

fn ladder(
    a: &Args,
    t: Target,
    d: &mut Daemon,
    kernel: &mut Kernel,
    file: &str,
) -> anyhow::Result<Vec<Step>> {
    let log = match d {
        Daemon::Kernel(x) => x.log.clone(),
        Daemon::Vigil(x) => x.log.clone(),
    };
    let mut tail = LogTail::open(&log);
    let mut steps = Vec::new();
    // Reached: sustained at the target; Held: sustained, but the generator (or the kernel's
    // backlog wait) kept the rate below the target; Lossy: events were lost.
    let mut step =
        |rate: u64, steps: &mut Vec<Step>| -> anyhow::Result<Outcome> {
            let s = one_step(a, d, kernel, file, rate, &mut tail)?;
            eprintln!(
            "{}: target {} -> {:.0} openat/s, {} of {} written ({:.0}/s, drain {:.2} s), lost {}{}",
            t.label(),
            if rate == 0 { "max".into() } else { rate.to_string() },
            s.achieved(),
            s.written,
            s.ops,
            s.written_rate(),
            s.drain,
            s.lost,
            if s.sustained() { "" } else { "  NOT SUSTAINED" }
        );
            let o = if !s.sustained() {
                Outcome::Lossy
            } else if rate == 0 || s.achieved() >= 0.9 * rate as f64 {
                Outcome::Reached
            } else {
                Outcome::Held
            };
            steps.push(s);
            Ok(o)
        };
    if let Some(rates) = &a.rates {
        for r in rates {
            step(*r, &mut steps)?;
        }
        return Ok(steps);
    }
    let (mut ok, mut fail) = (0u64, None);
    let mut r = a.start;
    while r <= a.max {
        match step(r, &mut steps)? {
            Outcome::Reached => {
                ok = r;
                r *= 2;
            }
            // The flood cannot go faster: nothing left to search.
            Outcome::Held => break,
            Outcome::Lossy => {
                fail = Some(r);
                break;
            }
        }
    }
    if let Some(mut hi) = fail {
        for _ in 0..a.bisect {
            let mid = u64::midpoint(ok, hi);
            if mid <= ok || hi - mid < hi / 50 {
                break;
            }
            if step(mid, &mut steps)? == Outcome::Reached {
                ok = mid;
            } else {
                hi = mid;
            }
        }
    }
    step(0, &mut steps)?;
    Ok(steps)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Reached,
    Held,
    Lossy,
}

fn one_step(
    a: &Args,
    d: &mut Daemon,
    kernel: &mut Kernel,
    file: &str,
    rate: u64,
    tail: &mut LogTail,
) -> anyhow::Result<Step> {
    let lost_before = lost_now(d, kernel)?;
    let cpu_before = daemon_cpu(d);
    let plan = FloodPlan {
        uid: a.uid,
        threads: a.threads,
        rate,
        seconds: a.seconds,
        path: file.to_string(),
    };
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.args(["bench", "flood-child"])
        .args(plan.to_args())
        .stdin(Stdio::null())
        .stderr(Stdio::inherit());
    let out = die_with_parent(&mut cmd)
        .output()
        .context("running the flood generator")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("flood generator failed ({}): {text}", out.status);
    }
    let f: Vec<&str> = text.split_whitespace().collect();
    let (ops, elapsed, errors) = match f.as_slice() {
        ["ops", o, "elapsed", e, "errors", x] => (o.parse()?, e.parse()?, x.parse()?),
        _ => bail!("flood generator: unexpected output {text:?}"),
    };
    // Follow the log until every flood record is in (or it stops growing): the drain time.
    let t_end = Instant::now();
    let mut counts = Counts::default();
    let mut drain = 0.0;
    let mut last_growth = Instant::now();
    while counts.flood < ops && last_growth.elapsed() < LOSS_REPORT {
        let before = counts.flood;
        tail.poll(None, &mut counts)?;
        if counts.flood > before {
            drain = t_end.elapsed().as_secs_f64();
            last_growth = Instant::now();
        } else {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    // vigil reports the BPF side's losses within a second; give both daemons that long.
    std::thread::sleep(LOSS_REPORT.saturating_sub(t_end.elapsed()));
    let marker = format!("vigil-flood-sync-{}-{}", std::process::id(), tail.offset);
    match d {
        Daemon::Kernel(_) => kernel.user_message(&marker)?,
        Daemon::Vigil(v) => {
            v.ctl(&["-m", &marker])?;
        }
    }
    let deadline = Instant::now() + Duration::from_mins(5);
    while !tail.poll(Some(&marker), &mut counts)? {
        if Instant::now() > deadline {
            bail!("marker {marker} not in {} after 300 s", tail.path.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let lost_after = lost_now(d, kernel)?;
    let moved: Vec<(String, u64)> = lost_after
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.saturating_sub(*lost_before.get(k).unwrap_or(&0)),
            )
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    // The counters and the in-band records report the same losses; either moving counts.
    let lost = moved
        .iter()
        .map(|(_, n)| n)
        .sum::<u64>()
        .max(counts.loss_records_lost);
    let mut detail = moved
        .iter()
        .map(|(k, n)| format!("{k} +{n}"))
        .collect::<Vec<_>>()
        .join(" ");
    if counts.loss_records > 0 {
        let _ = write!(
            detail,
            "; {} VIGIL_LOSS records, lost={} in all",
            counts.loss_records, counts.loss_records_lost
        );
    }
    Ok(Step {
        rate,
        ops,
        errors,
        elapsed,
        drain,
        written: counts.flood,
        lost,
        lost_detail: detail,
        cpu: daemon_cpu(d) - cpu_before,
    })
}

/// Loss counters now, by name (kernel: `lost`; vigil: `lost_CAUSE`).
fn lost_now(d: &Daemon, kernel: &mut Kernel) -> anyhow::Result<BTreeMap<String, u64>> {
    Ok(match d {
        Daemon::Kernel(_) => {
            BTreeMap::from([("kernel lost".to_string(), u64::from(kernel.status()?.lost))])
        }
        Daemon::Vigil(v) => vigild::lost_counters(&v.status()?),
    })
}

/// CPU seconds used so far by the daemon (with kauditd for kernel audit).
fn daemon_cpu(d: &Daemon) -> f64 {
    let pids: Vec<u32> = match d {
        Daemon::Kernel(x) => std::iter::once(x.pid).chain(kauditd_pid()).collect(),
        Daemon::Vigil(v) => v.pid().into_iter().collect(),
    };
    pids.into_iter().map(cpu_seconds).sum()
}

fn kauditd_pid() -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
        (comm.trim() == "kauditd").then_some(pid)
    })
}

/// utime + stime of a process (all its threads), seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the parenthesised comm; utime and stime are the 14th and 15th.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|i| f.get(*i).and_then(|x| x.parse::<u64>().ok()))
        .sum();
    // SAFETY: sysconf has no memory arguments.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1);
    ticks as f64 / hz as f64
}

/// How long vigil may take to report the BPF side's losses (it does within a second).
const LOSS_REPORT: Duration = Duration::from_millis(1200);

#[derive(Default)]
struct Counts {
    flood: u64,
    loss_records: u64,
    loss_records_lost: u64,
}

/// Reads a growing log from where it stopped last time.
struct LogTail {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
}

impl LogTail {
    fn open(path: &Path) -> LogTail {
        LogTail {
            path: path.to_path_buf(),
            offset: std::fs::metadata(path).map_or(0, |m| m.len()),
            partial: Vec::new(),
        }
    }

    /// Reads the complete lines written since the last call, counting flood events and
    /// loss records; true once a line contains `marker`.
    fn poll(&mut self, marker: Option<&str>, c: &mut Counts) -> anyhow::Result<bool> {
        let mut f = File::open(&self.path).with_context(|| self.path.display().to_string())?;
        f.seek(SeekFrom::Start(self.offset))?;
        let mut buf = vec![0u8; 1 << 20];
        let mut found = false;
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                return Ok(found);
            }
            self.offset += n as u64;
            self.partial.extend_from_slice(&buf[..n]);
            let end = self
                .partial
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |p| p + 1);
            for line in self.partial[..end].split(|b| *b == b'\n') {
                found |= count_line(line, marker, c);
            }
            self.partial.drain(..end);
        }
    }
}

fn count_line(line: &[u8], marker: Option<&str>, c: &mut Counts) -> bool {
    let has = |pat: &[u8]| line.windows(pat.len()).any(|w| w == pat);
    if line.starts_with(b"type=SYSCALL ") {
        if has(b" key=\"flood\"") {
            c.flood += 1;
        }
    } else if line.starts_with(b"type=VIGIL_LOSS ") {
        c.loss_records += 1;
        if let Some(p) = line.windows(6).position(|w| w == b" lost=") {
            let digits: Vec<u8> = line[p + 6..]
                .iter()
                .copied()
                .take_while(u8::is_ascii_digit)
                .collect();
            c.loss_records_lost += std::str::from_utf8(&digits)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0);
        }
    } else if let Some(m) = marker {
        return has(m.as_bytes());
    }
    false
}

fn markdown(a: &Args, results: &[(Target, Vec<Step>)], load_start: &str) -> String {
    let mut t = String::new();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let _ = writeln!(
        t,
        "Command: `cargo run --release -p xtask -- {}`",
        args.join(" ")
    );
    let _ = writeln!(t);
    let _ = writeln!(
        t,
        "- Machine: {}; load average {load_start} at the start, {} at the end.",
        machine(),
        loadavg()
    );
    let _ = writeln!(
        t,
        "- Rule: `-a always,exit -F arch=b64 -S openat -F uid={} -F key=flood`; the generator \
         makes openat + close of one file as uid {} from {} thread(s), {} s per step. Both \
         daemons write {} with flush incremental_async, freq 50 (Debian's auditd.conf \
         defaults otherwise; kernel backlog_limit 8192 as Debian's audit.rules, \
         backlog_wait_time as found).",
        a.uid,
        a.uid,
        a.threads,
        a.seconds,
        a.format.to_uppercase()
    );
    let _ = writeln!(
        t,
        "- A step is sustained when every openat made is a SYSCALL record in the log and no \
         loss counter moved (kernel: `lost`; vigil: every `lost_*` of `vigil ctl -s` and the \
         `VIGIL_LOSS` records). written/s = records / (flood time + time until a marker sent \
         after the flood was on disk). Kernel audit makes the flooding task wait when its \
         backlog is full (backlog_wait_time), so its achieved rate can fall below the target \
         without loss."
    );
    let _ = writeln!(t);
    let _ = writeln!(
        t,
        "| daemon | target openat/s | achieved openat/s | records written | written/s | drain s | daemon CPU s | lost | sustained |"
    );
    let _ = writeln!(t, "|---|---:|---:|---:|---:|---:|---:|---|---|");
    for (tg, steps) in results {
        for s in steps {
            let _ = writeln!(
                t,
                "| {} | {} | {:.0} | {} / {} | {:.0} | {:.2} | {:.2} | {}{} | {} |",
                tg.label(),
                if s.rate == 0 {
                    "max".into()
                } else {
                    s.rate.to_string()
                },
                s.achieved(),
                s.written,
                s.ops,
                s.written_rate(),
                s.drain,
                s.cpu,
                s.lost,
                if s.lost > 0 {
                    format!(" ({})", s.lost_detail.trim())
                } else {
                    String::new()
                },
                if s.sustained() { "yes" } else { "**no**" }
            );
        }
    }
    let _ = writeln!(t);
    for (tg, steps) in results {
        let best = steps
            .iter()
            .filter(|s| s.sustained())
            .max_by(|x, y| x.written_rate().total_cmp(&y.written_rate()));
        match best {
            Some(s) => {
                let _ = writeln!(
                    t,
                    "- {}: highest sustained **{:.0} events/s written** (target {}, {:.0} openat/s achieved, zero lost).",
                    tg.label(),
                    s.written_rate(),
                    if s.rate == 0 { "max".into() } else { s.rate.to_string() },
                    s.achieved()
                );
            }
            None => {
                let _ = writeln!(t, "- {}: no step was sustained without loss.", tg.label());
            }
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::{count_line, Counts, LogTail};

    #[test]
    fn lines_are_counted_by_kind() {
        let mut c = Counts::default();
        let lines: [&[u8]; 5] = [
            b"type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=257 success=yes key=\"flood\"",
            b"type=SYSCALL msg=audit(1.000:2): arch=c000003e syscall=257 success=yes key=\"other\"",
            b"type=PATH msg=audit(1.000:1): item=0 name=\"key=\\\"flood\\\"\"",
            b"type=VIGIL_LOSS msg=audit(1.000:3): source=ringbuf lost=12 total=40",
            b"type=VIGIL_LOSS msg=audit(1.000:4): source=queue_full lost=3 total=3",
        ];
        for l in lines {
            assert!(!count_line(l, Some("MARK"), &mut c));
        }
        assert_eq!((c.flood, c.loss_records, c.loss_records_lost), (1, 2, 15));
        let user = b"type=USER msg=audit(1.000:5): pid=1 uid=0 msg='MARK exe=x'";
        assert!(count_line(user, Some("MARK"), &mut c));
        assert!(!count_line(user, None, &mut c));
    }

    #[test]
    fn tail_reads_only_new_whole_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("audit.log");
        std::fs::write(&log, "type=SYSCALL msg=audit(1.000:1): key=\"flood\"\n").expect("write");
        // Opened after the first line: it is not counted.
        let mut tail = LogTail::open(&log);
        let mut c = Counts::default();
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&log)
            .expect("open");
        f.write_all(b"type=SYSCALL msg=audit(1.000:2): key=\"flood\"\ntype=SYSCALL msg=audit(1.000:3): key=\"fl")
            .expect("append");
        assert!(!tail.poll(Some("MARK"), &mut c).expect("poll"));
        assert_eq!(c.flood, 1, "the partial line waits for its newline");
        f.write_all(b"ood\"\ntype=USER msg='MARK'\n")
            .expect("append");
        assert!(tail.poll(Some("MARK"), &mut c).expect("poll"));
        assert_eq!(c.flood, 2);
    }
}
