//! The daemon's rule state: the rule set, its compiled index and the auditctl settings, changed
//! only whole (a command line, a `-R` file or a reload either applies completely or not at all).

use std::collections::HashMap;

use vigil_rules::ast::{Rule, RuleSet};
use vigil_rules::kernel::KernelRule;
use vigil_rules::{Command, Diagnostic, Errors, Loader, Problem, Setting, SystemHost};

/// The rules vigil uses when the configuration names no rules file.
pub const DEFAULT_RULES: &str = include_str!("../../rules/default.rules");
/// Name of the embedded rules in messages.
pub const DEFAULT_RULES_NAME: &str = "<embedded default.rules>";

/// One effect of a change, for its `CONFIG_CHANGE` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Added(Rule),
    Removed(Rule),
    /// `-e`, `-f`, `-b`, `-r`, `--backlog_wait_time`: the kernel's field name, new, old.
    Set {
        name: &'static str,
        new: u32,
        old: u32,
    },
}

/// Why a change was refused (nothing changed).
#[derive(Debug)]
pub enum Refusal {
    /// `-e 2` is in force: the caller audits the refusal.
    Immutable { op: &'static str },
    /// The kernel would refuse this rule (it exists, or no rule matches): audited with res=0.
    Rejected {
        op: &'static str,
        rule: Box<Rule>,
        message: String,
    },
    /// Parse or apply errors, one message each (each starts with `file:line:column`).
    Invalid(Vec<String>),
}

/// Settings with the values vigil uses when the rules say nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub enabled: u32,
    pub failure: u32,
    /// 0: the writer's `q_depth`.
    pub backlog_limit: u32,
    pub rate_limit: u32,
    pub backlog_wait_time: u32,
    pub loginuid_immutable: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            enabled: 1,
            failure: 1,
            backlog_limit: 0,
            rate_limit: 0,
            backlog_wait_time: 0,
            loginuid_immutable: false,
        }
    }
}

/// Rules and settings (compiled by the daemon's filter when they are swapped in).
#[derive(Debug, Clone)]
pub struct RuleState {
    set: RuleSet,
    settings: Settings,
}

fn diag_lines(e: &Errors) -> Vec<String> {
    e.diagnostics.iter().map(ToString::to_string).collect()
}

/// Parses a rules file's text into a fresh rule set (errors: every diagnostic).
pub fn parse_rules(text: &str, name: &str) -> Result<(RuleSet, Vec<Diagnostic>), Vec<String>> {
    let host = SystemHost;
    let mut loader = Loader::new(&host);
    match loader.load_str(text, name) {
        Ok(report) if report.failed => {
            Err(report.diagnostics.iter().map(ToString::to_string).collect())
        }
        Ok(report) => Ok((loader.into_ruleset(), report.diagnostics)),
        Err(e) => Err(diag_lines(&e)),
    }
}

impl RuleState {
    /// A state holding `set` (its settings applied over the defaults).
    pub fn new(set: RuleSet) -> RuleState {
        let mut st = RuleState {
            set,
            settings: Settings::default(),
        };
        st.sync_settings();
        st
    }

    pub fn ruleset(&self) -> &RuleSet {
        &self.set
    }

    pub fn settings(&self) -> Settings {
        self.settings
    }

    pub fn immutable(&self) -> bool {
        self.settings.enabled == 2
    }

    fn sync_settings(&mut self) {
        let s = &self.set.settings;
        let d = Settings::default();
        self.settings = Settings {
            enabled: s.enabled.unwrap_or(d.enabled),
            failure: s.failure.unwrap_or(d.failure),
            backlog_limit: s.backlog_limit.unwrap_or(d.backlog_limit),
            rate_limit: s.rate_limit.unwrap_or(d.rate_limit),
            backlog_wait_time: s.backlog_wait_time.unwrap_or(d.backlog_wait_time),
            loginuid_immutable: s.loginuid_immutable,
        };
    }

