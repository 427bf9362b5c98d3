//! One auditctl command line (a rules-file line or `vigil ctl` arguments) -> commands.
//!
//! This follows auditctl's `setopt()`: options are handled left to right with the same
//! per-line state (list given yet? syscalls added? arch set?), so order-dependent rules such as
//! "arch must come before -S" and "-k needs a syscall or watch before it" behave the same. A line
//! is atomic: if it has an error, none of its commands are returned.

use std::collections::BTreeSet;

use crate::ast::{Action, Condition, Field, FilterList, Op, Origin, Rule, Syscalls, Value};
use crate::errors::{Diagnostic, Location, Problem, Severity};
use crate::fields::{self, MAX_KEY_LEN};
use crate::host::{Host, PathKind};
use crate::lexer::Token;
use crate::opts::{Opt, OptIter};
use crate::tables::{self, ValueKind};
use crate::{syscalls, validate};

/// Most fields one rule can carry, its key included (`AUDIT_MAX_FIELDS - 1`, auditctl's limit).
pub const MAX_FIELDS: usize = 63;

/// Key parts of one rule are joined with this byte (`AUDIT_KEY_SEPARATOR`).
pub const KEY_SEPARATOR: char = '\x01';

/// A kernel audit setting a rules file can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// `-e 0|1|2` (2: immutable until reboot).
    Enabled(u32),
    /// `-f 0|1|2` (silent, printk, panic).
    Failure(u32),
    /// `-b N`.
    BacklogLimit(u32),
    /// `-r N` messages per second.
    RateLimit(u32),
    /// `--backlog_wait_time N`.
    BacklogWaitTime(u32),
    /// `--loginuid-immutable`.
    LoginuidImmutable,
}

/// What one line asks for, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `-a` (append) or `-A` (prepend) a rule; `-w` appends a watch.
    Add {
        rule: Rule,
        prepend: bool,
    },
    /// `-d` a rule or `-W` a watch: removes the identical rule.
    Delete {
        rule: Rule,
    },
    /// `-D`, optionally only rules whose key contains the text (`-D -k KEY`).
    DeleteAll {
        key: Option<String>,
    },
    Set(Setting),
    /// `-i`: later errors in the file are reported but do not stop it.
    IgnoreErrors,
    /// `-c`: like `-i`, but the file still counts as failed.
    ContinueOnError,
}

/// The result of one line: commands (empty if any diagnostic is an error) and diagnostics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineOutcome {
    pub commands: Vec<Command>,
    pub diagnostics: Vec<Diagnostic>,
}

