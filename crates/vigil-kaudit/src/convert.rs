//! vigil's rule model (`vigil_rules::ast`) <-> the kernel's `audit_rule_data`, field for
//! field as auditctl builds it: conditions in the order written, keys last as one
//! `key` field joined by 0x01, syscalls as a bitmap ("all" = every bit set).

use std::collections::BTreeSet;

use vigil_rules::ast::{Action, Condition, Field, FilterList, Op, Origin, Rule, Syscalls, Value};
use vigil_rules::tables;

use crate::consts::{
    AUDIT_ALWAYS, AUDIT_BITMASK_SIZE, AUDIT_FIELD_COMPARE, AUDIT_KEY_SEPARATOR, AUDIT_NEVER,
};
use crate::error::{Error, Result};
use crate::rule::{is_string_field, RawField, RawValue, RuleData};

/// Highest syscall number the bitmap can hold (the top 16 bits name syscall classes).
const MAX_SYSCALL: u32 = tables::SYSCALL_CLASS_FIRST - 1;

/// Field numbers at or above this are vigil extensions the kernel does not know.
const VIGIL_FIELD_BASE: u32 = 1000;

/// Kernel field number (`AUDIT_PID` ...) from vigil-rules' field table, or `None` for
/// vigil-only fields (`contid`) and arguments past `a3`.
pub fn field_number(field: Field) -> Option<u32> {
    if matches!(field, Field::Arg(n) if n > 3) {
        return None;
    }
    let n = field.kernel_number();
    (n < VIGIL_FIELD_BASE).then_some(n)
}

/// The field a kernel field number stands for.
pub fn field_from_number(n: u32) -> Option<Field> {
    if n >= VIGIL_FIELD_BASE {
        return None;
    }
    tables::field_by_kernel(n).map(|f| f.field)
}

/// The `AUDIT_COMPARE_*` number of a field pair, in either order.
pub fn comparison_number(left: Field, right: Field) -> Option<u32> {
    if field_number(left).is_none() || field_number(right).is_none() {
        return None;
    }
    tables::compare_id(left, right)
}

/// The two fields of a comparison, in the order `auditctl -l` prints them.
fn comparison_fields(n: u32) -> Option<(Field, Field)> {
    let (l, r) = tables::compare_names(n)?;
    Some((
        tables::field_by_name(l)?.field,
        tables::field_by_name(r)?.field,
    ))
}

fn op_from_number(n: u32) -> Option<Op> {
    [
        Op::Eq,
        Op::Ne,
        Op::Lt,
        Op::Gt,
        Op::Le,
        Op::Ge,
        Op::BitMask,
        Op::BitTest,
    ]
    .into_iter()
    .find(|op| op.kernel_number() == n)
}

fn list_from_number(n: u32) -> Option<FilterList> {
    [
        FilterList::User,
        FilterList::Task,
        FilterList::Exit,
        FilterList::Exclude,
        FilterList::Filesystem,
        FilterList::IoUring,
    ]
    .into_iter()
    .find(|l| l.kernel_number() == n)
}

fn origin_text(o: &Origin) -> String {
    if o.file.is_empty() && o.line == 0 {
        String::new()
    } else {
        format!("{}:{}", o.file, o.line)
    }
}

/// Encodes a rule as auditctl would send it with `AUDIT_ADD_RULE` (list appended).
pub fn encode_rule(rule: &Rule) -> Result<RuleData> {
    let err = |reason: String| Error::Encode {
        origin: origin_text(&rule.origin),
        reason,
    };
    let mut mask = [0u32; AUDIT_BITMASK_SIZE];
    match &rule.syscalls {
        // The task list runs at fork, not per syscall: auditctl sends an empty mask.
        Syscalls::All if rule.list == FilterList::Task => {}
        Syscalls::Set(set) if rule.list == FilterList::Task && !set.is_empty() => {
            return Err(err("the task list takes no syscalls".into()));
        }
        Syscalls::All => mask = [u32::MAX; AUDIT_BITMASK_SIZE],
        Syscalls::Set(set) => {
            for &nr in set {
                if nr > MAX_SYSCALL {
                    return Err(err(format!(
                        "syscall number {nr} is beyond the kernel's bitmap (max {MAX_SYSCALL})"
                    )));
                }
                mask[(nr / 32) as usize] |= 1 << (nr % 32);
            }
        }
    }
    let mut fields = Vec::with_capacity(rule.conditions.len() + 1);
    for c in &rule.conditions {
        fields.push(encode_condition(c).map_err(err)?);
    }
    if !rule.keys.is_empty() {
        let joined = rule.keys.join(&char::from(AUDIT_KEY_SEPARATOR).to_string());
        fields.push(RawField {
            field: 210,
            op: Op::Eq.kernel_number(),
            value: RawValue::Str(joined.into_bytes()),
        });
    }
    let raw = RuleData {
        flags: rule.list.kernel_number(),
        action: match rule.action {
            Action::Never => AUDIT_NEVER,
            Action::Always => AUDIT_ALWAYS,
        },
        mask,
        fields,
    };
    // Check the limits (field count, string lengths) here, where the origin is known.
    raw.encode().map_err(|e| err(e.to_string()))?;
    Ok(raw)
}

