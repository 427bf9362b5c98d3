//! Loading rules files and command lines into a rule set.
//!
//! A file with any error is rejected whole (the rule set is left as it was), unless the file
//! says `-i` (errors after it are reported, the file loads, and it counts as a success) or `-c`
//! (the same, but the file counts as failed), as auditctl does with `-R`. Every line is checked
//! even after the first error, so one run reports every problem.

use std::path::Path;

use crate::apply::RuleSetBuilder;
use crate::ast::RuleSet;
use crate::errors::{Diagnostic, Errors, Location, Problem, Severity};
use crate::host::{Host, SystemHost};
use crate::lexer::{self, Line, Token, MAX_LINE};
use crate::parse::{self, Command, LineOutcome, Setting};

/// A file that loaded: the resulting rules and what was said about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFile {
    pub rules: RuleSet,
    /// Warnings, and the errors `-i`/`-c` let through.
    pub diagnostics: Vec<Diagnostic>,
    /// The file had errors and said `-c` (auditctl exits 1 after loading the rest).
    pub failed: bool,
}

/// What loading one file into a [`Loader`] said.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileReport {
    pub diagnostics: Vec<Diagnostic>,
    pub failed: bool,
}

/// Parses rules text with this host's users, groups and filesystem.
pub fn parse_str(text: &str, file_name: &str) -> Result<RuleFile, Errors> {
    let host = SystemHost;
    let mut loader = Loader::new(&host);
    let report = loader.load_str(text, file_name)?;
    Ok(RuleFile {
        rules: loader.into_ruleset(),
        diagnostics: report.diagnostics,
        failed: report.failed,
    })
}

/// Reads and parses a rules file with this host's users, groups and filesystem.
pub fn parse_file(path: &Path) -> Result<RuleFile, Errors> {
    let host = SystemHost;
    let mut loader = Loader::new(&host);
    let report = loader.load_file(path)?;
    Ok(RuleFile {
        rules: loader.into_ruleset(),
        diagnostics: report.diagnostics,
        failed: report.failed,
    })
}

/// Parses one auditctl command line (`["-a", "always,exit", "-S", "open"]`, without the
/// program name) into commands, without applying them.
pub fn parse_argv<S: AsRef<str>>(argv: &[S], host: &dyn Host) -> LineOutcome {
    parse::parse_tokens(&lexer::argv_tokens(argv), "command line", 1, host)
}

/// Applies files and command lines, in order, to one rule set (as successive `auditctl -R`
/// and `auditctl ...` calls would).
pub struct Loader<'h> {
    builder: RuleSetBuilder,
    host: &'h dyn Host,
    continue_override: bool,
    immutable_at: Option<Location>,
}

impl<'h> Loader<'h> {
    /// An empty rule set.
    pub fn new(host: &'h dyn Host) -> Self {
        Loader {
            builder: RuleSetBuilder::new(),
            host,
            continue_override: false,
            immutable_at: None,
        }
    }

    /// Continues from an existing rule set (a daemon's current state).
    pub fn with_ruleset(host: &'h dyn Host, set: RuleSet) -> Self {
        Loader {
            builder: RuleSetBuilder::from_ruleset(set),
            ..Loader::new(host)
        }
    }

    /// Behave as if every file started with `-c`.
    #[must_use]
    pub fn continue_on_error(mut self, yes: bool) -> Self {
        self.continue_override = yes;
        self
    }

    /// The rule set so far.
    pub fn ruleset(&self) -> &RuleSet {
        self.builder.ruleset()
    }

    /// The rule set.
    pub fn into_ruleset(self) -> RuleSet {
        self.builder.into_ruleset()
    }

    /// Reads and applies a rules file.
    pub fn load_file(&mut self, path: &Path) -> Result<FileReport, Errors> {
        let name = path.display().to_string();
        let io_err = |msg: String| Errors {
            diagnostics: vec![Diagnostic {
                severity: Severity::Error,
                location: Location {
                    file: name.clone(),
                    line: 0,
                    column: 0,
                },
                token: name.clone(),
                problem: Problem::Io(msg),
            }],
        };
        let meta = std::fs::metadata(path).map_err(|e| io_err(e.to_string()))?;
        if !meta.is_file() {
            return Err(io_err("not a regular file".into()));
        }
        let bytes = std::fs::read(path).map_err(|e| io_err(e.to_string()))?;
        self.load_str(&String::from_utf8_lossy(&bytes), &name)
    }

