//! `vigil search`: ausearch's queries over audit logs (RAW, ENRICHED, or vigil's JSON lines),
//! with ausearch's options and its notion of which events match, streaming: memory holds
//! the open events of a bounded window, whatever the size of the logs.
//!
//! - [`args`]: the command line (ausearch's spellings).
//! - [`source`]: inputs (files, directories and rotated sets, stdin) and their lines.
//! - [`record`]: records and events as read (verbatim lines, fields parsed on demand).
//! - [`group`]: records -> events, as ausearch groups them.
//! - [`items`] and [`query`]: what each event yields and whether it matches.
//! - [`output`] and [`interp`]: raw, default, interpreted and JSON output.
//!
//! docs/search.md lists the options and where vigil deliberately differs from ausearch.

pub mod args;
pub mod argtext;
pub mod group;
pub mod interp;
pub mod items;
pub mod output;
pub mod query;
pub mod record;
pub mod source;
pub mod time;

use std::ffi::OsString;
use std::io::{self, IsTerminal as _, Write};
use std::process::ExitCode;

use args::{Format, Options};
use group::Grouper;
use output::Printer;
use source::{Input, Item, ReadStats};

/// Runs `vigil search ARGS...`. Exit status as ausearch's: 0 when something matched, 1 when
/// nothing did (`<no matches>` on stderr, except with `--raw`) or on an error.
pub fn run(args: &[OsString]) -> anyhow::Result<ExitCode> {
    time::init_locale();
    let opts = args::parse(args).map_err(anyhow::Error::msg)?;
    if opts.help {
        print!("{}", args::USAGE);
        return Ok(ExitCode::SUCCESS);
    }
    if opts.version {
        println!("vigil search {}", env!("CARGO_PKG_VERSION"));
        return Ok(ExitCode::SUCCESS);
    }
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(64 << 10, stdout.lock());
    let found = match search(&opts, &mut out) {
        Ok(found) => found,
        Err(e) if is_broken_pipe(&e) => return Ok(ExitCode::SUCCESS),
        Err(e) => return Err(e),
    };
    match out.flush() {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        r => r?,
    }
    if found {
        return Ok(ExitCode::SUCCESS);
    }
    if opts.format != Format::Raw {
        eprintln!("<no matches>");
    }
    Ok(ExitCode::from(1))
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.downcast_ref::<io::Error>()
        .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
}

/// The inputs `opts` names: `-if` arguments, else stdin when it is a pipe, else the daemon's
/// log set (`log.file` of `--config FILE`, or of the embedded default configuration).
pub fn inputs(opts: &Options) -> anyhow::Result<Vec<Input>> {
    if !opts.inputs.is_empty() {
        return Ok(source::expand(&opts.inputs, opts.rotated));
    }
    let stdin = io::stdin();
    if !opts.input_logs && !stdin.is_terminal() && stdin_is_pipe() {
        return Ok(vec![Input::Stdin]);
    }
    let cfg =
        crate::config::Config::load(opts.config.as_deref(), &crate::config::Overrides::default())?;
    Ok(source::expand(std::slice::from_ref(&cfg.log.file), true))
}

fn stdin_is_pipe() -> bool {
    use std::os::unix::fs::FileTypeExt as _;
    std::fs::metadata("/dev/stdin").is_ok_and(|m| m.file_type().is_fifo())
}

/// Searches every input, printing matches to `out`; returns whether anything matched.
pub fn search(opts: &Options, out: &mut dyn Write) -> anyhow::Result<bool> {
    let inputs = inputs(opts)?;
    let q = &opts.query;
    let mut grouper = Grouper::new(opts.eoe_timeout.unwrap_or(2), 10_000);
    let mut printer = Printer::new(opts.format, opts.json_interpret);
    let mut found = false;
    let mut stop = false;
    let mut stats = ReadStats::default();
    let mut err: Option<io::Error> = None;
    let mut emit = |grouper: &mut Grouper, found: &mut bool| -> bool {
        while let Some(ev) = grouper.pop() {
            if q.matches(&ev) {
                *found = true;
                if let Err(e) = printer.event(&ev, out) {
                    err = Some(e);
                    return false;
                }
                if opts.line_buffered {
                    if let Err(e) = out.flush() {
                        err = Some(e);
                        return false;
                    }
                }
                if opts.just_one {
                    return false;
                }
            }
        }
        true
    };
    for (n, input) in inputs.iter().enumerate() {
        let last = n + 1 == inputs.len();
        source::read(input, opts.debug, &mut stats, &mut |item| {
            match item {
                // ausearch drops records outside the time range before grouping them.
                Item::Rec(id, rec) => {
                    if q.time_ok(id.sec) {
                        grouper.add(id, rec);
                    }
                }
                Item::Event(ev) => {
                    if q.time_ok(ev.id.sec) {
                        grouper.add_event(ev);
                    }
                }
            }
            if emit(&mut grouper, &mut found) {
                true
            } else {
                stop = true;
                false
            }
        })?;
        if stop {
            break;
        }
        // Events still open at the end of a file may continue in the next one.
        if last {
            grouper.finish();
        }
        if !emit(&mut grouper, &mut found) {
            break;
        }
    }
    if let Some(e) = err {
        return Err(e.into());
    }
    if opts.debug {
        eprintln!(
            "vigil search: {} lines read, {} skipped, {} events completed early (window full)",
            stats.lines, stats.skipped, grouper.forced
        );
    }
    Ok(found)
}
