//! `-F field OP value` and `-C field OP field`: splitting, field lookup, per-list and
//! per-operator checks, and reading values the way auditctl (libaudit 3.0.9) reads them.

use crate::ast::{FilterList, Op, Value};
use crate::cnum::{strtol, strtoul};
use crate::errors::Problem;
use crate::host::Host;
use crate::tables::{self, FieldInfo, ValueKind};

/// Linux `AF_MAX` (address families are below it).
const AF_MAX: u64 = 46;
/// `PATH_MAX`.
pub(crate) const PATH_MAX: usize = 4096;
/// `AUDIT_MAX_KEY_LEN`.
pub(crate) const MAX_KEY_LEN: usize = 256;

/// Operators in the order libaudit looks for them: the first kind found anywhere in the text
/// wins, split at its first occurrence (so `a0&=4` is `&=`, not `&`).
const OPS: &[(&str, Op)] = &[
    ("!=", Op::Ne),
    (">=", Op::Ge),
    ("<=", Op::Le),
    ("&=", Op::BitTest),
    ("=", Op::Eq),
    (">", Op::Gt),
    ("<", Op::Lt),
    ("&", Op::BitMask),
];

/// `name OP value` split apart, with the byte offset of the value in the text.
pub(crate) struct Split<'a> {
    pub name: &'a str,
    pub op: Op,
    pub value: &'a str,
    pub value_offset: usize,
}

/// Splits `uid>=1000` as libaudit does.
pub(crate) fn split_pair(text: &str) -> Result<Split<'_>, Problem> {
    let Some((pos, sym, op)) = OPS
        .iter()
        .find_map(|(sym, op)| text.find(sym).map(|p| (p, *sym, *op)))
    else {
        return Err(Problem::MissingOperator(text.to_owned()));
    };
    let name = &text[..pos];
    let value = &text[pos + sym.len()..];
    if name.is_empty() {
        return Err(Problem::MissingFieldName(text.to_owned()));
    }
    if value.is_empty() {
        return Err(Problem::MissingValue(text.to_owned()));
    }
    Ok(Split {
        name,
        op,
        value,
        value_offset: pos + sym.len(),
    })
}

/// Every field name, for "expected one of" messages.
pub(crate) fn field_names() -> String {
    tables::fields()
        .iter()
        .filter(|f| f.name != "loginuid_set")
        .map(|f| f.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The field row for a name typed in a rule (`loginuid_set` is not accepted, as in auditctl).
pub(crate) fn lookup_field(name: &str) -> Result<&'static FieldInfo, Problem> {
    match tables::field_by_name(name) {
        Some(f) if f.name != "loginuid_set" => Ok(f),
        _ => Err(Problem::UnknownField {
            name: name.to_owned(),
            expected: field_names(),
        }),
    }
}

/// Checks that `field` may be used on `list` with `op`.
pub(crate) fn check_list_and_op(f: &FieldInfo, list: FilterList, op: Op) -> Result<(), Problem> {
    if !f.allowed_on(list) {
        return Err(Problem::FieldNotOnList {
            field: f.name,
            list: tables::list_name(list),
            allowed: f.allowed_lists().join(", "),
        });
    }
    if !f.ops.allows(op) {
        return Err(Problem::OperatorNotAllowed {
            field: canonical(f),
            op: op.as_str(),
            allowed: f.ops.symbols(),
        });
    }
    Ok(())
}

fn canonical(f: &FieldInfo) -> &'static str {
    tables::field_info(f.field).name
}

/// A value that was read, plus a warning when auditctl's reading is surprising.
pub(crate) struct Read {
    pub value: Value,
    pub warning: Option<Problem>,
}

fn num(value: u64) -> Read {
    Read {
        value: Value::Num(value),
        warning: None,
    }
}

fn starts_digit(v: &str) -> bool {
    v.as_bytes().first().is_some_and(u8::is_ascii_digit)
}

fn starts_neg_digit(v: &str) -> bool {
    v.len() >= 2 && v.starts_with('-') && v.as_bytes()[1].is_ascii_digit()
}

/// Reads a C number and warns when text follows it (`1000abc`).
fn c_number(field: &'static str, v: &str, signed: bool) -> Read {
    let (value, used) = if signed {
        let n = strtol(v, 0);
        (u64::from(n.value as u32), n.used)
    } else {
        let n = strtoul(v, 0);
        (u64::from(n.value as u32), n.used)
    };
    let warning = (used < v.len()).then(|| Problem::NumberTrailing {
        field,
        value: v.to_owned(),
        read: value.to_string(),
    });
    Read {
        value: Value::Num(value),
        warning,
    }
}

