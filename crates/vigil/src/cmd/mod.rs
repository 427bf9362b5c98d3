//! Subcommands. Each module owns its clap arguments and its `run`.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

pub mod ctl;
pub mod daemon;
pub mod replay;
pub mod rules;
pub mod search;

/// vigil: Linux audit with an O(1) in-kernel rule index and io_uring auditing.
#[derive(Debug, Parser)]
#[command(name = "vigil", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse, check and list auditctl rule files (check also compiles them and estimates cost).
    #[command(subcommand)]
    Rules(rules::RulesCmd),
    /// Run a replay trace through the rules and print the audit log the daemon would write.
    Replay(replay::ReplayArgs),
    /// Search audit logs with ausearch's options (`vigil search -h`).
    Search(search::SearchArgs),
    /// Run the audit daemon in the foreground.
    Daemon(daemon::DaemonArgs),
    /// Control a running daemon with auditctl's options (`vigil ctl -s`, `-l`, `-a ...`).
    Ctl(ctl::CtlArgs),
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Rules(cmd) => rules::run(cmd),
        Command::Replay(a) => replay::run(&a),
        Command::Search(a) => search::run(&a),
        Command::Daemon(a) => daemon::run_daemon(&a),
        Command::Ctl(a) => ctl::run_ctl(&a),
    }
}