    /// Applies rules text; `file_name` names it in diagnostics.
    pub fn load_str(&mut self, text: &str, file_name: &str) -> Result<FileReport, Errors> {
        let snapshot = self.builder.clone();
        let snapshot_immutable = self.immutable_at.clone();
        let mut ignore = self.continue_override;
        let mut continue_error = self.continue_override;
        let mut rejected = false;
        let mut failed = false;
        let mut diagnostics = Vec::new();
        let mut lines: Vec<&str> = text.split('\n').collect();
        if lines.last() == Some(&"") {
            lines.pop();
        }
        for (i, raw) in lines.iter().enumerate() {
            let lineno = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let outcome = if raw.len() > MAX_LINE {
                LineOutcome {
                    commands: Vec::new(),
                    diagnostics: vec![Diagnostic {
                        severity: Severity::Error,
                        location: Location {
                            file: file_name.to_owned(),
                            line: lineno,
                            column: 0,
                        },
                        token: String::new(),
                        problem: Problem::LineTooLong(MAX_LINE),
                    }],
                }
            } else {
                match lexer::split_line(raw) {
                    Line::Blank | Line::Comment => continue,
                    Line::Words(words) => self.line(&words, file_name, lineno),
                }
            };
            let mut outcome = outcome;
            if raw.ends_with('\r') {
                outcome.diagnostics.push(Diagnostic {
                    severity: Severity::Warning,
                    location: Location {
                        file: file_name.to_owned(),
                        line: lineno,
                        column: u32::try_from(raw.len()).unwrap_or(u32::MAX),
                    },
                    token: "\r".into(),
                    problem: Problem::CarriageReturn,
                });
            }
            for c in &outcome.commands {
                match c {
                    Command::IgnoreErrors => ignore = true,
                    Command::ContinueOnError => {
                        ignore = true;
                        continue_error = true;
                    }
                    _ => {}
                }
            }
            if outcome.failed() {
                if !ignore {
                    rejected = true;
                }
                if continue_error {
                    failed = true;
                }
            }
            diagnostics.extend(outcome.diagnostics);
        }
        if rejected {
            self.builder = snapshot;
            self.immutable_at = snapshot_immutable;
            return Err(Errors { diagnostics });
        }
        Ok(FileReport {
            diagnostics,
            failed,
        })
    }

    /// Applies one command line (`vigil ctl` arguments, without the program name). Returns
    /// the warnings, or every diagnostic if the line was refused (then nothing changed).
    pub fn apply_argv<S: AsRef<str>>(&mut self, argv: &[S]) -> Result<Vec<Diagnostic>, Errors> {
        let outcome = self.line(&lexer::argv_tokens(argv), "command line", 1);
        if outcome.failed() {
            Err(Errors {
                diagnostics: outcome.diagnostics,
            })
        } else {
            Ok(outcome.diagnostics)
        }
    }

    /// Parses one line and applies its commands (all or none).
    fn line(&mut self, words: &[Token], file: &str, lineno: u32) -> LineOutcome {
        let mut outcome = parse::parse_tokens(words, file, lineno, self.host);
        if outcome.failed() {
            outcome.commands.clear();
            return outcome;
        }
        let column = words.first().map_or(0, |t| t.column);
        let location = Location {
            file: file.to_owned(),
            line: lineno,
            column,
        };
        // Only a line with several commands can fail half way; keep a copy to undo it.
        let before = (outcome.commands.len() > 1).then(|| self.builder.clone());
        for cmd in &outcome.commands {
            match self.builder.apply(cmd) {
                Ok(None) => {}
                Ok(Some(warning)) => outcome.diagnostics.push(Diagnostic {
                    severity: Severity::Warning,
                    location: location.clone(),
                    token: words.first().map(|t| t.text.clone()).unwrap_or_default(),
                    problem: warning,
                }),
                Err(problem) => {
                    let problem = match problem {
                        Problem::Immutable(_) => Problem::Immutable(
                            self.immutable_at
                                .as_ref()
                                .map_or_else(|| "an earlier line".into(), ToString::to_string),
                        ),
                        p => p,
                    };
                    outcome.diagnostics.push(Diagnostic {
                        severity: Severity::Error,
                        location,
                        token: words
                            .iter()
                            .map(|t| t.text.as_str())
                            .collect::<Vec<_>>()
                            .join(" "),
                        problem,
                    });
                    if let Some(b) = before {
                        self.builder = b;
                    }
                    outcome.commands.clear();
                    return outcome;
                }
            }
            if matches!(cmd, Command::Set(Setting::Enabled(2))) && self.immutable_at.is_none() {
                self.immutable_at = Some(location.clone());
            }
        }
        outcome
    }
}