fn encode_condition(c: &Condition) -> std::result::Result<RawField, String> {
    match c {
        Condition::Field { field, op, value } => {
            let n = field_number(*field)
                .ok_or_else(|| format!("field {field:?} has no kernel audit equivalent"))?;
            let value = match (value, is_string_field(n)) {
                // auditctl strips the slash of `-w dir/`; the kernel refuses it on a watch.
                (Value::Str(s), true) if *field == Field::Path && s.len() > 1 => {
                    RawValue::Str(s.trim_end_matches('/').as_bytes().to_vec())
                }
                (Value::Str(s), true) => RawValue::Str(s.as_bytes().to_vec()),
                (Value::Num(v), false) => RawValue::Num(u32::try_from(*v).map_err(|_| {
                    format!("value {v} of field {field:?} does not fit the kernel's 32 bits")
                })?),
                (Value::Num(v), true) => {
                    return Err(format!("field {field:?} takes a string, got number {v}"))
                }
                (Value::Str(s), false) => {
                    return Err(format!("field {field:?} takes a number, got {s:?}"))
                }
            };
            Ok(RawField {
                field: n,
                op: op.kernel_number(),
                value,
            })
        }
        Condition::Compare { left, op, right } => {
            if !matches!(op, Op::Eq | Op::Ne) {
                return Err(format!(
                    "field comparison takes only = and !=, got {}",
                    op.as_str()
                ));
            }
            let n = comparison_number(*left, *right)
                .ok_or_else(|| format!("the kernel cannot compare {left:?} with {right:?}"))?;
            Ok(RawField {
                field: AUDIT_FIELD_COMPARE,
                op: op.kernel_number(),
                value: RawValue::Num(n),
            })
        }
    }
}