impl LineOutcome {
    /// Whether the line was rejected.
    pub fn failed(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// A failure inside the line: problem, column, offending text.
pub(crate) type Fail = (Problem, u32, String);

/// Per-line state, as auditctl keeps it in globals.
struct Line<'a> {
    host: &'a dyn Host,
    native: u32,
    file: &'a str,
    lineno: u32,
    add: Option<(FilterList, bool)>,
    del: Option<FilterList>,
    action: Option<Action>,
    rule_ops: u32,
    rule_col: u32,
    syscall_added: bool,
    perm_added: bool,
    exe_added: bool,
    fs_added: bool,
    /// `_audit_elf`: arch of syscall names (0: not chosen yet).
    elf: u32,
    all_syscalls: bool,
    syscalls: BTreeSet<u32>,
    conds: Vec<Condition>,
    cond_tokens: Vec<Token>,
    keys: Vec<String>,
    key_token: Option<Token>,
    key_via_option: bool,
    watch: bool,
    commands: Vec<Command>,
    warnings: Vec<Diagnostic>,
}

/// Parses the words of one line.
///
/// `file`/`line` name the place for diagnostics (for a command line use e.g. `"command line"`
/// and 1).
pub fn parse_tokens(tokens: &[Token], file: &str, line: u32, host: &dyn Host) -> LineOutcome {
    let mut st = Line {
        host,
        native: host.native_arch(),
        file,
        lineno: line,
        add: None,
        del: None,
        action: None,
        rule_ops: 0,
        rule_col: tokens.first().map_or(0, |t| t.column),
        syscall_added: false,
        perm_added: false,
        exe_added: false,
        fs_added: false,
        elf: 0,
        all_syscalls: false,
        syscalls: BTreeSet::new(),
        conds: Vec::new(),
        cond_tokens: Vec::new(),
        keys: Vec::new(),
        key_token: None,
        key_via_option: false,
        watch: false,
        commands: Vec::new(),
        warnings: Vec::new(),
    };
    let result = st.run(tokens);
    let mut out = LineOutcome {
        commands: Vec::new(),
        diagnostics: std::mem::take(&mut st.warnings),
    };
    match result {
        Ok(()) => out.commands = st.commands,
        Err((problem, column, token)) => out.diagnostics.push(Diagnostic {
            severity: Severity::Error,
            location: st.loc(column),
            token,
            problem,
        }),
    }
    out
}

fn setting_number(opt: &Opt, name: &'static str) -> Result<u32, Fail> {
    let arg = opt.arg.as_ref().expect("option has an argument");
    let bad = || {
        (
            Problem::BadSetting {
                option: name,
                value: arg.text.clone(),
                expected: "a number",
            },
            arg.column,
            arg.text.clone(),
        )
    };
    if !arg.text.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        return Err(bad());
    }
    let n = crate::cnum::strtoul(&arg.text, 0);
    if n.overflow {
        return Err(bad());
    }
    Ok(n.value as u32)
}

fn zero_one_two(opt: &Opt, name: &'static str) -> Result<u32, Fail> {
    let arg = opt.arg.as_ref().expect("option has an argument");
    match arg.text.as_str() {
        "0" => Ok(0),
        "1" => Ok(1),
        "2" => Ok(2),
        _ => Err((
            Problem::BadSetting {
                option: name,
                value: arg.text.clone(),
                expected: "0, 1 or 2",
            },
            arg.column,
            arg.text.clone(),
        )),
    }
}

