//! Printing a rule set exactly as `auditctl -l` (audit 3.0.9) prints what the kernel holds.
//!
//! auditctl prints the kernel's form of each rule, so this does too ([`KernelRule`]): lists in
//! kernel order (user, task, exit, exclude, filesystem, io_uring), fields in the order written
//! with the key last, and auditctl's own habits, which are part of the format:
//! - a rule whose only fields are path/dir, perm and key, on all syscalls, prints as a watch
//!   (`-w PATH -p wa -k KEY`) in field order, even when written with `-a ... -F perm=x -F path=`
//!   (which prints ` -p x-w PATH`);
//! - arch prints as `b64`/`b32`, syscalls by name in the arch of the last arch printed (the
//!   arch carries over from one rule to the next in auditctl's listing);
//! - `auid=unset` prints as `auid=-1`, numbers as signed decimal, a0..a3 as upper-case hex,
//!   `exit` by errno name when negative, `exe` always with `=`.

use std::fmt::Write as _;

use crate::ast::{Field, FilterList, Rule, RuleSet};
use crate::kernel::{KernelField, KernelRule, FIELD_COMPARE, FILTERKEY};
use crate::parse::KEY_SEPARATOR;
use crate::tables::{self, AUDIT_ARCH_64BIT};

/// Printing state auditctl carries from rule to rule (`_audit_elf`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Printer {
    /// Arch of the last `-F arch=` printed (0: none yet, the host's arch is used).
    elf: u32,
    native: u32,
}

/// `auditctl -l` output for `set` ("No rules" when empty).
pub fn list_rules(set: &RuleSet) -> String {
    let mut p = Printer::new(tables::native_arch());
    let mut out = String::new();
    for list in tables::ALL_LISTS {
        for rule in set.list(list) {
            out.push_str(&p.rule(rule));
            out.push('\n');
        }
    }
    if out.is_empty() {
        out.push_str("No rules\n");
    }
    out
}

/// One rule as `auditctl -l` prints it when it is the first rule listed (no newline).
pub fn format_rule(rule: &Rule) -> String {
    Printer::new(tables::native_arch()).rule(rule)
}

impl Printer {
    /// A printer for a host whose arch is `native` (an `AUDIT_ARCH_*`).
    pub fn new(native: u32) -> Self {
        Printer { elf: 0, native }
    }

    /// Prints one rule (no newline), updating the carried arch.
    pub fn rule(&mut self, rule: &Rule) -> String {
        let k = KernelRule::from_rule(rule);
        let watch = is_watch(&k);
        let mut out = String::new();
        if !watch {
            let action = match k.action {
                crate::ast::Action::Always => "always",
                crate::ast::Action::Never => "never",
            };
            let _ = write!(out, "-a {action},{}", tables::list_name(k.list));
            for f in k
                .fields
                .iter()
                .filter(|f| f.field == Field::Arch.kernel_number())
            {
                self.elf = f.value;
                if tables::arch_is_known(f.value) {
                    let bits = if f.value & AUDIT_ARCH_64BIT != 0 {
                        "b64"
                    } else {
                        "b32"
                    };
                    let _ = write!(out, " -F arch{}{bits}", f.op.as_str());
                } else {
                    let _ = write!(out, " -F arch{}0x{:X}", f.op.as_str(), f.value);
                }
            }
            self.syscalls(&k, &mut out);
        }
        for f in &k.fields {
            if f.field != Field::Arch.kernel_number() {
                field(&k, f, watch, &mut out);
            }
        }
        out
    }

    fn syscalls(self, k: &KernelRule, out: &mut String) {
        match k.list {
            FilterList::User | FilterList::Task | FilterList::Exclude | FilterList::Filesystem => {
                return
            }
            FilterList::Exit | FilterList::IoUring => {}
        }
        if k.all_syscalls() {
            out.push_str(" -S all");
            return;
        }
        let arch = if self.elf == 0 { self.native } else { self.elf };
        let table = tables::syscall_table_for_arch(arch);
        for (i, nr) in k.syscalls().enumerate() {
            out.push_str(if i == 0 { " -S " } else { "," });
            let name = if k.list == FilterList::IoUring {
                tables::uring_op_name(nr)
            } else {
                table.and_then(|t| t.name_of(nr))
            };
            match name {
                Some(n) => out.push_str(n),
                None => {
                    let _ = write!(out, "{nr}");
                }
            }
        }
    }
}

