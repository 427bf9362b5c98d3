//! What is attached while a round measures: nothing, a bare hook (the floor of any BPF
//! design), or vigil's hook with the interim filter or with compiled auditctl rules that do
//! or do not name the measured syscalls. Compiled rules are placed as the daemon places them
//! (`crowded_list: 1`) and judged by the loader's default hook unless `--hook` says otherwise.

use std::fmt::Write as _;

use vigil_abi::VIGIL_AUDIT_ARCH_X86_64;
use vigil_bpf::bare::BareHook;
use vigil_bpf::{FilterSet, Hook, LoadOptions, Loader};
use vigil_rules::compile::layout::CompiledSet;
use vigil_rules::compile::{compile_with, CompileOptions};

use super::Res;
use vigil_microbench::Op;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Nothing attached.
    None,
    /// A `raw_tp` `sys_exit` program that returns at once.
    BareRaw,
    /// A `tp_btf` `sys_exit` program that returns at once.
    BareBtf,
    /// vigil (`raw_tp`), interim filter naming only syscalls the benchmark never makes.
    VigilOther,
    /// vigil (`raw_tp`), interim filter naming the measured syscalls but never this task.
    VigilNamed,
    /// As `VigilNamed` with the `tp_btf` hook.
    VigilNamedBtf,
    /// vigil with N compiled rules naming other syscalls (baseline kind (c)).
    RxOther(usize),
    /// vigil with N compiled rules naming the measured syscalls, never matching (kind (d)).
    RxNamed(usize),
    /// As `RxNamed`, placed with the compiler's default `crowded_list` (up to 16 such rules
    /// stay in the syscall's list: each candidate runs their programs).
    RxList(usize),
}

/// Syscalls the benchmark never makes (the "rules that name other syscalls" case).
const OTHER: &[&str] = &[
    "chmod", "fchmod", "chown", "unlink", "rename", "mkdir", "rmdir", "execve", "connect", "kill",
];

impl Scenario {
    pub const DEFAULT: [Scenario; 9] = [
        Scenario::None,
        Scenario::BareRaw,
        Scenario::BareBtf,
        Scenario::VigilOther,
        Scenario::VigilNamed,
        Scenario::RxOther(10),
        Scenario::RxOther(1000),
        Scenario::RxNamed(10),
        Scenario::RxNamed(1000),
    ];

    pub fn name(self) -> String {
        match self {
            Scenario::None => "none".into(),
            Scenario::BareRaw => "bare-raw".into(),
            Scenario::BareBtf => "bare-btf".into(),
            Scenario::VigilOther => "vigil-other".into(),
            Scenario::VigilNamed => "vigil-named".into(),
            Scenario::VigilNamedBtf => "vigil-named-btf".into(),
            Scenario::RxOther(n) => format!("rx-other-{n}"),
            Scenario::RxNamed(n) => format!("rx-named-{n}"),
            Scenario::RxList(n) => format!("rx-list-{n}"),
        }
    }

    pub fn describe(self) -> String {
        match self {
            Scenario::None => "nothing attached".into(),
            Scenario::BareRaw => "bare raw_tp sys_exit, returns at once".into(),
            Scenario::BareBtf => "bare tp_btf sys_exit, returns at once".into(),
            Scenario::VigilOther => "vigil raw_tp, interim filter on 10 other syscalls".into(),
            Scenario::VigilNamed => {
                "vigil raw_tp, interim filter on the measured syscalls, other pid".into()
            }
            Scenario::VigilNamedBtf => "as vigil-named with tp_btf".into(),
            Scenario::RxOther(n) => {
                format!("vigil, {n} compiled rules `-S <other> -F auid>=1000 -F auid!=unset`")
            }
            Scenario::RxNamed(n) => format!(
                "vigil, {n} compiled rules `-S <measured> -F uid=<unused>` (never match), \
                 placed as the daemon places them"
            ),
            Scenario::RxList(n) => {
                format!("vigil, {n} compiled rules as rx-named-{n}, default placement (list walk)")
            }
        }
    }

    pub fn parse(s: &str) -> Option<Scenario> {
        let num = |p: &str| s.strip_prefix(p).and_then(|n| n.parse().ok());
        if let Some(n) = num("rx-other-") {
            return Some(Scenario::RxOther(n));
        }
        if let Some(n) = num("rx-named-") {
            return Some(Scenario::RxNamed(n));
        }
        if let Some(n) = num("rx-list-") {
            return Some(Scenario::RxList(n));
        }
        [
            Scenario::None,
            Scenario::BareRaw,
            Scenario::BareBtf,
            Scenario::VigilOther,
            Scenario::VigilNamed,
            Scenario::VigilNamedBtf,
        ]
        .into_iter()
        .find(|x| x.name() == s)
    }
}

