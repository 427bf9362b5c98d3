//! `vigil daemon`: start-up, the signal loop and shutdown (docs/daemon.md).
//!
//! Threads: the main thread waits on a signalfd (SIGHUP reload, SIGUSR1 rotate, SIGUSR2
//! resume, SIGTERM/SIGINT stop); the source thread feeds events through the rule filter into
//! the writer queue; the writer thread owns the log; the control thread serves `vigil ctl`;
//! the kernel audit relay thread (`[kernel_audit] relay`) copies kernel audit records.

pub mod bpf;
pub mod core;
pub mod kaudit_relay;
pub mod records;
pub mod rules;
pub mod signals;
pub mod source;
pub mod sources;
pub mod status;
pub mod sync;
pub mod uring;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use self::core::{load_rules, Daemon};
use self::rules::RuleState;
use self::signals::{poll_readable, Signals, Waker};
use self::source::{EventSource, IdleSource, ReplaySource};
use self::sources::KernelSources;
use self::uring::UringSource;
use crate::config::{Config, Overrides};
use crate::ctl::peer::Peer;
use crate::ctl::server::{bind, Server};
use crate::logfile::{Stamper, WriterConfig, WriterHandle};

/// How `vigil daemon` was invoked.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--config`; `None`: the embedded default.
    pub config: Option<PathBuf>,
    pub overrides: Overrides,
    /// `--replay TRACE`: events from a trace instead of the kernel.
    pub replay: Option<PathBuf>,
    /// `--no-kernel`: no event source (the daemon's own records and `vigil ctl` only).
    pub no_kernel: bool,
}

/// Why the daemon stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// SIGTERM/SIGINT: `DAEMON_END` written.
    Stopped,
    /// A fatal error: `DAEMON_ABORT reason=WORD` written (as far as the disk allowed), and
    /// the full message.
    Aborted {
        reason: &'static str,
        message: String,
    },
}

