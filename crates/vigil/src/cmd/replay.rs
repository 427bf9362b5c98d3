//! `vigil replay --rules FILE [--format raw|enriched|json] [--output FILE] TRACE...`: runs
//! replay traces (docs/replay-trace.md) through the same pipeline the daemon uses
//! (`vigil::pipeline`) and writes the audit log the daemon would: only the events the rules
//! select, labelled with the deciding rule's keys, with serials counted from `--first-serial`.
//! Daemon records (`DAEMON_START`/`DAEMON_END`) are not written: replay has no daemon life to report.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::ValueEnum;
use vigil::pipeline::{event_input, RuleFilter, Serials};
use vigil_format::json::JsonWriter;
use vigil_format::resolve::{NoResolver, Resolver, SystemResolver};
use vigil_format::text::{TextMode, TextWriter};
use vigil_format::trace::TraceReader;
use vigil_format::Event;

/// Output format, as the daemon's `log.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutFormat {
    Raw,
    Enriched,
    Json,
}

/// Where names in ENRICHED text and JSON come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Names {
    /// This machine's users and groups.
    System,
    /// None (`unknown(N)`): the same output on every machine.
    None,
}

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// Rules file(s), in auditctl syntax, loaded in order into one rule set.
    #[arg(long, required = true)]
    pub rules: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "raw")]
    pub format: OutFormat,
    /// Write here instead of stdout.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Serial number of the first event written.
    #[arg(long, default_value_t = 1)]
    pub first_serial: u64,
    /// Name source for ENRICHED and JSON output.
    #[arg(long, value_enum, default_value = "system")]
    pub names: Names,
    /// Trace files (JSON lines of raw events), read in order; `-` is stdin.
    #[arg(required = true)]
    pub traces: Vec<PathBuf>,
}

/// Writes events in one format.
enum Sink<R> {
    Text(TextWriter<R>),
    Json(JsonWriter<R>),
}

impl<R: Resolver> Sink<R> {
    fn new(format: OutFormat, resolver: R) -> Sink<R> {
        match format {
            OutFormat::Raw => Sink::Text(TextWriter::new(TextMode::Raw, resolver)),
            OutFormat::Enriched => Sink::Text(TextWriter::new(TextMode::Enriched, resolver)),
            OutFormat::Json => Sink::Json(JsonWriter::new(TextMode::Raw, resolver)),
        }
    }

    fn write(&mut self, ev: &Event, buf: &mut Vec<u8>) {
        match self {
            Sink::Text(w) => w.write_event(ev, buf),
            Sink::Json(w) => w.write_event(ev, buf),
        }
    }
}

pub fn run(a: &ReplayArgs) -> anyhow::Result<ExitCode> {
    let (set, bad) = super::rules::load(&a.rules, false);
    if bad {
        anyhow::bail!("rules not loaded; fix the errors above");
    }
    let filter = RuleFilter::new(vec![set]).context("compiling the rules")?;
    let out: Box<dyn Write> = match &a.output {
        Some(p) => {
            Box::new(File::create(p).with_context(|| format!("cannot create {}", p.display()))?)
        }
        None => Box::new(io::stdout().lock()),
    };
    let mut out = BufWriter::with_capacity(64 << 10, out);
    let stats = match a.names {
        Names::System => replay(
            a,
            filter,
            Sink::new(a.format, SystemResolver::new()),
            &mut out,
        ),
        Names::None => replay(a, filter, Sink::new(a.format, NoResolver), &mut out),
    }?;
    out.flush().context("writing the output")?;
    log::info!(
        "replayed {} events: {} written, {} not selected by the rules",
        stats.read,
        stats.written,
        stats.read - stats.written
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Default)]
struct Stats {
    read: u64,
    written: u64,
}

fn replay<R: Resolver>(
    a: &ReplayArgs,
    mut filter: RuleFilter,
    mut sink: Sink<R>,
    out: &mut dyn Write,
) -> anyhow::Result<Stats> {
    let mut serials = Serials::new(a.first_serial);
    let mut stats = Stats::default();
    let mut buf = Vec::with_capacity(8192);
    for path in &a.traces {
        let name = path.display().to_string();
        let input: Box<dyn io::BufRead> = if name == "-" {
            Box::new(io::stdin().lock())
        } else {
            Box::new(BufReader::new(
                File::open(path).with_context(|| format!("cannot open {name}"))?,
            ))
        };
        for raw in TraceReader::new(input, name) {
            // Errors name the trace, line and column.
            let raw = raw?;
            stats.read += 1;
            let input = event_input(&raw);
            let selected = filter.select(&input);
            // One host rule set: it either records the event or not.
            let Some(sel) = selected.first() else {
                continue;
            };
            let id = serials.identity(raw.ts_ns);
            let ev = filter.build(&raw, &input, id, sel);
            buf.clear();
            sink.write(&ev, &mut buf);
            out.write_all(&buf).context("writing the output")?;
            stats.written += 1;
        }
    }
    Ok(stats)
}
