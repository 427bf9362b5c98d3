//! `vigil rules list|check`.

use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum RulesCmd {
    /// Print the rule set as `auditctl -l` would after `auditctl -R FILE`.
    List { files: Vec<PathBuf> },
    /// Validate rule files; warn about dead, duplicate and shadowed rules; estimate cost.
    Check { files: Vec<PathBuf> },
}

pub fn run(cmd: RulesCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        RulesCmd::List { files } | RulesCmd::Check { files } => {
            anyhow::bail!(
                "rules parsing is not implemented yet ({} files given)",
                files.len()
            )
        }
    }
}