/// auditctl's `is_watch`: only path/dir/perm/key fields, a perm among them, and (on lists that
/// take syscalls) every syscall.
fn is_watch(k: &KernelRule) -> bool {
    const WATCH_FIELDS: [u32; 4] = [105, 106, 107, FILTERKEY];
    let only = k.fields.iter().all(|f| WATCH_FIELDS.contains(&f.field));
    let perm = k
        .fields
        .iter()
        .any(|f| f.field == Field::Perm.kernel_number());
    let all = match k.list {
        FilterList::User | FilterList::Task | FilterList::Exclude | FilterList::Filesystem => true,
        FilterList::Exit | FilterList::IoUring => k.all_syscalls(),
    };
    only && perm && all
}

fn field(k: &KernelRule, f: &KernelField, watch: bool, out: &mut String) {
    let (num, value) = k.listed_field(f);
    let op = f.op.as_str();
    let text = f.text.as_deref().unwrap_or("");
    if num == FIELD_COMPARE {
        if let Some((l, r)) = tables::compare_names(value) {
            let _ = write!(out, " -C {l}{op}{r}");
        }
        return;
    }
    let Some(info) = tables::field_by_kernel(num) else {
        let _ = write!(out, " f{num}{op}{}", value as i32);
        return;
    };
    let name = tables::field_info(info.field).name;
    match info.field {
        Field::MsgType => match tables::msgtype_name_auditctl(value) {
            Some(n) => {
                let _ = write!(out, " -F {name}{op}{n}");
            }
            None => {
                let _ = write!(out, " -F {name}{op}{}", value as i32);
            }
        },
        f if f.is_lsm() => {
            let _ = write!(out, " -F {name}{op}{text}");
        }
        Field::Path | Field::Dir if watch => {
            let _ = write!(out, "-w {text}");
        }
        Field::Path => {
            let _ = write!(out, " -F path={text}");
        }
        Field::Dir => {
            let _ = write!(out, " -F dir={text}");
        }
        Field::Exe => {
            let _ = write!(out, " -F exe={text}");
        }
        Field::Key => {
            for part in text.split(KEY_SEPARATOR).filter(|p| !p.is_empty()) {
                if watch {
                    let _ = write!(out, " -k {part}");
                } else {
                    let _ = write!(out, " -F key={part}");
                }
            }
        }
        Field::Perm => {
            let p = tables::perm_string(value);
            if watch {
                let _ = write!(out, " -p {p}");
            } else {
                let _ = write!(out, " -F perm={p}");
            }
        }
        Field::Inode => {
            let _ = write!(out, " -F {name}{op}{value}");
        }
        Field::Arg(_) => {
            let _ = write!(out, " -F {name}{op}0x{value:X}");
        }
        Field::Exit => {
            let signed = value as i32;
            match tables::errno_name(signed.unsigned_abs()) {
                Some(e) if signed < 0 => {
                    let _ = write!(out, " -F {name}{op}-{e}");
                }
                _ => {
                    let _ = write!(out, " -F {name}{op}{signed}");
                }
            }
        }
        Field::FsType => match tables::fstype_name_auditctl(value) {
            Some(n) => {
                let _ = write!(out, " -F {name}{op}{n}");
            }
            None => {
                let _ = write!(out, " -F {name}{op}{}", value as i32);
            }
        },
        Field::ContId | Field::ContIdTree => {
            let _ = write!(out, " -F {name}{op}{}", f.wide);
        }
        _ => {
            let _ = write!(out, " -F {name}{op}{}", value as i32);
        }
    }
}
