//! What is attached while a round measures: nothing, a bare hook (the floor of any BPF
//! design), or vigil's hook with a filter that does or does not name the measured syscalls.

use vigil_abi::VIGIL_AUDIT_ARCH_X86_64;
use vigil_bpf::bare::BareHook;
use vigil_bpf::{FilterSet, Hook, LoadOptions, Loader};

use super::ops::Op;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Nothing attached.
    None,
    /// A `raw_tp` `sys_exit` program that returns at once.
    BareRaw,
    /// A `tp_btf` `sys_exit` program that returns at once.
    BareBtf,
    /// vigil (`raw_tp`) with rules naming only syscalls the benchmark never makes.
    VigilOther,
    /// vigil (`raw_tp`) with rules naming the measured syscalls but never matching this task.
    VigilNamed,
    /// As `VigilNamed` with the `tp_btf` hook.
    VigilNamedBtf,
}

/// Syscalls the benchmark never makes (the "rules that name other syscalls" case).
const OTHER: &[&str] = &[
    "chmod", "fchmod", "chown", "unlink", "rename", "mkdir", "rmdir", "execve", "connect", "kill",
];

impl Scenario {
    pub const ALL: [Scenario; 6] = [
        Scenario::None,
        Scenario::BareRaw,
        Scenario::BareBtf,
        Scenario::VigilOther,
        Scenario::VigilNamed,
        Scenario::VigilNamedBtf,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::None => "none",
            Scenario::BareRaw => "bare-raw",
            Scenario::BareBtf => "bare-btf",
            Scenario::VigilOther => "vigil-other",
            Scenario::VigilNamed => "vigil-named",
            Scenario::VigilNamedBtf => "vigil-named-btf",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Scenario::None => "nothing attached",
            Scenario::BareRaw => "bare raw_tp sys_exit, returns at once",
            Scenario::BareBtf => "bare tp_btf sys_exit, returns at once",
            Scenario::VigilOther => "vigil raw_tp, rules name 10 other syscalls (bitmap reject)",
            Scenario::VigilNamed => "vigil raw_tp, rules name the measured syscalls, never match",
            Scenario::VigilNamedBtf => {
                "vigil tp_btf, rules name the measured syscalls, never match"
            }
        }
    }

    pub fn parse(s: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|x| x.name() == s)
    }

    /// Attaches what the scenario needs; dropping the guard detaches it.
    pub fn setup(self, ops: &[Op]) -> super::Res<Guard> {
        let vigil = |hook, names: Vec<&str>| -> super::Res<Guard> {
            let mut l = Loader::load(&LoadOptions {
                hook,
                exclude_self: false,
                ..LoadOptions::default()
            })
            .map_err(|e| format!("loading vigil's BPF object: {e}"))?;
            // pid 1 never runs the benchmark: candidates are judged and dropped.
            let mut f = FilterSet {
                tgid: Some(1),
                rulesets: 1,
                ..FilterSet::default()
            };
            for n in names {
                f.add_name(VIGIL_AUDIT_ARCH_X86_64, n)
                    .map_err(|e| e.to_string())?;
            }
            l.apply(&f).map_err(|e| e.to_string())?;
            if !l.is_attached() {
                return Err("vigil hook not attached".into());
            }
            Ok(Guard::Vigil(Box::new(l)))
        };
        let named = || {
            ops.iter()
                .flat_map(|o| o.syscalls().iter().copied())
                .collect()
        };
        Ok(match self {
            Scenario::None => Guard::Nothing,
            Scenario::BareRaw => {
                Guard::Bare(BareHook::attach(Hook::RawTp).map_err(|e| e.to_string())?)
            }
            Scenario::BareBtf => {
                Guard::Bare(BareHook::attach(Hook::TpBtf).map_err(|e| e.to_string())?)
            }
            Scenario::VigilOther => vigil(Hook::RawTp, OTHER.to_vec())?,
            Scenario::VigilNamed => vigil(Hook::RawTp, named())?,
            Scenario::VigilNamedBtf => vigil(Hook::TpBtf, named())?,
        })
    }
}

/// Keeps a scenario's hooks attached (held only for its drop).
pub enum Guard {
    Nothing,
    Bare(#[allow(dead_code)] BareHook),
    Vigil(#[allow(dead_code)] Box<Loader>),
}
