//! Filter + build: which rule sets want an event, with which keys, and the records each gets.
//!
//! One [`CompiledSet`] judges an event for every rule set at once ([`RuleFilter::select`]).
//! Each wanting set gets a [`Selection`]; [`RuleFilter::build`] turns the raw event into the
//! audit records that set writes: the deciding rule's keys, minus the objects its `filesystem`
//! rules hide and the record types its `exclude` rules drop (the kernel applies both before
//! anything is logged).

use std::sync::Arc;

use vigil_format::raw::{Bytes, RawEvent};
use vigil_format::{build_event, Event, Identity};
use vigil_rules::ast::{FilterList, RuleSet};
use vigil_rules::compile::{compile_with, CompileError, CompileOptions, CompiledSet};
use vigil_rules::input::EventInput;
use vigil_rules::reference::Decision;

/// What one rule set gets of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Index of the rule set (as given to [`RuleFilter::new`]).
    pub set: usize,
    /// Keys of the rule that decided (empty: `key=(null)`).
    pub keys: Vec<Bytes>,
    /// Bit i: `paths[i]` is hidden by a `filesystem` rule of this set (not recorded).
    pub hidden: u64,
}

/// Several rule sets compiled into one index, judged together. Clones share the compiled
/// set (each keeps its own evaluation scratch).
#[derive(Debug, Clone)]
pub struct RuleFilter {
    sets: Arc<Vec<RuleSet>>,
    compiled: Arc<CompiledSet>,
    /// Per set: whether it has `exclude` rules (else no per-record check is needed).
    has_exclude: Vec<bool>,
    any_exclude: bool,
    decision: Decision,
}

impl RuleFilter {
    /// Compiles `sets` (one per tenant; the first is the host's).
    pub fn new(sets: Vec<RuleSet>) -> Result<RuleFilter, CompileError> {
        RuleFilter::with_options(sets, &CompileOptions::default())
    }

    /// [`RuleFilter::new`] with explicit placement options (the BPF side walks index buckets
    /// cheaper than long lists: see [`crate::daemon`]'s BPF source).
    pub fn with_options(
        sets: Vec<RuleSet>,
        opts: &CompileOptions,
    ) -> Result<RuleFilter, CompileError> {
        let compiled = compile_with(&sets, opts)?;
        let has_exclude: Vec<bool> = sets
            .iter()
            .map(|s| s.list(FilterList::Exclude).next().is_some())
            .collect();
        Ok(RuleFilter {
            any_exclude: has_exclude.iter().any(|&b| b),
            has_exclude,
            sets: Arc::new(sets),
            compiled: Arc::new(compiled),
            decision: Decision::default(),
        })
    }

    /// The rule sets, in the order given.
    pub fn sets(&self) -> &[RuleSet] {
        &self.sets
    }

    /// The compiled form of [`Self::sets`] (what a BPF source loads into the kernel).
    pub fn compiled(&self) -> &Arc<CompiledSet> {
        &self.compiled
    }

    /// The rule sets that record `raw` (`input` is [`super::event_input`] of it), in set order.
    pub fn select(&mut self, input: &EventInput) -> Vec<Selection> {
        self.compiled.evaluate_into(input, &mut self.decision);
        self.selections(&self.decision)
    }

    /// The selections of a decision reached elsewhere (by BPF and [`vigil_bpf::verdict`]) on
    /// this filter's compiled set.
    pub fn selections(&self, d: &Decision) -> Vec<Selection> {
        (0..self.sets.len())
            .filter(|&i| d.wants(i))
            .map(|i| Selection {
                set: i,
                keys: d
                    .keys(&self.sets, i)
                    .iter()
                    .map(|k| Bytes(k.as_bytes().to_vec()))
                    .collect(),
                hidden: d.verdicts.get(i).map_or(0, |v| v.hidden),
            })
            .collect()
    }

    /// The records set `sel.set` writes for `raw`, under identity `id`.
    pub fn build(
        &self,
        raw: &RawEvent,
        input: &EventInput,
        id: Identity,
        sel: &Selection,
    ) -> Event {
        let mut ev = if sel.hidden == 0 {
            build_event(raw, id, &sel.keys)
        } else {
            let mut shown = raw.clone();
            shown.paths = raw
                .paths
                .iter()
                .enumerate()
                .filter(|(i, _)| *i >= 64 || sel.hidden & (1 << i) == 0)
                .map(|(_, p)| p.clone())
                .collect();
            build_event(&shown, id, &sel.keys)
        };
        if self.has_exclude.get(sel.set).copied().unwrap_or(false) {
            self.drop_excluded(input, sel.set, &mut ev);
        }
        ev
    }

