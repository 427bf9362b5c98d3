//! Records -> events, as ausearch 3.0.9 groups and orders them:
//!
//! - Records with the same identity (time, serial, node) form one event, however interleaved.
//! - An event is complete when its first record is of a type that stands alone (below SYSCALL,
//!   1700 and above), when a new event starts at least the end-of-event timeout (2 s, counted
//!   in whole seconds) after it, or at the end of the last input.
//! - Events leave in time order (seconds, milliseconds, serial): the oldest pending event
//!   leaves once it is complete, and holds back newer complete ones until then.
//!
//! Memory is bounded: at most [`Grouper::max_pending`] events wait; past that the oldest is
//! completed early (ausearch would keep growing), so a huge log never grows memory.

use std::collections::{BTreeMap, HashMap};

use vigil_format::Identity;

use super::record::{Ev, Rec};

/// Identity of an open event.
type Key = (u64, u16, u64, Option<String>);
/// Output order: time, serial, then arrival.
type Order = (u64, u16, u64, u64);

fn key(id: &Identity) -> Key {
    (id.sec, id.msec, id.serial, id.node.clone())
}

/// Whether an event whose first record has type `t` is complete at once (ausearch's
/// `check_events`: anything below SYSCALL or from 1700 on).
fn stands_alone(t: u32) -> bool {
    !(1300..1700).contains(&t)
}

struct Pending {
    ev: Ev,
    complete: bool,
}

/// Groups records into events.
pub struct Grouper {
    events: BTreeMap<Order, Pending>,
    /// Open (building) events: identity -> place.
    open: HashMap<Key, Order>,
    seq: u64,
    /// Seconds after which an open event is complete (auditd's `end_of_event_timeout`).
    pub eoe_timeout: u64,
    /// Most events kept waiting at once.
    pub max_pending: usize,
    /// Events completed early because too many were waiting.
    pub forced: u64,
}

impl Default for Grouper {
    fn default() -> Grouper {
        Grouper::new(2, 16_384)
    }
}

impl Grouper {
    pub fn new(eoe_timeout: u64, max_pending: usize) -> Grouper {
        Grouper {
            events: BTreeMap::new(),
            open: HashMap::new(),
            seq: 0,
            eoe_timeout,
            max_pending: max_pending.max(1),
            forced: 0,
        }
    }

    /// Adds a record.
    pub fn add(&mut self, id: Identity, rec: Rec) {
        let k = key(&id);
        if let Some(o) = self.open.get(&k) {
            if let Some(p) = self.events.get_mut(o) {
                p.ev.recs.push(rec);
                return;
            }
        }
        let sec = id.sec;
        let complete = stands_alone(rec.rtype);
        let o = self.order(&id);
        if !complete {
            self.open.insert(k, o);
        }
        let ev = Ev {
            id,
            recs: vec![rec],
            json: None,
        };
        self.events.insert(o, Pending { ev, complete });
        self.check(sec);
    }

    /// Adds an event that arrived whole (a JSON line): complete at once.
    pub fn add_event(&mut self, ev: Ev) {
        let sec = ev.id.sec;
        let o = self.order(&ev.id);
        self.events.insert(o, Pending { ev, complete: true });
        self.check(sec);
    }

    fn order(&mut self, id: &Identity) -> Order {
        self.seq += 1;
        (id.sec, id.msec, id.serial, self.seq)
    }

    /// ausearch's `check_events` after a new event at `sec`: open events at least the
    /// timeout older (in whole seconds) are complete.
    fn check(&mut self, sec: u64) {
        for (o, p) in &mut self.events {
            if o.0.saturating_add(self.eoe_timeout) > sec {
                break;
            }
            if !p.complete {
                p.complete = true;
                self.open.remove(&key(&p.ev.id));
            }
        }
        if self.events.len() > self.max_pending {
            if let Some(mut head) = self.events.first_entry() {
                let p = head.get_mut();
                if !p.complete {
                    p.complete = true;
                    self.forced += 1;
                    self.open.remove(&key(&p.ev.id));
                }
            }
        }
    }

    /// Every open event is complete (end of the last input).
    pub fn finish(&mut self) {
        for p in self.events.values_mut() {
            p.complete = true;
        }
        self.open.clear();
    }

    /// The oldest event, once it is complete.
    pub fn pop(&mut self) -> Option<Ev> {
        let head = self.events.first_entry()?;
        if !head.get().complete {
            return None;
        }
        Some(head.remove().ev)
    }

    /// Events not yet handed out.
    pub fn pending(&self) -> usize {
        self.events.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(t: &str, sec: u64, ms: u16, serial: u64) -> (Identity, Rec) {
        Rec::from_line(format!("type={t} msg=audit({sec}.{ms:03}:{serial}): x=1").into_bytes())
            .unwrap()
    }

    fn feed(g: &mut Grouper, recs: &[(&str, u64, u16, u64)]) -> Vec<u64> {
        let mut out = Vec::new();
        for &(t, sec, ms, serial) in recs {
            let (id, r) = line(t, sec, ms, serial);
            g.add(id, r);
            out.extend(std::iter::from_fn(|| g.pop()).map(|e| e.id.serial));
        }
        out
    }

    fn drain(g: &mut Grouper) -> Vec<u64> {
        std::iter::from_fn(|| g.pop())
            .map(|e| e.id.serial)
            .collect()
    }

    #[test]
    fn interleaved_records_group_and_complete_on_time() {
        let mut g = Grouper::default();
        let out = feed(
            &mut g,
            &[
                ("SYSCALL", 10, 0, 1),
                ("SYSCALL", 10, 0, 2),
                ("PATH", 10, 0, 1),
                ("PATH", 10, 0, 2),
            ],
        );
        assert!(out.is_empty(), "syscall events wait for the timeout");
        assert!(feed(&mut g, &[("SYSCALL", 11, 999, 3)]).is_empty());
        assert_eq!(feed(&mut g, &[("SYSCALL", 12, 0, 4)]), vec![1, 2]);
        g.finish();
        assert_eq!(drain(&mut g), vec![3, 4]);
    }

    /// The order ausearch 3.0.9 prints for this sequence (checked against it).
    #[test]
    fn events_leave_in_time_order_behind_the_oldest() {
        let mut g = Grouper::default();
        let out = feed(
            &mut g,
            &[
                ("SYSCALL", 10, 1, 1),
                ("USER", 10, 5, 3),
                ("USER", 10, 3, 2),
                ("USER", 10, 3, 1),
                ("USER", 10, 0, 9),
                ("SYSCALL", 10, 0, 8),
                ("USER", 19, 0, 10),
                ("USER", 10, 0, 7),
            ],
        );
        assert_eq!(out, vec![9, 8, 1, 1, 2, 3, 10, 7]);
    }

    #[test]
    fn waiting_events_are_bounded() {
        let mut g = Grouper::new(2, 3);
        let recs: Vec<(&str, u64, u16, u64)> = (0..10).map(|s| ("SYSCALL", 5, 0, s)).collect();
        let out = feed(&mut g, &recs);
        assert!(g.pending() <= 3);
        assert_eq!(g.forced, 7);
        assert_eq!(out, (0..7).collect::<Vec<_>>());
    }
}