impl Line<'_> {
    fn loc(&self, column: u32) -> Location {
        Location {
            file: self.file.to_owned(),
            line: self.lineno,
            column,
        }
    }

    fn warn(&mut self, problem: Problem, column: u32, token: &str) {
        self.warnings.push(Diagnostic {
            severity: Severity::Warning,
            location: self.loc(column),
            token: token.to_owned(),
            problem,
        });
    }

    fn list(&self) -> Option<FilterList> {
        self.add.map(|(l, _)| l).or(self.del)
    }

    fn run(&mut self, tokens: &[Token]) -> Result<(), Fail> {
        let mut it = OptIter::new(tokens);
        let mut any = false;
        while let Some(opt) = it.next() {
            let opt = opt?;
            any = true;
            match (opt.short, opt.long) {
                ('D', _) => {
                    // Only "-D" or "-D -k KEY" (auditctl counts the words).
                    match tokens {
                        [_] => self.commands.push(Command::DeleteAll { key: None }),
                        [_, k, key] if k.text == "-k" => {
                            self.commands.push(Command::DeleteAll {
                                key: Some(key.text.clone()),
                            });
                            it.stop();
                        }
                        _ => {
                            return Err((
                                Problem::BadSetting {
                                    option: "-D",
                                    value: tokens
                                        .iter()
                                        .map(|t| t.text.as_str())
                                        .collect::<Vec<_>>()
                                        .join(" "),
                                    expected: "alone on its line or followed by -k KEY",
                                },
                                opt.column,
                                opt.spelled,
                            ))
                        }
                    }
                }
                ('l' | 's', _) => {
                    self.warn(
                        Problem::IgnoredOption(opt.spelled.clone()),
                        opt.column,
                        &opt.spelled,
                    );
                    it.stop();
                }
                ('v' | 'm' | 't' | 'q', _)
                | ('\0', Some("signal" | "reset-lost" | "reset_backlog_wait_time_actual")) => {
                    self.warn(
                        Problem::IgnoredOption(opt.spelled.clone()),
                        opt.column,
                        &opt.spelled,
                    );
                }
                ('h', _) => {
                    return Err((Problem::UnknownOption("-h".into()), opt.column, opt.spelled))
                }
                ('R', _) => return Err((Problem::NestedRulesFile, opt.column, opt.spelled)),
                ('i', _) => self.commands.push(Command::IgnoreErrors),
                ('c', _) => self.commands.push(Command::ContinueOnError),
                ('e', _) => {
                    let v = zero_one_two(&opt, "-e")?;
                    self.commands.push(Command::Set(Setting::Enabled(v)));
                }
                ('f', _) => {
                    let v = zero_one_two(&opt, "-f")?;
                    self.commands.push(Command::Set(Setting::Failure(v)));
                }
                ('r', _) => {
                    let v = setting_number(&opt, "-r")?;
                    self.commands.push(Command::Set(Setting::RateLimit(v)));
                }
                ('b', _) => {
                    let v = setting_number(&opt, "-b")?;
                    self.commands.push(Command::Set(Setting::BacklogLimit(v)));
                }
                ('\0', Some("backlog_wait_time")) => {
                    let v = setting_number(&opt, "--backlog_wait_time")?;
                    self.commands
                        .push(Command::Set(Setting::BacklogWaitTime(v)));
                }
                ('\0', Some("loginuid-immutable")) => {
                    self.commands.push(Command::Set(Setting::LoginuidImmutable));
                }
                ('a' | 'A' | 'd', _) => {
                    if !self.rule_op(&opt)? {
                        // The deprecated "possible" action: auditctl skips the whole line.
                        self.commands.clear();
                        return Ok(());
                    }
                }
                ('S', _) => self.syscalls(&opt)?,
                ('F', _) => self.field(&opt)?,
                ('C', _) => self.compare(&opt)?,
                ('w' | 'W', _) => self.watch(&opt)?,
                ('k', _) => self.key_option(&opt)?,
                ('p', _) => self.perm_option(&opt)?,
                _ => {
                    return Err((
                        Problem::UnknownOption(opt.spelled.clone()),
                        opt.column,
                        opt.spelled,
                    ))
                }
            }
        }
        if !any {
            let col = tokens.first().map_or(0, |t| t.column);
            let text = tokens.first().map(|t| t.text.clone()).unwrap_or_default();
            return Err((Problem::NoOption(text.clone()), col, text));
        }
        if let Some(stray) = it.strays.first() {
            return Err((
                Problem::StrayArgument(stray.text.clone()),
                stray.column,
                stray.text.clone(),
            ));
        }
        self.finish()
    }

    /// Handles -a/-A/-d; `Ok(false)` means the line is to be skipped.
    fn rule_op(&mut self, opt: &Opt) -> Result<bool, Fail> {
        let arg = opt.arg.as_ref().expect("-a has an argument");
        let fail = |p: Problem| (p, arg.column, arg.text.clone());
        if opt.short != 'd' && arg.text.contains("task") && self.syscall_added {
            return Err(fail(Problem::SyscallsOnList("task")));
        }
        self.rule_ops += 1;
        if self.rule_ops != 1 || self.watch {
            return Err((Problem::MultipleRuleOps, opt.column, opt.spelled.clone()));
        }
        let (list, action) = match syscalls::list_action(&arg.text) {
            Ok(Some(la)) => la,
            Ok(None) => {
                // "possible": auditctl prints an error and skips the line.
                self.warn(Problem::PossibleDeprecated, arg.column, &arg.text);
                return Ok(false);
            }
            Err(p) => return Err(fail(p)),
        };
        self.rule_col = opt.column;
        self.action = Some(action);
        if opt.short == 'd' {
            self.del = Some(list);
        } else {
            self.add = Some((list, opt.short == 'A'));
        }
        Ok(true)
    }

    fn syscalls(&mut self, opt: &Opt) -> Result<(), Fail> {
        let arg = opt.arg.as_ref().expect("-S has an argument");
        let fail = |p: Problem| (p, arg.column, arg.text.clone());
        let list = self.list();
        let named = if list == Some(FilterList::IoUring) {
            syscalls::uring_ops(&arg.text).map_err(fail)?
        } else {
            if let Some(
                l @ (FilterList::Task
                | FilterList::User
                | FilterList::Filesystem
                | FilterList::Exclude),
            ) = list
            {
                return Err(fail(Problem::SyscallsOnList(tables::list_name(l))));
            }
            let unknown_arch = self.elf == 0;
            if unknown_arch {
                self.elf = self.native;
            }
            let named = syscalls::syscall_numbers(&arg.text, self.elf).map_err(fail)?;
            let mut all_now = self.syscalls.clone();
            all_now.extend(&named.numbers);
            if unknown_arch
                && self.add.is_some()
                && !(self.all_syscalls || named.all)
                && syscalls::differs_on_32bit(&arg.text, self.native, &all_now)
            {
                self.warn(
                    Problem::ArchMismatch(arg.text.clone()),
                    arg.column,
                    &arg.text,
                );
            }
            named
        };
        self.all_syscalls |= named.all;
        self.syscalls.extend(named.numbers);
        self.syscall_added = true;
        Ok(())
    }

    fn push_cond(&mut self, cond: Condition, tok: &Token) -> Result<(), Fail> {
        if self.conds.len() >= MAX_FIELDS {
            return Err((Problem::TooManyFields, tok.column, tok.text.clone()));
        }
        self.conds.push(cond);
        self.cond_tokens.push(tok.clone());
        Ok(())
    }

    fn field(&mut self, opt: &Opt) -> Result<(), Fail> {
        let arg = opt.arg.as_ref().expect("-F has an argument");
        let fail = |p: Problem| (p, arg.column, arg.text.clone());
        let Some(list) = self.list() else {
            return Err((
                Problem::ListBeforeField("-F"),
                opt.column,
                opt.spelled.clone(),
            ));
        };
        if let Some(k) = arg.text.strip_prefix("key=") {
            self.key_token.get_or_insert_with(|| arg.clone());
            return self.add_key(k, arg);
        }
        if self.conds.len() >= MAX_FIELDS {
            return Err(fail(Problem::TooManyFields));
        }
        let split = fields::split_pair(&arg.text).map_err(fail)?;
        let info = fields::lookup_field(split.name).map_err(fail)?;
        if info.field == Field::Arch && self.syscall_added {
            return Err(fail(Problem::ArchAfterSyscall));
        }
        if info.field == Field::Arch && list == FilterList::IoUring {
            return Err(fail(Problem::ArchOnUring));
        }
        fields::check_list_and_op(info, list, split.op).map_err(fail)?;
        if info.kind == ValueKind::Key {
            // `-F KEY=x` in another case: libaudit checks the key dependency right away.
            if !(self.syscall_added || self.perm_added || self.exe_added || self.fs_added) {
                return Err(fail(Problem::KeyNeedsRule));
            }
            return self.add_key(split.value, arg);
        }
        let value_col = arg.column + split.value_offset as u32;
        let read = fields::read_value(info, split.value, self.host, self.native)
            .map_err(|p| (p, value_col, split.value.to_owned()))?;
        if let Some(w) = read.warning {
            self.warn(w, value_col, split.value);
        }
        match info.kind {
            ValueKind::Arch => {
                if let Value::Num(a) = read.value {
                    self.elf = a as u32;
                }
            }
            ValueKind::Path | ValueKind::Dir | ValueKind::Perm => self.perm_added = true,
            ValueKind::Exe => self.exe_added = true,
            ValueKind::FsType => self.fs_added = true,
            _ => {}
        }
        self.push_cond(
            Condition::Field {
                field: info.field,
                op: split.op,
                value: read.value,
            },
            arg,
        )
    }

    fn compare(&mut self, opt: &Opt) -> Result<(), Fail> {
        let arg = opt.arg.as_ref().expect("-C has an argument");
        let fail = |p: Problem| (p, arg.column, arg.text.clone());
        if self.conds.len() >= MAX_FIELDS {
            return Err(fail(Problem::TooManyFields));
        }
        let (l, op, r) = if let Some((l, r)) = arg.text.split_once("!=") {
            (l, Op::Ne, r)
        } else if let Some((l, r)) = arg.text.split_once('=') {
            (l, Op::Eq, r)
        } else {
            return Err(fail(Problem::CompareSyntax(arg.text.clone())));
        };
        if l.is_empty() || r.is_empty() {
            return Err(fail(Problem::CompareSyntax(arg.text.clone())));
        }
        let left = tables::field_by_name(l)
            .ok_or_else(|| fail(Problem::CompareUnknownField(l.to_owned())))?;
        let right = tables::field_by_name(r)
            .ok_or_else(|| fail(Problem::CompareUnknownField(r.to_owned())))?;
        if !matches!(self.list(), Some(FilterList::Exit | FilterList::IoUring)) {
            return Err(fail(Problem::CompareNotOnList));
        }
        if tables::compare_id(left.field, right.field).is_none() {
            return Err(fail(Problem::CompareIncompatible(
                left.field.name(),
                right.field.name(),
            )));
        }
        self.push_cond(
            Condition::Compare {
                left: left.field,
                op,
                right: right.field,
            },
            arg,
        )
    }

    fn watch(&mut self, opt: &Opt) -> Result<(), Fail> {
        let arg = opt.arg.as_ref().expect("-w has an argument");
        let fail = |p: Problem| (p, arg.column, arg.text.clone());
        if self.add.is_some() || self.del.is_some() || self.watch {
            return Err((Problem::WatchWithRule, opt.column, opt.spelled.clone()));
        }
        let mut path = arg.text.clone();
        let reason = if path.len() >= fields::PATH_MAX {
            Some("is too long (at most 4095 bytes)")
        } else if !path.starts_with('/') {
            Some("must start with '/'")
        } else if path.rsplit('/').next().is_some_and(|b| b.len() > 255) {
            Some("has a base name longer than 255 bytes")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(fail(Problem::WatchPath { path, reason }));
        }
        if path.contains("..") {
            self.warn(
                Problem::WatchPathNotation(path.clone(), "relative notation (..)"),
                arg.column,
                &arg.text,
            );
        }
        if path.contains('*') || path.contains('?') {
            self.warn(
                Problem::WatchPathNotation(path.clone(), "wildcards"),
                arg.column,
                &arg.text,
            );
        }
        if path.len() > 2 {
            while path.len() > 1 && path.ends_with('/') {
                path.pop();
            }
        }
        let field = if self.host.path_kind(&path) == PathKind::Dir {
            Field::Dir
        } else {
            Field::Path
        };
        self.watch = true;
        self.rule_col = opt.column;
        self.action = Some(Action::Always);
        if opt.short == 'w' {
            self.add = Some((FilterList::Exit, false));
        } else {
            self.del = Some(FilterList::Exit);
        }
        self.syscall_added = true;
        self.perm_added = true;
        self.all_syscalls = true;
        self.syscalls.clear();
        self.conds.clear();
        self.cond_tokens.clear();
        self.push_cond(
            Condition::Field {
                field,
                op: Op::Eq,
                value: Value::Str(path),
            },
            arg,
        )?;
        self.push_cond(
            Condition::Field {
                field: Field::Perm,
                op: Op::Eq,
                value: Value::Num(15),
            },
            arg,
        )
    }

    fn key_option(&mut self, opt: &Opt) -> Result<(), Fail> {
        let arg = opt.arg.as_ref().expect("-k has an argument");
        if !(self.syscall_added || self.perm_added || self.exe_added || self.fs_added)
            || (self.add.is_none() && self.del.is_none())
        {
            return Err((Problem::KeyNeedsRule, opt.column, opt.spelled.clone()));
        }
        self.key_via_option = true;
        self.key_token.get_or_insert_with(|| arg.clone());
        self.add_key(&arg.text, arg)
    }

    fn add_key(&mut self, k: &str, tok: &Token) -> Result<(), Fail> {
        let joined: usize = self.keys.iter().map(|s| s.len() + 1).sum::<usize>();
        let total = joined + k.len();
        if total > MAX_KEY_LEN {
            return Err((Problem::KeyTooLong(total), tok.column, tok.text.clone()));
        }
        if k.contains(KEY_SEPARATOR) {
            self.warn(Problem::KeySeparator(k.to_owned()), tok.column, &tok.text);
        }
        self.keys.push(k.to_owned());
        Ok(())
    }

    fn perm_option(&mut self, opt: &Opt) -> Result<(), Fail> {
        let arg = opt.arg.as_ref().expect("-p has an argument");
        if self.add.is_none() && self.del.is_none() {
            return Err((Problem::PermWithoutRule, opt.column, opt.spelled.clone()));
        }
        let bits = if arg.text.len() > 4 {
            None
        } else {
            tables::perm_bits(&arg.text)
        };
        let bits = bits.ok_or_else(|| {
            (
                Problem::BadPerm(arg.text.clone()),
                arg.column,
                arg.text.clone(),
            )
        })?;
        let mut updated = false;
        for c in &mut self.conds {
            if let Condition::Field {
                field: Field::Perm,
                value,
                ..
            } = c
            {
                *value = Value::Num(u64::from(bits));
                updated = true;
            }
        }
        if !updated {
            if self.conds.is_empty() {
                return Err((Problem::PermWithoutRule, opt.column, opt.spelled.clone()));
            }
            self.push_cond(
                Condition::Field {
                    field: Field::Perm,
                    op: Op::Eq,
                    value: Value::Num(u64::from(bits)),
                },
                arg,
            )?;
        }
        self.perm_added = true;
        Ok(())
    }

    /// After the options: the key, then the rule (auditctl's end of `setopt` and
    /// `handle_request`).
    fn finish(&mut self) -> Result<(), Fail> {
        let list = self.list();
        if !self.keys.is_empty() {
            let tok = self.key_token.clone().unwrap_or(Token {
                text: String::new(),
                column: 0,
            });
            let Some(list) = list else {
                return Err((Problem::KeyNeedsRule, tok.column, tok.text));
            };
            if self.conds.len() >= MAX_FIELDS {
                return Err((Problem::TooManyFields, tok.column, tok.text));
            }
            if !(self.syscall_added || self.perm_added || self.exe_added || self.fs_added) {
                return Err((Problem::KeyNeedsRule, tok.column, tok.text));
            }
            let info = tables::field_info(Field::Key);
            fields::check_list_and_op(info, list, Op::Eq)
                .map_err(|p| (p, tok.column, tok.text.clone()))?;
        }
        let Some(list) = list else {
            if self.syscall_added {
                return Err((Problem::SyscallWithoutList, self.rule_col, String::new()));
            }
            return Ok(());
        };
        let syscalls = if list == FilterList::Task || self.all_syscalls || !self.syscall_added {
            Syscalls::All
        } else {
            Syscalls::Set(std::mem::take(&mut self.syscalls))
        };
        let rule = Rule {
            list,
            action: self.action.unwrap_or(Action::Always),
            syscalls,
            conditions: std::mem::take(&mut self.conds),
            keys: std::mem::take(&mut self.keys),
            is_watch: self.watch,
            origin: Origin {
                file: self.file.to_owned(),
                line: self.lineno,
            },
        };
        let warnings =
            validate::check_rule(&rule, &self.cond_tokens, self.host, self.add.is_some())?;
        for (problem, column, token) in warnings {
            self.warn(problem, column, &token);
        }
        self.commands.push(match (self.add, self.del) {
            (Some((_, prepend)), _) => Command::Add { rule, prepend },
            (None, _) => Command::Delete { rule },
        });
        Ok(())
    }
}