/// Something a helper thread tells the main loop.
enum Notice {
    Fatal(&'static str, String),
    SourceEnded(Result<(), String>),
}

/// Starts everything, runs until a stop signal or a fatal error, and shuts down cleanly.
pub fn run(opts: &Options) -> anyhow::Result<Exit> {
    // Before any thread exists, so every thread inherits the blocked mask.
    let signals = Signals::block().map_err(|e| anyhow::anyhow!("signalfd: {e}"))?;
    let config = Config::load(opts.config.as_deref(), &opts.overrides)?;
    log::info!("configuration: {config}");
    let set = load_rules(&config).map_err(|errs| anyhow::anyhow!("{}", errs.join("\n")))?;
    let rules = RuleState::new(set);
    // Subscribed before anything is written, so no kernel record of the start is missed; a
    // replay never mixes in live kernel records.
    let kaudit = match &opts.replay {
        None => kaudit_relay::Setup::open(&config.kernel_audit)?,
        Some(_) => kaudit_relay::Setup {
            reader: None,
            enabled: None,
        },
    };

    let waker = Arc::new(Waker::new()?);
    let (note_tx, note_rx) = mpsc::channel::<Notice>();
    let stamper = Arc::new(Stamper::new());
    let wcfg = WriterConfig::from_config(&config).map_err(anyhow::Error::msg)?;
    let fatal_tx = note_tx.clone();
    let fatal_waker = Arc::clone(&waker);
    let writer = WriterHandle::spawn(
        wcfg,
        config.queue.q_depth,
        Arc::clone(&stamper),
        Box::new(move |reason, message| {
            let _ = fatal_tx.send(Notice::Fatal(reason, message));
            fatal_waker.wake();
        }),
    )?;
    let mut uring: Option<Arc<UringSource>> = None;
    let source: Arc<dyn EventSource> = match &opts.replay {
        Some(p) => {
            std::fs::metadata(p)
                .map_err(|e| anyhow::anyhow!("replay trace {}: {e}", p.display()))?;
            Arc::new(ReplaySource::new(p.clone()))
        }
        None if opts.no_kernel => Arc::new(IdleSource),
        None => {
            let main = Arc::new(bpf::BpfSource::load().map_err(|e| {
                anyhow::anyhow!(
                    "cannot load vigil's BPF programs: {e}; run as root on a kernel with BTF, \
                     or use --replay TRACE or --no-kernel"
                )
            })?);
            // io_uring beside it: loaded only when rules or a policy need it.
            let u = Arc::new(UringSource::new(vigil_bpf::uring::UringOptions::default()));
            uring = Some(Arc::clone(&u));
            Arc::new(KernelSources::new(main, u))
        }
    };
    let format = config.log.format.as_str();
    let socket_path = config.daemon.socket.clone();
    let daemon = Arc::new(
        Daemon::new(
            config,
            opts.config.clone(),
            opts.overrides.clone(),
            rules,
            writer,
            Arc::clone(&stamper),
            Arc::clone(&source),
        )
        .map_err(anyhow::Error::msg)?,
    );
    // Bound only now that the rules are in force (the hook armed): a client that can
    // connect may rely on its next syscalls being audited (tests do, as scripts would).
    let listener = bind(&socket_path).map_err(anyhow::Error::msg)?;
    daemon.write(daemon.records().start(format));
    daemon.sync();

    let handler_daemon = Arc::clone(&daemon);
    let server = Server::start(
        listener,
        socket_path.clone(),
        Arc::new(move |req, peer: &Peer| handler_daemon.handle(req, peer)),
    )?;

    let stop = Arc::new(AtomicBool::new(false));
    let source_thread = {
        let stop = Arc::clone(&stop);
        let mut sink = daemon.sink();
        let src = Arc::clone(&source);
        let tx = note_tx.clone();
        let w = Arc::clone(&waker);
        std::thread::Builder::new()
            .name("vigil-source".into())
            .spawn(move || {
                let res = src.run(&mut sink, &stop);
                let _ = tx.send(Notice::SourceEnded(res));
                w.wake();
            })?
    };
    let relay_thread = match kaudit.reader {
        Some(reader) => {
            let counters = Arc::new(kaudit_relay::RelayCounters::default());
            daemon.set_relay(Arc::clone(&counters));
            Some(kaudit_relay::spawn(
                reader,
                Arc::clone(&daemon),
                counters,
                Arc::clone(&stop),
            )?)
        }
        None => None,
    };
    let uring_thread = match uring {
        Some(u) => Some(spawn_uring(u, &daemon, &stop, note_tx.clone(), &waker)?),
        None => None,
    };
    log::info!(
        "vigil daemon started: pid {}, source {}, kernel audit relay {}, control socket {}",
        std::process::id(),
        source.describe(),
        if relay_thread.is_some() { "on" } else { "off" },
        socket_path.display()
    );

    let (exit, stopped_by) = main_loop(&daemon, &signals, &waker, &note_rx);

    // Nothing may follow the final record: stop the clients and the source first.
    stop.store(true, Ordering::Relaxed);
    server.shutdown();
    let _ = source_thread.join();
    if let Some(t) = uring_thread {
        let _ = t.join();
    }
    if let Some(t) = relay_thread {
        let _ = t.join();
    }
    let last = match (&exit, stopped_by) {
        (Exit::Stopped, Some(who)) => Some(daemon.records().end(&who)),
        (Exit::Stopped, None) => None,
        (Exit::Aborted { reason, .. }, _) => Some(daemon.records().abort(reason)),
    };
    if let Some(w) = daemon.take_writer() {
        w.stop(last);
    }
    // Puts the kernel's enabled flag back (`[kernel_audit] enable`).
    drop(kaudit.enabled);
    Ok(exit)
}

/// The io_uring reader: its ops go through a sink of their own (same rules, serials, writer),
/// its denials are written as they come.
fn spawn_uring(
    u: Arc<UringSource>,
    daemon: &Arc<Daemon>,
    stop: &Arc<AtomicBool>,
    tx: mpsc::Sender<Notice>,
    waker: &Arc<Waker>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let stop = Arc::clone(stop);
    let mut sink = daemon.sink();
    let d = Arc::clone(daemon);
    let w = Arc::clone(waker);
    std::thread::Builder::new()
        .name("vigil-uring".into())
        .spawn(move || {
            let mut write_denial = |build: &dyn Fn(u64) -> vigil_format::Event| {
                d.write(build(d.records().stamper.next_serial()));
            };
            let res = u.run(&mut sink, &mut write_denial, &stop);
            let _ = tx.send(Notice::SourceEnded(res));
            w.wake();
        })
}

/// Runs until a stop signal (returns its sender) or a fatal notice.
fn main_loop(
    daemon: &Arc<Daemon>,
    signals: &Signals,
    waker: &Waker,
    notes: &mpsc::Receiver<Notice>,
) -> (Exit, Option<Peer>) {
    loop {
        if let Err(e) = poll_readable(&[signals.fd(), waker.fd()], 1000) {
            log::error!("poll: {e}");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        waker.clear();
        daemon.report_source_losses();
        while let Ok(n) = notes.try_recv() {
            match n {
                Notice::Fatal(reason, message) => return (Exit::Aborted { reason, message }, None),
                Notice::SourceEnded(Ok(())) => {
                    log::info!("event source {} ended", daemon.source().describe());
                }
                Notice::SourceEnded(Err(e)) => {
                    let message = format!("event source failed: {e}");
                    return (
                        Exit::Aborted {
                            reason: "source_error",
                            message,
                        },
                        None,
                    );
                }
            }
        }
        loop {
            let info = match signals.read() {
                Ok(Some(i)) => i,
                Ok(None) => break,
                Err(e) => {
                    log::error!("signalfd read: {e}");
                    break;
                }
            };
            let who = Peer::from_pid(info.pid, info.uid);
            match info.signo {
                libc::SIGHUP => daemon.reload(&who),
                libc::SIGUSR1 => {
                    if let Err(e) = daemon.rotate(&who) {
                        log::error!("rotation failed: {e}");
                    }
                }
                libc::SIGUSR2 => daemon.resume(&who),
                libc::SIGTERM | libc::SIGINT => {
                    log::info!(
                        "stopping on signal {} from pid {} uid {}",
                        info.signo,
                        info.pid,
                        info.uid
                    );
                    return (Exit::Stopped, Some(who));
                }
                other => log::debug!("ignoring signal {other}"),
            }
        }
    }
}