/// Decodes a kernel rule into vigil's model. Comparisons come back in the kernel's
/// canonical order; `is_watch` is set for the shape `-w` produces (exit list, always,
/// all syscalls, one path/dir, otherwise only perm).
pub fn decode_rule(raw: &RuleData) -> Result<Rule> {
    let err = |reason: String| Error::Decode { reason };
    let list = list_from_number(raw.list())
        .ok_or_else(|| err(format!("unknown filter list {}", raw.list())))?;
    let action = match raw.action {
        AUDIT_NEVER => Action::Never,
        AUDIT_ALWAYS => Action::Always,
        a => return Err(err(format!("unsupported action {a}"))),
    };
    // The kernel turns class bits into syscalls, so "all" reads back with the class
    // word cleared: compare every word but the last.
    let syscalls = if list == FilterList::Task
        || raw.mask[..AUDIT_BITMASK_SIZE - 1]
            .iter()
            .all(|&w| w == u32::MAX)
    {
        Syscalls::All
    } else {
        let mut set = BTreeSet::new();
        for (i, &w) in raw.mask.iter().enumerate() {
            for bit in 0..32 {
                if w & (1 << bit) != 0 {
                    set.insert(i as u32 * 32 + bit);
                }
            }
        }
        // The kernel expands class bits when it stores a rule; a rule holding them did not
        // come from the kernel and has no meaning in the model.
        if let Some(&nr) = set.range(MAX_SYSCALL + 1..).next() {
            return Err(err(format!("syscall class bit {nr} set")));
        }
        Syscalls::Set(set)
    };
    let mut conditions = Vec::new();
    let mut keys = Vec::new();
    for (i, f) in raw.fields.iter().enumerate() {
        let op = op_from_number(f.op)
            .ok_or_else(|| err(format!("field {i}: unknown operator {:#x}", f.op)))?;
        if f.field == AUDIT_FIELD_COMPARE {
            let RawValue::Num(n) = f.value else {
                return Err(err(format!("field {i}: comparison with a string value")));
            };
            let (left, right) = comparison_fields(n)
                .ok_or_else(|| err(format!("field {i}: unknown comparison {n}")))?;
            conditions.push(Condition::Compare { left, op, right });
            continue;
        }
        let field = field_from_number(f.field)
            .ok_or_else(|| err(format!("field {i}: unknown field number {}", f.field)))?;
        let value = match &f.value {
            RawValue::Num(v) => Value::Num(u64::from(*v)),
            RawValue::Str(s) => Value::Str(
                String::from_utf8(s.clone())
                    .map_err(|_| err(format!("field {i} ({field:?}): value is not UTF-8")))?,
            ),
        };
        if field == Field::Key && op == Op::Eq {
            if let Value::Str(s) = value {
                keys.extend(s.split(char::from(AUDIT_KEY_SEPARATOR)).map(str::to_owned));
                continue;
            }
        }
        conditions.push(Condition::Field { field, op, value });
    }
    let is_watch = list == FilterList::Exit
        && action == Action::Always
        && syscalls == Syscalls::All
        && conditions
            .iter()
            .filter(|c| {
                matches!(
                    c,
                    Condition::Field {
                        field: Field::Path | Field::Dir,
                        op: Op::Eq,
                        ..
                    }
                )
            })
            .count()
            == 1
        && conditions.iter().all(|c| {
            matches!(
                c,
                Condition::Field {
                    field: Field::Path | Field::Dir | Field::Perm,
                    ..
                }
            )
        });
    Ok(Rule {
        list,
        action,
        syscalls,
        conditions,
        keys,
        is_watch,
        origin: Origin::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(field: Field, op: Op, value: Value) -> Condition {
        Condition::Field { field, op, value }
    }

    fn exit_rule(syscalls: &[u32], conditions: Vec<Condition>, keys: &[&str]) -> Rule {
        Rule {
            list: FilterList::Exit,
            action: Action::Always,
            syscalls: Syscalls::Set(syscalls.iter().copied().collect()),
            conditions,
            keys: keys.iter().map(|k| (*k).to_owned()).collect(),
            is_watch: false,
            origin: Origin::default(),
        }
    }

    #[test]
    fn field_numbers_are_a_bijection() {
        for n in 0..300 {
            if let Some(f) = field_from_number(n) {
                assert_eq!(field_number(f), Some(n));
            }
        }
        assert_eq!(field_number(Field::ContId), None);
        assert_eq!(field_number(Field::Arg(4)), None);
        assert_eq!(field_from_number(111), None);
        // The kernel's 25 comparisons, each found in both orders.
        for n in 1..=25 {
            let (l, r) = comparison_fields(n).unwrap();
            assert_eq!(comparison_number(l, r), Some(n));
            assert_eq!(comparison_number(r, l), Some(n));
        }
        assert_eq!(comparison_fields(26), None);
        // The raw layer's idea of string fields agrees with the field table.
        for f in tables::fields() {
            if f.kernel < VIGIL_FIELD_BASE {
                let stringy = matches!(
                    f.kind,
                    tables::ValueKind::Lsm
                        | tables::ValueKind::Path
                        | tables::ValueKind::Dir
                        | tables::ValueKind::Exe
                        | tables::ValueKind::Key
                );
                assert_eq!(is_string_field(f.kernel), stringy, "{}", f.name);
            }
        }
    }

    #[test]
    fn encode_decode_round_trip() {
        let rule = exit_rule(
            &[2, 257],
            vec![
                cond(Field::Arch, Op::Eq, Value::Num(0xc000_003e)),
                cond(Field::Auid, Op::Ge, Value::Num(1000)),
                cond(Field::Auid, Op::Ne, Value::Num(u64::from(u32::MAX))),
                cond(Field::Exit, Op::Eq, Value::Num(u64::from(-13i32 as u32))),
                Condition::Compare {
                    left: Field::Uid,
                    op: Op::Ne,
                    right: Field::Euid,
                },
                cond(Field::Exe, Op::Eq, Value::Str("/usr/bin/sudo".into())),
            ],
            &["access", "second"],
        );
        let raw = encode_rule(&rule).unwrap();
        assert_eq!(raw.flags, 4);
        assert_eq!(raw.action, 2);
        assert_eq!(raw.mask[0], 1 << 2);
        assert_eq!(raw.mask[8], 1 << 1);
        let key = raw.fields.last().unwrap();
        assert_eq!(key.field, 210);
        assert_eq!(key.value, RawValue::Str(b"access\x01second".to_vec()));
        // Through bytes and back.
        let bytes = raw.encode().unwrap();
        let back = decode_rule(&RuleData::decode(&bytes).unwrap()).unwrap();
        assert_eq!(back, rule);
    }

    #[test]
    fn compare_order_is_canonical() {
        let mut rule = exit_rule(
            &[59],
            vec![Condition::Compare {
                left: Field::ObjUid,
                op: Op::Eq,
                right: Field::Uid,
            }],
            &[],
        );
        let back = decode_rule(&encode_rule(&rule).unwrap()).unwrap();
        rule.conditions = vec![Condition::Compare {
            left: Field::Uid,
            op: Op::Eq,
            right: Field::ObjUid,
        }];
        assert_eq!(back, rule);
    }

    #[test]
    fn watch_shape_and_all_syscalls() {
        let rule = Rule {
            list: FilterList::Exit,
            action: Action::Always,
            syscalls: Syscalls::All,
            conditions: vec![
                cond(Field::Path, Op::Eq, Value::Str("/etc/passwd".into())),
                cond(Field::Perm, Op::Eq, Value::Num(10)),
            ],
            keys: vec!["identity".into()],
            is_watch: true,
            origin: Origin::default(),
        };
        let mut raw = encode_rule(&rule).unwrap();
        // The kernel reads "all" back with the class bits cleared.
        raw.mask[63] = 0x0000_ffff;
        assert_eq!(decode_rule(&raw).unwrap(), rule);
    }

    #[test]
    fn encode_errors_name_the_origin_and_problem() {
        let mut rule = exit_rule(&[1], vec![cond(Field::ContId, Op::Eq, Value::Num(5))], &[]);
        rule.origin = Origin {
            file: "r.rules".into(),
            line: 7,
        };
        let e = encode_rule(&rule).unwrap_err().to_string();
        assert!(e.starts_with("r.rules:7: "), "{e}");
        assert!(e.contains("ContId"), "{e}");
        let bad = [
            exit_rule(
                &[1],
                vec![cond(Field::Uid, Op::Eq, Value::Num(1 << 32))],
                &[],
            ),
            exit_rule(
                &[1],
                vec![cond(Field::Uid, Op::Eq, Value::Str("x".into()))],
                &[],
            ),
            exit_rule(&[1], vec![cond(Field::Exe, Op::Eq, Value::Num(1))], &[]),
            exit_rule(&[5000], vec![], &[]),
            exit_rule(&[1], vec![], &[&"k".repeat(300)]),
            exit_rule(
                &[1],
                vec![Condition::Compare {
                    left: Field::Uid,
                    op: Op::Lt,
                    right: Field::Euid,
                }],
                &[],
            ),
            exit_rule(
                &[1],
                vec![Condition::Compare {
                    left: Field::Pid,
                    op: Op::Eq,
                    right: Field::Euid,
                }],
                &[],
            ),
        ];
        for r in bad {
            assert!(encode_rule(&r).is_err(), "{r:?}");
        }
    }

    #[test]
    fn decode_rejects_unknowns() {
        let good = encode_rule(&exit_rule(&[1], vec![], &["k"])).unwrap();
        let mut r = good.clone();
        r.flags = 3;
        assert!(decode_rule(&r).is_err());
        let mut r = good.clone();
        r.action = 1;
        assert!(decode_rule(&r).is_err());
        let mut r = good.clone();
        r.fields[0].op = 0x8000_0000;
        assert!(decode_rule(&r).is_err());
        let mut r = good.clone();
        r.fields[0].field = 42;
        assert!(decode_rule(&r).is_err());
        let mut r = good;
        r.fields[0].value = RawValue::Str(vec![0xff]);
        assert!(decode_rule(&r).is_err());
    }
}