/// Reads the value of `f` (already checked for list and operator).
pub(crate) fn read_value(
    f: &FieldInfo,
    v: &str,
    host: &dyn Host,
    native_arch: u32,
) -> Result<Read, Problem> {
    let name = canonical(f);
    let not_number = || Problem::NotANumber {
        field: name,
        value: v.to_owned(),
    };
    Ok(match f.kind {
        ValueKind::Num => {
            if !starts_digit(v) {
                return Err(not_number());
            }
            c_number(name, v, true)
        }
        ValueKind::Inode => {
            if !starts_digit(v) {
                return Err(not_number());
            }
            c_number(name, v, false)
        }
        ValueKind::Uid => {
            if starts_digit(v) {
                c_number(name, v, false)
            } else if starts_neg_digit(v) {
                c_number(name, v, true)
            } else if v == "unset" {
                num(u64::from(u32::MAX))
            } else {
                let uid = host
                    .uid_of(v)
                    .ok_or_else(|| Problem::UnknownUser(v.to_owned()))?;
                num(u64::from(uid))
            }
        }
        ValueKind::Gid => {
            if starts_digit(v) {
                c_number(name, v, true)
            } else {
                let gid = host
                    .gid_of(v)
                    .ok_or_else(|| Problem::UnknownGroup(v.to_owned()))?;
                num(u64::from(gid))
            }
        }
        ValueKind::Exit => {
            if starts_digit(v) || starts_neg_digit(v) {
                c_number(name, v, true)
            } else {
                let (neg, bare) = match v.strip_prefix('-') {
                    Some(b) => (true, b),
                    None => (false, v),
                };
                let e = tables::errno_number(bare)
                    .ok_or_else(|| Problem::UnknownErrno(v.to_owned()))?;
                let signed = if neg { -(e as i32) } else { e as i32 };
                num(u64::from(signed as u32))
            }
        }
        ValueKind::MsgType => {
            if starts_digit(v) {
                c_number(name, v, true)
            } else {
                let t = tables::msgtype_number(v)
                    .ok_or_else(|| Problem::UnknownMsgType(v.to_owned()))?;
                num(u64::from(t))
            }
        }
        ValueKind::Lsm | ValueKind::Path | ValueKind::Dir | ValueKind::Exe => {
            if v.len() > PATH_MAX {
                return Err(Problem::StringTooLong {
                    field: name,
                    len: v.len(),
                    max: PATH_MAX,
                });
            }
            Read {
                value: Value::Str(v.to_owned()),
                warning: None,
            }
        }
        ValueKind::Key => {
            if v.len() > MAX_KEY_LEN {
                return Err(Problem::KeyTooLong(v.len()));
            }
            Read {
                value: Value::Str(v.to_owned()),
                warning: None,
            }
        }
        ValueKind::Arch => num(u64::from(read_arch(v, native_arch)?)),
        ValueKind::Perm => {
            let bits = if v.len() > 4 {
                None
            } else {
                tables::perm_bits(v)
            };
            num(u64::from(
                bits.ok_or_else(|| Problem::BadPerm(v.to_owned()))?,
            ))
        }
        ValueKind::FileType => num(u64::from(
            tables::filetype_value(v).ok_or_else(|| Problem::UnknownFileType(v.to_owned()))?,
        )),
        ValueKind::FsType => {
            if starts_digit(v) {
                c_number(name, v, false)
            } else {
                num(u64::from(
                    tables::fstype_value(v).ok_or_else(|| Problem::UnknownFsType(v.to_owned()))?,
                ))
            }
        }
        ValueKind::Arg => {
            if starts_digit(v) {
                c_number(name, v, false)
            } else if starts_neg_digit(v) {
                c_number(name, v, true)
            } else {
                return Err(not_number());
            }
        }
        ValueKind::SessionId => {
            if starts_digit(v) {
                c_number(name, v, false)
            } else if starts_neg_digit(v) {
                c_number(name, v, true)
            } else if v == "unset" {
                num(u64::from(u32::MAX))
            } else {
                // libaudit leaves the value at 0 here.
                Read {
                    value: Value::Num(0),
                    warning: Some(Problem::NumberTrailing {
                        field: name,
                        value: v.to_owned(),
                        read: "0".into(),
                    }),
                }
            }
        }
        ValueKind::SaddrFam => {
            let r = c_number(name, v, false);
            if let Value::Num(n) = r.value {
                if n >= AF_MAX {
                    return Err(Problem::InvalidValue {
                        field: name,
                        value: v.to_owned(),
                        reason: "address families are below 46 (AF_MAX)",
                    });
                }
            }
            r
        }
        ValueKind::ContId => num(parse_u64(v).ok_or_else(not_number)?),
    })
}

/// A container id: decimal or `0x` hex, the whole word.
fn parse_u64(v: &str) -> Option<u64> {
    match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => v.parse().ok(),
    }
}

