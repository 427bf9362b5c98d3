//! io_uring deny rules (vigil's policy, `docs/io_uring.md` "Policy"), in auditctl's syntax with a
//! `deny` action on the io_uring list:
//!
//! ```text
//! -a deny,io_uring -F uring_sqpoll=1 -F uid>=1000 -k no-sqpoll        # SQPOLL rings
//! -a deny,io_uring -F uring_personality=1 -k no-borrowed-creds        # personalities
//! -a deny,io_uring -S connect,bind -F exe=/usr/bin/curl -k no-net     # chosen opcodes
//! ```
//!
//! A policy line is read by the rule parser itself (the same options, fields, values and
//! diagnostics as an `always,io_uring` rule) after two words it does not know are taken out:
//! the action `deny`, and the pseudo fields `uring_sqpoll=0|1` and `uring_personality=0|1`.
//! Only fields the BPF side evaluates at every enforcement point are accepted (the task's ids,
//! pid, ppid, pers, sessionid, `loginuid_set`, exe, contid), with at most [`MAX_CONDITIONS`].

use crate::ast::{Condition, Field, FilterList, Origin, Syscalls};
use crate::errors::{Diagnostic, Errors, Location, Problem, Severity};
use crate::host::Host;
use crate::lexer::{self, Line, Token};
use crate::parse::{self, Command};

/// Most conditions of one deny rule (`VIGIL_POL_MAX_CONDS` in BPF).
pub const MAX_CONDITIONS: usize = 8;
/// Most deny rules (`VIGIL_POL_MAX_RULES` in BPF).
pub const MAX_RULES: usize = 32;

/// What a deny rule is about, from its pseudo fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UringScope {
    /// `uring_sqpoll=1`: only SQPOLL rings (and, without `-S`, their creation);
    /// `=0`: only rings without SQPOLL.
    pub sqpoll: Option<bool>,
    /// `uring_personality=1`: only ops that borrow credentials; `=0`: only ops that do not.
    pub personality: Option<bool>,
}

/// One deny rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRule {
    /// Opcodes denied (`-S`; `All` without `-S`).
    pub ops: Syscalls,
    /// Whether `-S` was given (a SQPOLL rule without `-S` also forbids creating the ring).
    pub ops_given: bool,
    pub scope: UringScope,
    /// `-F` conditions on the process the op is attributed to, in the order written.
    pub conditions: Vec<Condition>,
    /// `-k` keys: the denial record's key.
    pub keys: Vec<String>,
    pub origin: Origin,
}

impl PolicyRule {
    /// The rule forbids creating SQPOLL rings (not only ops on them).
    pub fn denies_creation(&self) -> bool {
        self.scope.sqpoll == Some(true) && !self.ops_given
    }
}

/// Why a deny rule is refused (besides what the rule parser says).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyProblem {
    #[error("deny rules are io_uring rules only (write -a deny,io_uring)")]
    NotUring,
    #[error("field {0} cannot scope a deny rule (allowed: pid ppid uid euid suid fsuid gid egid sgid fsgid auid pers sessionid loginuid_set exe contid uring_sqpoll uring_personality)")]
    Field(&'static str),
    #[error("{0} takes 0 or 1")]
    PseudoValue(&'static str),
    #[error("{0} given twice")]
    PseudoTwice(&'static str),
    #[error("-C cannot be used in a deny rule")]
    Compare,
    #[error("a deny rule has at most {max} conditions, this one {count}")]
    TooManyConditions { count: usize, max: usize },
    #[error("at most {max} deny rules; this is rule {count}")]
    TooManyRules { count: usize, max: usize },
    #[error("-d/-D/-w and settings do not apply to deny rules (a policy file holds -a deny,io_uring lines only)")]
    NotARule,
}

/// Is this line a deny rule (`-a`/`-A` with `deny,io_uring` or `io_uring,deny`)?
pub fn is_policy_line(tokens: &[Token]) -> bool {
    deny_arg(tokens).is_some()
}

/// Index of the `-a` argument naming the deny action.
fn deny_arg(tokens: &[Token]) -> Option<usize> {
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i].text.as_str();
        let (arg, at) = match t {
            "-a" | "-A" => (tokens.get(i + 1).map(|t| t.text.as_str()), i + 1),
            _ if (t.starts_with("-a") || t.starts_with("-A")) && t.len() > 2 => (Some(&t[2..]), i),
            _ => (None, i),
        };
        if let Some(a) = arg {
            if a.split(',').any(|w| w == "deny") {
                return Some(at);
            }
        }
        i += 1;
    }
    None
}

