//! An event's verdict: what BPF decided (`rulesets`, the `RULES` item) for the rule sets it
//! judged, and `CompiledSet::evaluate` for the ones it left `undecided`. The result is the
//! [`Decision`] the reference evaluator gives, so a consumer never judges an event BPF
//! decided a second time, and cannot judge it differently.

use vigil_rules::ast::FilterList;
use vigil_rules::compile::layout::{CompiledSet, TableKind, NONE};
use vigil_rules::input::EventInput;
use vigil_rules::reference::{Decision, Reason, Verdict};

use crate::convert::to_event_input;
use crate::decode::SyscallEvent;

/// How an event was judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Judged {
    /// Rule sets BPF decided.
    pub in_bpf: u64,
    /// Rule sets judged in user space (BPF left them undecided, or its answer did not fit
    /// the compiled set, which is counted in `inconsistent`).
    pub in_user_space: u64,
    /// Rule sets whose BPF answer named no rule of theirs (a bug or a stale set): judged
    /// again in user space.
    pub inconsistent: u64,
}

fn all_sets(n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// The verdict BPF gave rule set `rs`, or `None` when it does not fit `set`.
fn bpf_verdict(ev: &SyscallEvent, set: &CompiledSet, rs: usize, hidden: u64) -> Option<Verdict> {
    let record = ev.rulesets >> rs & 1 != 0;
    let Some(&(_, id)) = ev.matches.iter().find(|(r, _)| *r as usize == rs) else {
        // No rule decided: the exit list's default (not recorded).
        return (!record).then_some(Verdict {
            hidden,
            ..Verdict::default()
        });
    };
    let r = set.rules.get(id as usize)?;
    if r.ruleset as usize != rs || (r.action == 2) != record {
        return None;
    }
    let key = (r.key != NONE).then_some(r.index).or_else(|| {
        // A keyless inode-phase rule keeps the exit list's rule's keys.
        let (_, first) = ev.key_matches.iter().find(|(r, _)| *r as usize == rs)?;
        let f = set.rules.get(*first as usize)?;
        (f.ruleset as usize == rs && f.key != NONE).then_some(f.index)
    });
    Some(if r.list == FilterList::Task.kernel_number() {
        Verdict {
            record,
            reason: Reason::Task,
            rule: Some(r.index),
            key_rule: if record { key } else { None },
            hidden: 0,
        }
    } else {
        Verdict {
            record,
            reason: Reason::Rule,
            rule: Some(r.index),
            key_rule: key,
            hidden,
        }
    })
}

/// Judges `ev` (judged in BPF with `set`, the compiled set of `ev.generation`) into `out`.
pub fn decide_into(ev: &SyscallEvent, set: &CompiledSet, out: &mut Decision) -> Judged {
    let n = set.rulesets.len().min(64);
    let all = all_sets(n);
    let mut undecided = ev.undecided & all;
    let fs_rules = set.table(TableKind::Fs).rules != 0;
    let mut input: Option<EventInput> = None;
    // Objects a `filesystem` rule hides are left out of the records BPF's verdicts keep.
    let mut hidden = [0u64; 64];
    if fs_rules && undecided != all {
        let mut probe = to_event_input(ev);
        probe.list = Some(FilterList::Filesystem);
        let d = set.evaluate(&probe);
        for (h, v) in hidden.iter_mut().zip(&d.verdicts) {
            *h = v.hidden;
        }
        probe.list = Some(FilterList::Exit);
        input = Some(probe);
    }
    let mut verdicts = [Verdict::default(); 64];
    let mut inconsistent = 0u64;
    for (rs, v) in verdicts.iter_mut().enumerate().take(n) {
        if undecided >> rs & 1 != 0 {
            continue;
        }
        match bpf_verdict(ev, set, rs, hidden[rs]) {
            Some(x) => *v = x,
            None => inconsistent |= 1 << rs,
        }
    }
    undecided |= inconsistent;
    if undecided != 0 {
        let input = input.get_or_insert_with(|| to_event_input(ev));
        set.evaluate_into(input, out);
    } else {
        out.reset(n);
    }
    for (rs, v) in verdicts.iter().enumerate().take(n) {
        if undecided >> rs & 1 == 0 {
            out.verdicts[rs] = *v;
        }
    }
    out.finish();
    Judged {
        in_bpf: all & !undecided,
        in_user_space: undecided,
        inconsistent,
    }
}

/// [`decide_into`] into a new [`Decision`].
pub fn decide(ev: &SyscallEvent, set: &CompiledSet) -> (Decision, Judged) {
    let mut d = Decision::default();
    let j = decide_into(ev, set, &mut d);
    (d, j)
}

#[cfg(test)]
mod tests;