/// `-F arch=` as auditctl reads it: a number (must name a known machine), `b64`/`b32` for
/// this machine, a machine name, or bare hex.
pub(crate) fn read_arch(v: &str, native: u32) -> Result<u32, Problem> {
    let unknown = || Problem::UnknownArch(v.to_owned());
    if starts_digit(v) {
        let n = strtoul(v, 0);
        let arch = u32::try_from(n.value).map_err(|_| unknown())?;
        return if !n.overflow && tables::arch_is_known(arch) {
            Ok(arch)
        } else {
            Err(unknown())
        };
    }
    for (word, bits64) in [("b64", true), ("b32", false)] {
        if v.eq_ignore_ascii_case(word) {
            return tables::arch_for_bits(native, bits64)
                .ok_or_else(|| Problem::ArchBits(v.to_owned()));
        }
    }
    if let Some(a) = tables::arch_from_machine(v) {
        return Ok(a);
    }
    let n = strtoul(v, 16);
    match u32::try_from(n.value) {
        Ok(a) if n.used > 0 && !n.overflow && tables::arch_is_known(a) => Ok(a),
        _ => Err(unknown()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::FakeHost;
    use crate::tables::{AUDIT_ARCH_I386, AUDIT_ARCH_X86_64};

    fn read(field: &str, v: &str) -> Result<Value, Problem> {
        let f = lookup_field(field)?;
        read_value(f, v, &FakeHost::new(), AUDIT_ARCH_X86_64).map(|r| r.value)
    }

    #[test]
    fn split_like_libaudit() {
        let s = split_pair("a0&=4").unwrap();
        assert_eq!((s.name, s.op, s.value), ("a0", Op::BitTest, "4"));
        let s = split_pair("uid>=1000").unwrap();
        assert_eq!((s.name, s.op), ("uid", Op::Ge));
        let s = split_pair("x=a!=b").unwrap();
        assert_eq!((s.name, s.op, s.value), ("x=a", Op::Ne, "b"));
        assert!(matches!(
            split_pair("uid"),
            Err(Problem::MissingOperator(_))
        ));
        assert!(matches!(
            split_pair("=1"),
            Err(Problem::MissingFieldName(_))
        ));
        assert!(matches!(split_pair("uid="), Err(Problem::MissingValue(_))));
    }

    #[test]
    fn values() {
        assert_eq!(read("uid", "root"), Ok(Value::Num(0)));
        assert_eq!(read("auid", "unset"), Ok(Value::Num(4_294_967_295)));
        assert_eq!(read("auid", "-1"), Ok(Value::Num(4_294_967_295)));
        assert_eq!(read("uid", "0x10"), Ok(Value::Num(16)));
        assert!(matches!(
            read("uid", "nobody-here"),
            Err(Problem::UnknownUser(_))
        ));
        assert!(matches!(read("gid", "-5"), Err(Problem::UnknownGroup(_))));
        assert_eq!(
            read("exit", "-EACCES"),
            Ok(Value::Num(u64::from(-13i32 as u32)))
        );
        assert_eq!(read("exit", "eperm"), Ok(Value::Num(1)));
        assert!(matches!(
            read("exit", "-EBOGUS"),
            Err(Problem::UnknownErrno(_))
        ));
        assert_eq!(read("msgtype", "cwd"), Ok(Value::Num(1307)));
        assert_eq!(read("perm", "WA"), Ok(Value::Num(10)));
        assert!(read("perm", "rwxaw").is_err());
        assert_eq!(read("filetype", "FILE"), Ok(Value::Num(0o100_000)));
        assert_eq!(read("a1", "0100"), Ok(Value::Num(64)));
        assert_eq!(read("a0", "-1"), Ok(Value::Num(0xffff_ffff)));
        assert!(matches!(read("pid", "-5"), Err(Problem::NotANumber { .. })));
        assert_eq!(read("sessionid", "abc"), Ok(Value::Num(0)));
        assert!(read("saddr_fam", "46").is_err());
        assert_eq!(read("contid", "0x10"), Ok(Value::Num(16)));
        assert_eq!(
            read("contid", "18446744073709551615"),
            Ok(Value::Num(u64::MAX))
        );
        assert!(read("contid", "12x").is_err());
        assert!(matches!(
            read("uidd", "1"),
            Err(Problem::UnknownField { .. })
        ));
    }

    #[test]
    fn arch_forms() {
        let n = AUDIT_ARCH_X86_64;
        assert_eq!(read_arch("b64", n), Ok(AUDIT_ARCH_X86_64));
        assert_eq!(read_arch("B32", n), Ok(AUDIT_ARCH_I386));
        assert_eq!(read_arch("i686", n), Ok(AUDIT_ARCH_I386));
        assert_eq!(read_arch("0xc000003e", n), Ok(AUDIT_ARCH_X86_64));
        assert_eq!(read_arch("3221225534", n), Ok(AUDIT_ARCH_X86_64));
        assert_eq!(read_arch("c000003e", n), Ok(AUDIT_ARCH_X86_64));
        assert!(read_arch("0x1234", n).is_err());
        assert!(read_arch("sparc", n).is_err());
        assert!(read_arch("b64", AUDIT_ARCH_I386).is_err());
    }

    #[test]
    fn lists_and_ops() {
        let f = lookup_field("msgtype").unwrap();
        assert!(check_list_and_op(f, FilterList::Exit, Op::Eq).is_err());
        assert!(check_list_and_op(f, FilterList::Exclude, Op::Eq).is_ok());
        let f = lookup_field("uid").unwrap();
        assert!(check_list_and_op(f, FilterList::Exit, Op::BitMask).is_err());
        let f = lookup_field("a0").unwrap();
        assert!(check_list_and_op(f, FilterList::Exit, Op::BitMask).is_ok());
        assert!(lookup_field("loginuid_set").is_err());
    }
}