fn pseudo(text: &str) -> Option<(&'static str, &str)> {
    for name in ["uring_sqpoll", "uring_personality"] {
        if let Some(v) = text.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            return Some((name, v));
        }
    }
    None
}

fn diag(file: &str, line: u32, tok: &Token, problem: Problem) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        location: Location {
            file: file.to_owned(),
            line,
            column: tok.column,
        },
        token: tok.text.clone(),
        problem,
    }
}

fn policy_diag(file: &str, line: u32, tok: &Token, p: PolicyProblem) -> Diagnostic {
    diag(file, line, tok, Problem::Policy(p))
}

/// Parses one policy line; the diagnostics hold warnings, or the errors that refused it.
pub fn parse_policy_tokens(
    tokens: &[Token],
    file: &str,
    line: u32,
    host: &dyn Host,
) -> Result<(PolicyRule, Vec<Diagnostic>), Vec<Diagnostic>> {
    let first = tokens.first().cloned().unwrap_or(Token {
        text: String::new(),
        column: 0,
    });
    let Some(at) = deny_arg(tokens) else {
        return Err(vec![policy_diag(
            file,
            line,
            &first,
            PolicyProblem::NotARule,
        )]);
    };
    let mut words: Vec<Token> = Vec::with_capacity(tokens.len());
    let mut scope = UringScope::default();
    let mut errors = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        if i == at {
            let is_uring = t
                .text
                .trim_start_matches("-a")
                .trim_start_matches("-A")
                .split(',')
                .any(|w| w == "io_uring");
            if !is_uring {
                errors.push(policy_diag(file, line, t, PolicyProblem::NotUring));
            }
            let text = t.text.replace("deny", "always");
            words.push(Token {
                text,
                column: t.column,
            });
            i += 1;
            continue;
        }
        // -F uring_sqpoll=1 or -Furing_sqpoll=1
        let (arg, span) = if t.text == "-F" {
            (tokens.get(i + 1), 2)
        } else if t.text.len() > 2 && t.text.starts_with("-F") {
            (Some(t), 1)
        } else {
            (None, 1)
        };
        if let Some(a) = arg {
            let text = if span == 1 {
                &a.text[2..]
            } else {
                a.text.as_str()
            };
            if let Some((name, value)) = pseudo(text) {
                let v = match value {
                    "0" => Some(false),
                    "1" => Some(true),
                    _ => {
                        errors.push(policy_diag(file, line, a, PolicyProblem::PseudoValue(name)));
                        None
                    }
                };
                let slot = if name == "uring_sqpoll" {
                    &mut scope.sqpoll
                } else {
                    &mut scope.personality
                };
                if slot.is_some() {
                    errors.push(policy_diag(file, line, a, PolicyProblem::PseudoTwice(name)));
                }
                *slot = v;
                i += span;
                continue;
            }
        }
        words.push(t.clone());
        i += 1;
    }
    // A rule with only pseudo fields still needs something the parser accepts before -k.
    let outcome = parse::parse_tokens(&with_key_anchor(&words), file, line, host);
    let mut diagnostics = outcome.diagnostics.clone();
    if outcome.failed() || !errors.is_empty() {
        errors.extend(diagnostics.into_iter().filter(Diagnostic::is_error));
        return Err(errors);
    }
    let rule = match outcome.commands.as_slice() {
        [Command::Add { rule, .. }] if rule.list == FilterList::IoUring => rule.clone(),
        _ => {
            return Err(vec![policy_diag(
                file,
                line,
                &first,
                PolicyProblem::NotARule,
            )])
        }
    };
    let ops_given = words.iter().any(|w| w.text.starts_with("-S"));
    let mut conditions = Vec::new();
    for (c, tok) in rule.conditions.iter().zip(cond_tokens(&words)) {
        match c {
            Condition::Compare { .. } => {
                errors.push(policy_diag(file, line, &tok, PolicyProblem::Compare));
            }
            Condition::Field { field, .. } => {
                if !allowed(*field) {
                    errors.push(policy_diag(
                        file,
                        line,
                        &tok,
                        PolicyProblem::Field(field.name()),
                    ));
                }
                conditions.push(c.clone());
            }
        }
    }
    if conditions.len() > MAX_CONDITIONS {
        errors.push(policy_diag(
            file,
            line,
            &first,
            PolicyProblem::TooManyConditions {
                count: conditions.len(),
                max: MAX_CONDITIONS,
            },
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    diagnostics.retain(|d| !d.is_error());
    Ok((
        PolicyRule {
            ops: rule.syscalls,
            ops_given,
            scope,
            conditions,
            keys: rule.keys,
            origin: rule.origin,
        },
        diagnostics,
    ))
}

/// auditctl refuses `-k` on a rule with neither `-S` nor a field it counts; a deny rule with
/// only pseudo fields is still a rule, so give the parser an explicit `-S all` then (the same
/// meaning: no `-S` is every opcode).
fn with_key_anchor(words: &[Token]) -> Vec<Token> {
    if words.iter().any(|w| w.text.starts_with("-S")) {
        return words.to_vec();
    }
    let mut out = Vec::with_capacity(words.len() + 2);
    let mut done = false;
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        out.push(w.clone());
        let rule_op = matches!(w.text.get(..2), Some("-a" | "-A"));
        if !done && rule_op {
            if w.text.len() == 2 {
                if let Some(a) = words.get(i + 1) {
                    out.push(a.clone());
                    i += 1;
                }
            }
            let column = out.last().map_or(0, |t| t.column);
            for text in ["-S", "all"] {
                out.push(Token {
                    text: text.into(),
                    column,
                });
            }
            done = true;
        }
        i += 1;
    }
    out
}

/// The token of each `-F`/`-C` condition, in order (for column numbers).
fn cond_tokens(words: &[Token]) -> Vec<Token> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let t = &words[i];
        match t.text.as_str() {
            "-F" | "-C" => {
                if let Some(a) = words.get(i + 1) {
                    if !a.text.starts_with("key=") {
                        out.push(a.clone());
                    }
                }
                i += 2;
                continue;
            }
            s if (s.starts_with("-F") || s.starts_with("-C"))
                && s.len() > 2
                && !s[2..].starts_with("key=") =>
            {
                out.push(t.clone());
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// The task fields a deny rule compares as plain numbers (the BPF policy takes them as
/// they are; `exe` and `contid`, also allowed, need their own encoding).
pub fn numeric_field(f: Field) -> bool {
    matches!(
        f,
        Field::Pid
            | Field::Ppid
            | Field::Uid
            | Field::Euid
            | Field::Suid
            | Field::Fsuid
            | Field::Gid
            | Field::Egid
            | Field::Sgid
            | Field::Fsgid
            | Field::Auid
            | Field::Pers
            | Field::SessionId
            | Field::LoginuidSet
    )
}

fn allowed(f: Field) -> bool {
    numeric_field(f) || matches!(f, Field::Exe | Field::ContId)
}

/// Parses a policy file: every non-blank, non-comment line must be a deny rule. All errors are
/// reported; any error refuses the whole file.
pub fn parse_policy(
    text: &str,
    file: &str,
    host: &dyn Host,
) -> Result<(Vec<PolicyRule>, Vec<Diagnostic>), Errors> {
    let mut rules = Vec::new();
    let mut diagnostics = Vec::new();
    let mut failed = false;
    for (i, raw) in text.lines().enumerate() {
        let lineno = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let Line::Words(words) = lexer::split_line(raw) else {
            continue;
        };
        match parse_policy_tokens(&words, file, lineno, host) {
            Ok((rule, warnings)) => {
                diagnostics.extend(warnings);
                if rules.len() >= MAX_RULES {
                    failed = true;
                    diagnostics.push(policy_diag(
                        file,
                        lineno,
                        &words[0],
                        PolicyProblem::TooManyRules {
                            count: rules.len() + 1,
                            max: MAX_RULES,
                        },
                    ));
                }
                rules.push(rule);
            }
            Err(errs) => {
                failed = true;
                diagnostics.extend(errs);
            }
        }
    }
    if failed {
        return Err(Errors { diagnostics });
    }
    Ok((rules, diagnostics))
}

#[cfg(test)]
mod tests;
