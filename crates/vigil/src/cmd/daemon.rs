//! `vigil daemon`: the audit daemon, in the foreground (docs/daemon.md).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use vigil::config::{Config, Overrides};
use vigil::daemon::{run, Exit, Options};

#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// Configuration file (TOML, docs/config.md); the embedded default when absent.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Rules file (auditctl syntax), instead of the configuration's `daemon.rules`.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// Audit log file, instead of the configuration's `log.file`.
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Control socket, instead of the configuration's `daemon.socket`.
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Read events from a replay trace (docs/replay-trace.md) instead of the kernel.
    #[arg(long, value_name = "TRACE")]
    pub replay: Option<PathBuf>,
    /// Run without a kernel event source (only vigil's own records and `vigil ctl`).
    #[arg(long, conflicts_with = "replay")]
    pub no_kernel: bool,
    /// Check the configuration and the rules, then exit (0 when both are valid).
    #[arg(long)]
    pub check: bool,
}

pub fn run_daemon(a: &DaemonArgs) -> anyhow::Result<ExitCode> {
    let overrides = Overrides {
        rules: a.rules.clone(),
        log: a.log.clone(),
        socket: a.socket.clone(),
    };
    if a.check {
        let cfg = Config::load(a.config.as_deref(), &overrides)?;
        let set = vigil::daemon::core::load_rules(&cfg)
            .map_err(|errs| anyhow::anyhow!("{}", errs.join("\n")))?;
        println!("configuration OK: {cfg}");
        println!("rules OK: {} rules", set.rules.len());
        if let Some(p) = vigil::daemon::uring::configured_policy(&cfg)
            .map_err(|errs| anyhow::anyhow!("{}", errs.join("\n")))?
        {
            for w in &p.warnings {
                println!("warning: {w}");
            }
            println!("io_uring policy OK: {} deny rules", p.rules);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let opts = Options {
        config: a.config.clone(),
        overrides,
        replay: a.replay.clone(),
        no_kernel: a.no_kernel,
    };
    match run(&opts)? {
        Exit::Stopped => Ok(ExitCode::SUCCESS),
        Exit::Aborted { message, .. } => {
            log::error!("vigil daemon aborted: {message}");
            Ok(ExitCode::from(1))
        }
    }
}