/// The rules text of a compiled-rule scenario.
fn rules_text(sc: Scenario, ops: &[Op]) -> String {
    let named: Vec<&str> = ops
        .iter()
        .flat_map(|o| o.syscalls().iter().copied())
        .collect();
    let mut t = String::new();
    match sc {
        Scenario::RxOther(n) => {
            for i in 0..n {
                let _ = writeln!(
                    t,
                    "-a always,exit -F arch=b64 -S {} -F auid>=1000 -F auid!=unset -k k{i}",
                    OTHER[i % OTHER.len()]
                );
            }
        }
        Scenario::RxNamed(n) | Scenario::RxList(n) => {
            for i in 0..n {
                let _ = writeln!(
                    t,
                    "-a always,exit -F arch=b64 -S {} -F uid={} -k k{i}",
                    named.join(","),
                    54_321 + i
                );
            }
        }
        _ => {}
    }
    t
}

/// Loaders kept across rounds (loading verifies the programs: seconds, not per scenario).
#[derive(Default)]
pub struct Bench {
    /// The hook of the compiled-rule scenarios.
    pub hook: Hook,
    raw: Option<Loader>,
    btf: Option<Loader>,
    sets: Vec<(Scenario, CompiledSet)>,
    bare: Option<BareHook>,
}

fn load(hook: Hook) -> Res<Loader> {
    Loader::load(&LoadOptions {
        hook,
        exclude_self: false,
        ..LoadOptions::default()
    })
    .map_err(|e| format!("loading vigil's BPF object: {e}"))
}

impl Bench {
    fn loader(&mut self, hook: Hook) -> Res<&mut Loader> {
        let slot = if hook == Hook::TpBtf {
            &mut self.btf
        } else {
            &mut self.raw
        };
        if slot.is_none() {
            *slot = Some(load(hook)?);
        }
        slot.as_mut().ok_or_else(|| "loader".to_string())
    }

    fn compiled(&mut self, sc: Scenario, ops: &[Op]) -> Res<CompiledSet> {
        if let Some((_, c)) = self.sets.iter().find(|(s, _)| *s == sc) {
            return Ok(c.clone());
        }
        let file = vigil_rules::parse_str(&rules_text(sc, ops), &sc.name())
            .map_err(|e| format!("{}: {e:?}", sc.name()))?;
        // The daemon's placement (crates/vigil/src/daemon/core.rs), or the compiler's default.
        let opts = match sc {
            Scenario::RxList(_) => CompileOptions::default(),
            _ => CompileOptions { crowded_list: 1 },
        };
        let c = compile_with(&[file.rules], &opts).map_err(|e| e.to_string())?;
        self.sets.push((sc, c.clone()));
        Ok(c)
    }

    /// Attaches what `sc` needs.
    pub fn setup(&mut self, sc: Scenario, ops: &[Op]) -> Res<()> {
        let filter = |names: &[&str]| -> Res<FilterSet> {
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
            Ok(f)
        };
        let named: Vec<&str> = ops
            .iter()
            .flat_map(|o| o.syscalls().iter().copied())
            .collect();
        let err = |e: vigil_bpf::Error| e.to_string();
        match sc {
            Scenario::None => {}
            Scenario::BareRaw => self.bare = Some(BareHook::attach(Hook::RawTp).map_err(err)?),
            Scenario::BareBtf => self.bare = Some(BareHook::attach(Hook::TpBtf).map_err(err)?),
            Scenario::VigilOther => self
                .loader(Hook::RawTp)?
                .apply(&filter(OTHER)?)
                .map_err(err)?,
            Scenario::VigilNamed => self
                .loader(Hook::RawTp)?
                .apply(&filter(&named)?)
                .map_err(err)?,
            Scenario::VigilNamedBtf => {
                self.loader(Hook::TpBtf)?
                    .apply(&filter(&named)?)
                    .map_err(err)?;
            }
            Scenario::RxOther(_) | Scenario::RxNamed(_) | Scenario::RxList(_) => {
                let set = self.compiled(sc, ops)?;
                let hook = self.hook;
                let l = self.loader(hook)?;
                l.apply_rules(&set, false).map_err(err)?;
                if let Some(why) = l.undecided_reason() {
                    return Err(format!("{}: judged in user space: {why}", sc.name()));
                }
            }
        }
        Ok(())
    }

    /// Detaches everything.
    pub fn teardown(&mut self) -> Res<()> {
        self.bare = None;
        for l in [self.raw.as_mut(), self.btf.as_mut()].into_iter().flatten() {
            l.apply(&FilterSet::default()).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}
