//! Checks the kernel makes when a rule arrives (`kernel/auditfilter.c`: `audit_data_to_entry`,
//! `audit_to_watch`, `audit_make_tree`, `audit_to_inode`, `audit_alloc_mark`) and the host
//! checks behind them (a watch's parent directory must exist, a `dir=` must exist). auditctl
//! hands these to the kernel and reports "Invalid argument" or "No such file or directory";
//! vigil says which field and why.

use crate::ast::{Condition, Field, Op, Rule, Value};
use crate::errors::Problem;
use crate::host::{parent_dir, Host, PathKind};
use crate::lexer::Token;
use crate::parse::Fail;

const UID_FIELDS: &[Field] = &[
    Field::Uid,
    Field::Euid,
    Field::Suid,
    Field::Fsuid,
    Field::ObjUid,
];
const GID_FIELDS: &[Field] = &[
    Field::Gid,
    Field::Egid,
    Field::Sgid,
    Field::Fsgid,
    Field::ObjGid,
];

fn parent_must_exist(host: &dyn Host, path: &str, what: &str) -> Result<(), Problem> {
    let parent = parent_dir(path);
    match host.path_kind(parent) {
        PathKind::Dir => Ok(()),
        PathKind::Other => Err(Problem::PathMissing(format!(
            "{parent}, the parent of {what} {path}, is not a directory"
        ))),
        PathKind::Missing => Err(Problem::PathMissing(format!(
            "directory {parent}, the parent of {what} {path}, does not exist"
        ))),
    }
}

/// Checks one finished rule; `tokens[i]` is where condition `i` was written. `adding`: the
/// rule is being added (host checks apply), not deleted. Returns warnings.
pub(crate) fn check_rule(
    rule: &Rule,
    tokens: &[Token],
    host: &dyn Host,
    adding: bool,
) -> Result<Vec<Fail>, Fail> {
    let mut warnings = Vec::new();
    let mut object = false; // a path=, dir= or inode= is present (one per rule)
    let mut exe = false;
    for (i, cond) in rule.conditions.iter().enumerate() {
        let tok = &tokens[i];
        let fail = |p: Problem| (p, tok.column, tok.text.clone());
        let Condition::Field { field, op, value } = cond else {
            continue;
        };
        let text = match value {
            Value::Str(s) => s.as_str(),
            Value::Num(_) => "",
        };
        match field {
            Field::Path | Field::Dir | Field::Inode => {
                if object {
                    return Err(fail(Problem::KernelRejects(
                        "a rule can have only one of path=, dir= and inode= (a -w watch counts as one)",
                    )));
                }
                object = true;
                if *field == Field::Path && (!text.starts_with('/') || text.ends_with('/')) {
                    return Err(fail(Problem::KernelRejects(
                        "path= must be an absolute path without a trailing /",
                    )));
                }
                if *field == Field::Dir && !text.starts_with('/') {
                    return Err(fail(Problem::KernelRejects(
                        "dir= must be an absolute path",
                    )));
                }
                if *field == Field::Path && adding {
                    parent_must_exist(host, text, "watch").map_err(fail)?;
                    if host.path_kind(text) == PathKind::Missing {
                        warnings.push(fail(Problem::WatchTargetMissing(text.to_owned())));
                    }
                }
                if *field == Field::Dir && adding && host.path_kind(text) == PathKind::Missing {
                    return Err(fail(Problem::PathMissing(format!(
                        "directory {text} (dir=) does not exist"
                    ))));
                }
            }
            Field::Exe => {
                if exe {
                    return Err(fail(Problem::KernelRejects(
                        "a rule can have only one exe=",
                    )));
                }
                exe = true;
                if !text.starts_with('/') || text.ends_with('/') {
                    return Err(fail(Problem::KernelRejects(
                        "exe= must be an absolute path without a trailing /",
                    )));
                }
                if adding {
                    parent_must_exist(host, text, "executable").map_err(fail)?;
                }
            }
            Field::Auid
                if *value == Value::Num(u64::from(u32::MAX)) && !matches!(op, Op::Eq | Op::Ne) =>
            {
                return Err(fail(Problem::InvalidValue {
                    field: "auid",
                    value: "unset".into(),
                    reason: "an unset auid can only be tested with = or !=",
                }));
            }
            f if (UID_FIELDS.contains(f) || GID_FIELDS.contains(f))
                && *value == Value::Num(u64::from(u32::MAX)) =>
            {
                return Err(fail(Problem::InvalidValue {
                    field: f.name(),
                    value: "4294967295".into(),
                    reason: "-1 (unset) is not a valid id; only auid can be unset",
                }));
            }
            _ => {}
        }
    }
    Ok(warnings)
}
