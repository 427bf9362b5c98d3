//! A rule in the form the kernel stores and returns it (`struct audit_rule_data`): fields in
//! order with kernel numbers, the key last as one field, the syscall bitmap. Rule identity
//! ("Rule exists", `-d`, `-W`) and `auditctl -l` printing both work on this form, as they do in
//! the kernel and auditctl.

use crate::ast::{Action, Condition, Field, FilterList, Op, Rule, Syscalls, Value};
use crate::parse::KEY_SEPARATOR;
use crate::tables;

/// `AUDIT_LOGINUID_SET`: the kernel turns `auid=-1` into this field (value 0) and back.
const LOGINUID_SET: u32 = tables::fno::LOGINUID_SET as u32;
/// `AUDIT_FIELD_COMPARE` (a `-C` comparison; not a field of the field table).
pub const FIELD_COMPARE: u32 = 111;
/// `AUDIT_FILTERKEY`.
pub const FILTERKEY: u32 = tables::fno::KEY as u32;
/// `AUDIT_BITMASK_SIZE`: 32-bit words in the syscall bitmap.
pub const BITMASK_WORDS: usize = 64;

/// One field as the kernel holds it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KernelField {
    /// `AUDIT_*` field number (vigil extensions: >= 1000).
    pub field: u32,
    pub op: Op,
    /// The 32-bit value (for strings: unused, 0).
    pub value: u32,
    /// String value (paths, labels, key).
    pub text: Option<String>,
    /// vigil's 64-bit values (container ids); equals `value` otherwise.
    pub wide: u64,
}

/// A rule in kernel form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KernelRule {
    pub list: FilterList,
    pub action: Action,
    /// Syscall (or io_uring opcode) bitmap; class bits never set.
    pub mask: Vec<u32>,
    pub fields: Vec<KernelField>,
    /// The rule held `auid=-1`/`auid!=-1`, which the kernel keeps as `loginuid_set` and lists
    /// back as `auid` (`AUDIT_LOGINUID_LEGACY`).
    pub loginuid_legacy: bool,
}

impl KernelRule {
    /// Builds the kernel form of `rule`.
    pub fn from_rule(rule: &Rule) -> KernelRule {
        let mut mask = vec![0u32; BITMASK_WORDS];
        match &rule.syscalls {
            // auditctl leaves the bitmap empty on the task list; elsewhere "all" sets every
            // bit and the kernel then clears the 16 class bits.
            Syscalls::All if rule.list == FilterList::Task => {}
            Syscalls::All => {
                mask.fill(u32::MAX);
                mask[BITMASK_WORDS - 1] &= 0x0000_ffff;
            }
            Syscalls::Set(set) => {
                for &nr in set {
                    if (nr as usize) < BITMASK_WORDS * 32 {
                        mask[nr as usize / 32] |= 1 << (nr % 32);
                    }
                }
            }
        }
        let mut legacy = false;
        let mut fields: Vec<KernelField> = rule
            .conditions
            .iter()
            .map(|c| match c {
                Condition::Field { field, op, value } => {
                    let (num, text) = match value {
                        Value::Num(n) => (*n, None),
                        Value::Str(s) => (0, Some(s.clone())),
                    };
                    let mut kf = KernelField {
                        field: field.kernel_number(),
                        op: *op,
                        value: num as u32,
                        text,
                        wide: num,
                    };
                    if *field == Field::Auid && num == u64::from(u32::MAX) {
                        legacy = true;
                        kf.field = LOGINUID_SET;
                        kf.value = 0;
                        kf.wide = 0;
                    }
                    kf
                }
                Condition::Compare { left, op, right } => {
                    let id = tables::compare_id(*left, *right).unwrap_or(0);
                    KernelField {
                        field: FIELD_COMPARE,
                        op: *op,
                        value: id,
                        text: None,
                        wide: u64::from(id),
                    }
                }
            })
            .collect();
        if !rule.keys.is_empty() {
            fields.push(KernelField {
                field: FILTERKEY,
                op: Op::Eq,
                value: 0,
                text: Some(rule.keys.join(&KEY_SEPARATOR.to_string())),
                wide: 0,
            });
        }
        KernelRule {
            list: rule.list,
            action: rule.action,
            mask,
            fields,
            loginuid_legacy: legacy,
        }
    }

    /// The key as the kernel holds it (parts joined by 0x01), if any.
    pub fn key(&self) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| f.field == FILTERKEY)
            .and_then(|f| f.text.as_deref())
    }

    /// Whether every syscall bit (class bits aside) is set.
    pub fn all_syscalls(&self) -> bool {
        self.mask[..BITMASK_WORDS - 1]
            .iter()
            .all(|w| *w == u32::MAX)
    }

    /// The syscall numbers set, ascending.
    pub fn syscalls(&self) -> impl Iterator<Item = u32> + '_ {
        (0..(BITMASK_WORDS * 32) as u32)
            .filter(|n| self.mask[*n as usize / 32] & (1 << (n % 32)) != 0)
    }

    /// The field as listed back by the kernel: `loginuid_set` of a legacy rule is `auid=-1`.
    pub fn listed_field(&self, f: &KernelField) -> (u32, u32) {
        if f.field == LOGINUID_SET && self.loginuid_legacy && f.value == 0 {
            (Field::Auid.kernel_number(), u32::MAX)
        } else {
            (f.field, f.value)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::{Origin, Rule};
    use std::collections::BTreeSet;

    fn rule(conds: Vec<Condition>, sys: Syscalls) -> Rule {
        Rule {
            list: FilterList::Exit,
            action: Action::Always,
            syscalls: sys,
            conditions: conds,
            keys: vec!["a".into(), "b".into()],
            is_watch: false,
            origin: Origin::default(),
        }
    }

    #[test]
    fn auid_unset_is_legacy_loginuid_set() {
        let r = rule(
            vec![Condition::Field {
                field: Field::Auid,
                op: Op::Ne,
                value: Value::Num(u64::from(u32::MAX)),
            }],
            Syscalls::Set(BTreeSet::from([2, 257])),
        );
        let k = KernelRule::from_rule(&r);
        assert!(k.loginuid_legacy);
        assert_eq!(k.fields[0].field, LOGINUID_SET);
        assert_eq!(k.listed_field(&k.fields[0]), (9, u32::MAX));
        assert_eq!(k.key(), Some("a\u{1}b"));
        assert_eq!(k.syscalls().collect::<Vec<_>>(), vec![2, 257]);
        assert!(!k.all_syscalls());
    }

    #[test]
    fn identity_ignores_origin_and_watch_flag() {
        let mut a = rule(vec![], Syscalls::All);
        let mut b = a.clone();
        a.is_watch = true;
        b.origin.line = 7;
        assert_eq!(KernelRule::from_rule(&a), KernelRule::from_rule(&b));
        assert!(KernelRule::from_rule(&a).all_syscalls());
    }
}