    /// `-l`: the rules as `auditctl -l` prints them (only those whose key contains `key`).
    pub fn list(&self, key: Option<&str>) -> String {
        match key {
            None => vigil_rules::list_rules(&self.set),
            Some(k) => {
                let mut sub = self.set.clone();
                sub.rules.retain(|r| {
                    KernelRule::from_rule(r)
                        .key()
                        .is_some_and(|rk| rk.contains(k))
                });
                vigil_rules::list_rules(&sub)
            }
        }
    }

    /// One command line (`vigil ctl` arguments). Returns the changes and warnings.
    pub fn apply_argv(&mut self, argv: &[String]) -> Result<(Vec<Change>, Vec<String>), Refusal> {
        let host = SystemHost;
        let outcome = vigil_rules::parse_argv(argv, &host);
        let mut warnings: Vec<String> = Vec::new();
        if outcome.failed() {
            return Err(Refusal::Invalid(
                outcome
                    .diagnostics
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
            ));
        }
        warnings.extend(outcome.diagnostics.iter().map(ToString::to_string));
        if self.immutable() {
            if let Some(op) = outcome.commands.iter().find_map(locked_op) {
                return Err(Refusal::Immutable { op });
            }
        }
        let mut next = self.set.clone();
        let mut changes = Vec::new();
        for cmd in &outcome.commands {
            let before = next.clone();
            match next.apply(cmd) {
                Ok(w) => warnings.extend(w.map(|p| p.to_string())),
                Err(Problem::Immutable(_)) => {
                    return Err(Refusal::Immutable {
                        op: locked_op(cmd).unwrap_or("set"),
                    })
                }
                Err(p) => {
                    let message = apply_error(cmd, &p);
                    return Err(match cmd {
                        Command::Add { rule, .. } => Refusal::Rejected {
                            op: "add_rule",
                            rule: Box::new(rule.clone()),
                            message,
                        },
                        Command::Delete { rule } => Refusal::Rejected {
                            op: "remove_rule",
                            rule: Box::new(rule.clone()),
                            message,
                        },
                        _ => Refusal::Invalid(vec![message]),
                    });
                }
            }
            changes.extend(command_changes(cmd, &before, &next));
        }
        self.commit(next);
        Ok((changes, warnings))
    }

    /// `-R`: a rules file applied on top of the current rules, as `auditctl -R` does.
    pub fn load_text(
        &mut self,
        text: &str,
        name: &str,
    ) -> Result<(Vec<Change>, Vec<String>), Refusal> {
        if self.immutable() {
            return Err(Refusal::Immutable { op: "add_rule" });
        }
        let host = SystemHost;
        let mut loader = Loader::with_ruleset(&host, self.set.clone());
        let report = loader.load_str(text, name).map_err(|e| {
            if e.diagnostics
                .iter()
                .any(|d| matches!(d.problem, Problem::Immutable(_)))
                && self.immutable()
            {
                Refusal::Immutable { op: "add_rule" }
            } else {
                Refusal::Invalid(diag_lines(&e))
            }
        })?;
        let warnings: Vec<String> = report.diagnostics.iter().map(ToString::to_string).collect();
        if report.failed {
            return Err(Refusal::Invalid(warnings));
        }
        let next = loader.into_ruleset();
        let changes = diff(&self.set, &next);
        self.commit(next);
        Ok((changes, warnings))
    }

    /// SIGHUP: the rules file replaces everything (unless immutable).
    pub fn replace(&mut self, next: RuleSet) -> Result<Vec<Change>, Refusal> {
        if self.immutable() {
            return Err(Refusal::Immutable { op: "add_rule" });
        }
        let changes = diff(&self.set, &next);
        self.commit(next);
        Ok(changes)
    }

    fn commit(&mut self, next: RuleSet) {
        self.set = next;
        self.sync_settings();
    }
}

/// The record `op=` a refused command would have had.
fn locked_op(cmd: &Command) -> Option<&'static str> {
    match cmd {
        Command::Add { .. } => Some("add_rule"),
        Command::Delete { .. } | Command::DeleteAll { .. } => Some("remove_rule"),
        Command::Set(_) => Some("set"),
        Command::IgnoreErrors | Command::ContinueOnError => None,
    }
}

