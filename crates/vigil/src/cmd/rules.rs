//! `vigil rules list|check`.

use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use vigil_rules::ast::RuleSet;
use vigil_rules::{list_rules, Diagnostic, Loader, SystemHost};

#[derive(Debug, Subcommand)]
pub enum RulesCmd {
    /// Print the rule set as `auditctl -l` would after `auditctl -R FILE` (files in order).
    List {
        /// Load the rest of a file after an error, as if it started with `-c`.
        #[arg(short = 'c', long = "continue")]
        continue_on_error: bool,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Validate rule files; warn about dead, duplicate and shadowed rules; estimate cost.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn print_diagnostics(diags: &[Diagnostic]) {
    for d in diags {
        eprintln!("{d}");
    }
}

/// Loads `files` in order into one rule set. Prints every diagnostic; returns the set and
/// whether any file was rejected or failed (`-c`).
pub fn load(files: &[PathBuf], continue_on_error: bool) -> (RuleSet, bool) {
    let host = SystemHost;
    let mut loader = Loader::new(&host).continue_on_error(continue_on_error);
    let mut bad = false;
    for f in files {
        match loader.load_file(Path::new(f)) {
            Ok(report) => {
                print_diagnostics(&report.diagnostics);
                bad |= report.failed;
            }
            Err(errors) => {
                print_diagnostics(&errors.diagnostics);
                let n = errors.errors().count();
                eprintln!(
                    "{}: rejected ({n} error{}); no rule of it was loaded",
                    f.display(),
                    if n == 1 { "" } else { "s" }
                );
                bad = true;
            }
        }
    }
    (loader.into_ruleset(), bad)
}

// Every subcommand's `run` returns `anyhow::Result`; these two report through the exit code.
#[allow(clippy::unnecessary_wraps)]
pub fn run(cmd: RulesCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        RulesCmd::List {
            continue_on_error,
            files,
        } => {
            let (set, bad) = load(&files, continue_on_error);
            print!("{}", list_rules(&set));
            Ok(if bad {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        RulesCmd::Check { files } => {
            let (set, bad) = load(&files, false);
            eprintln!(
                "{} rule{} in {} file{}",
                set.rules.len(),
                if set.rules.len() == 1 { "" } else { "s" },
                files.len(),
                if files.len() == 1 { "" } else { "s" }
            );
            // Warnings auditctl never gives: dead, duplicate and shadowed rules; cost.
            let report = vigil_rules::check::check(&set);
            print!("{report}");
            Ok(if bad || report.cost.is_err() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}