    /// Whether any rule set has `exclude` rules.
    pub fn has_exclude_rules(&self) -> bool {
        self.any_exclude
    }

    /// Removes the records whose type the set's `exclude` list drops for this task (also
    /// applied to records relayed from kernel audit).
    pub fn drop_excluded(&self, input: &EventInput, set: usize, ev: &mut Event) {
        let mut types: Vec<u32> = ev.records.iter().map(|r| r.rtype.0).collect();
        types.sort_unstable();
        types.dedup();
        let mut probe = input.clone();
        probe.list = Some(FilterList::Exclude);
        let mut d = Decision::default();
        let mut dropped = Vec::new();
        for t in types {
            probe.msgtype = t;
            self.compiled.evaluate_into(&probe, &mut d);
            if !d.wants(set) {
                dropped.push(t);
            }
        }
        if !dropped.is_empty() {
            ev.records.retain(|r| !dropped.contains(&r.rtype.0));
        }
    }
}

/// Event identities: the event's own time and a serial counter (the kernel's
/// `audit_serial`), shared by every rule set so one event has one identity everywhere.
#[derive(Debug, Clone)]
pub struct Serials {
    next: u64,
}

impl Serials {
    /// Serials start at `first` (the kernel starts at 1 after boot).
    pub fn new(first: u64) -> Serials {
        Serials { next: first }
    }

    /// The identity of an event that happened at `ts_ns` (realtime nanoseconds).
    pub fn identity(&mut self, ts_ns: u64) -> Identity {
        let serial = self.next;
        self.next = self.next.wrapping_add(1);
        Identity::from_ns(ts_ns, serial)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::event_input;
    use vigil_format::raw::{RawKind, RawPath, RawTask};

    fn sets(texts: &[&str]) -> Vec<RuleSet> {
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                vigil_rules::parse_str(t, &format!("set{i}.rules"))
                    .unwrap_or_else(|e| panic!("{e:?}"))
                    .rules
            })
            .collect()
    }

    fn openat(uid: u32, name: &str) -> RawEvent {
        RawEvent {
            ts_ns: 1_700_000_000_123_456_789,
            kind: RawKind::Syscall,
            arch: 0xc000_003e,
            nr: 257,
            exit: 3,
            task: RawTask {
                pid: 42,
                uid,
                ..RawTask::default()
            },
            paths: vec![RawPath {
                name: Some(Bytes::from(name)),
                inode: Some(5),
                ..RawPath::default()
            }],
            ..RawEvent::default()
        }
    }

    #[test]
    fn each_set_gets_its_own_key() {
        let mut f = RuleFilter::new(sets(&[
            "-a always,exit -F arch=b64 -S openat -F uid=1000 -k host\n",
            "-a always,exit -F arch=b64 -S openat -k tenant\n",
            "-a always,exit -F arch=b64 -S read -k other\n",
        ]))
        .unwrap();
        let raw = openat(1000, "/etc/passwd");
        let input = event_input(&raw);
        let sel = f.select(&input);
        assert_eq!(sel.iter().map(|s| s.set).collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!(sel[0].keys, vec![Bytes::from("host")]);
        assert_eq!(sel[1].keys, vec![Bytes::from("tenant")]);
        let mut serials = Serials::new(7);
        let id = serials.identity(raw.ts_ns);
        assert_eq!((id.sec, id.msec, id.serial), (1_700_000_000, 123, 7));
        let ev = f.build(&raw, &input, id, &sel[1]);
        assert_eq!(ev.keys(), vec![&b"tenant"[..]]);
        let raw = openat(0, "/etc/passwd");
        let sel = f.select(&event_input(&raw));
        assert_eq!(sel.iter().map(|s| s.set).collect::<Vec<_>>(), vec![1]);
    }

    #[test]
    fn exclude_rules_drop_record_types() {
        let mut f = RuleFilter::new(sets(&[
            "-a always,exit -F arch=b64 -S openat -k k\n-a always,exclude -F msgtype=PATH\n",
        ]))
        .unwrap();
        assert!(f.has_exclude_rules());
        let raw = openat(1, "/x");
        let input = event_input(&raw);
        let sel = f.select(&input);
        assert_eq!(sel.len(), 1);
        let ev = f.build(&raw, &input, Identity::new(1, 0, 1), &sel[0]);
        let types: Vec<u32> = ev.records.iter().map(|r| r.rtype.0).collect();
        assert_eq!(types, vec![1300]);
    }
}