/// auditctl's wording for a request the kernel refused.
fn apply_error(cmd: &Command, p: &Problem) -> String {
    let what = match cmd {
        Command::Add { .. } => "add rule",
        Command::Delete { .. } => "delete rule",
        _ => "request",
    };
    format!("Error sending {what} data request ({p})")
}

/// What one successfully applied command changed.
fn command_changes(cmd: &Command, before: &RuleSet, after: &RuleSet) -> Vec<Change> {
    match cmd {
        Command::Add { rule, .. } => vec![Change::Added(rule.clone())],
        Command::Delete { rule } => vec![Change::Removed(rule.clone())],
        Command::DeleteAll { .. } => diff(before, after),
        Command::Set(setting) => {
            let (was, now) = (&before.settings, &after.settings);
            let def = Settings::default();
            let (name, new, old) = match *setting {
                Setting::Enabled(v) => ("audit_enabled", v, was.enabled.unwrap_or(def.enabled)),
                Setting::Failure(v) => ("audit_failure", v, was.failure.unwrap_or(def.failure)),
                Setting::BacklogLimit(v) => (
                    "audit_backlog_limit",
                    v,
                    was.backlog_limit.unwrap_or(def.backlog_limit),
                ),
                Setting::RateLimit(v) => (
                    "audit_rate_limit",
                    v,
                    was.rate_limit.unwrap_or(def.rate_limit),
                ),
                Setting::BacklogWaitTime(v) => (
                    "audit_backlog_wait_time",
                    v,
                    was.backlog_wait_time.unwrap_or(def.backlog_wait_time),
                ),
                Setting::LoginuidImmutable => (
                    "loginuid_immutable",
                    u32::from(now.loginuid_immutable),
                    u32::from(was.loginuid_immutable),
                ),
            };
            vec![Change::Set { name, new, old }]
        }
        Command::IgnoreErrors | Command::ContinueOnError => Vec::new(),
    }
}

/// Rules removed from `old` and added in `new` (as multisets of the kernel's rule identity),
/// plus setting changes.
pub fn diff(old: &RuleSet, new: &RuleSet) -> Vec<Change> {
    // A rule of one side that the other side's multiset cannot account for changed.
    fn missing_from(side: &[Rule], other: &[Rule]) -> Vec<Rule> {
        let mut counts: HashMap<KernelRule, usize> = HashMap::new();
        for r in other {
            *counts.entry(KernelRule::from_rule(r)).or_default() += 1;
        }
        side.iter()
            .filter(|r| match counts.get_mut(&KernelRule::from_rule(r)) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    false
                }
                _ => true,
            })
            .cloned()
            .collect()
    }
    let mut out: Vec<Change> = missing_from(&old.rules, &new.rules)
        .into_iter()
        .map(Change::Removed)
        .collect();
    out.extend(
        missing_from(&new.rules, &old.rules)
            .into_iter()
            .map(Change::Added),
    );
    let def = Settings::default();
    let (was, now) = (&old.settings, &new.settings);
    let pairs: [(&'static str, Option<u32>, Option<u32>, u32); 5] = [
        ("audit_enabled", was.enabled, now.enabled, def.enabled),
        ("audit_failure", was.failure, now.failure, def.failure),
        (
            "audit_backlog_limit",
            was.backlog_limit,
            now.backlog_limit,
            def.backlog_limit,
        ),
        (
            "audit_rate_limit",
            was.rate_limit,
            now.rate_limit,
            def.rate_limit,
        ),
        (
            "audit_backlog_wait_time",
            was.backlog_wait_time,
            now.backlog_wait_time,
            def.backlog_wait_time,
        ),
    ];
    for (name, before, after, default) in pairs {
        let (old_v, new_v) = (before.unwrap_or(default), after.unwrap_or(default));
        if old_v != new_v {
            out.push(Change::Set {
                name,
                new: new_v,
                old: old_v,
            });
        }
    }
    out
}
