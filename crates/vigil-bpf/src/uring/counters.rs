//! The io_uring programs' per-CPU counters, summed.

use std::fmt;

use vigil_abi::{Counter, UringCounter, UringPercpu, VIGIL_URING_NR_COUNTERS};

use crate::counters::Counters;

/// Sum over CPUs of `vigil_uring_percpu` (index = [`UringCounter`]), plus the item-level
/// counters the shared item helpers keep in the instance's `vigil_percpu`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UringCounters {
    pub values: [u64; VIGIL_URING_NR_COUNTERS as usize],
    /// Records numbered so far (sum of the per-CPU sequences).
    pub events: u64,
    pub items: Counters,
}

impl UringCounters {
    pub(crate) fn add(&mut self, p: &UringPercpu) {
        for (a, b) in self.values.iter_mut().zip(p.counters.iter()) {
            *a = a.wrapping_add(*b);
        }
        self.events = self.events.wrapping_add(p.seq);
    }

    pub fn get(&self, c: UringCounter) -> u64 {
        self.values.get(c as usize).copied().unwrap_or(0)
    }

    /// Records lost in the kernel (ring buffer full): submits, completions, denials.
    pub fn lost(&self) -> u64 {
        self.get(UringCounter::DropSubmit)
            + self.get(UringCounter::DropComplete)
            + self.get(UringCounter::DropPolicy)
    }

    /// Items left out or cut (record too big, strings and walks truncated, read faults).
    pub fn items_cut(&self) -> u64 {
        self.items.get(Counter::DropTooBig)
            + self.items.get(Counter::TruncString)
            + self.items.get(Counter::TruncPath)
            + self.items.get(Counter::ReadFault)
    }

    /// `self - earlier`, per counter.
    #[must_use]
    pub fn since(&self, earlier: &UringCounters) -> UringCounters {
        let mut d = *self;
        for (a, b) in d.values.iter_mut().zip(earlier.values.iter()) {
            *a = a.wrapping_sub(*b);
        }
        d.events = d.events.wrapping_sub(earlier.events);
        d.items = self.items.since(&earlier.items);
        d
    }
}

impl fmt::Display for UringCounters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in UringCounter::ALL.iter().enumerate() {
            let name = c
                .c_name()
                .trim_start_matches("VIGIL_UCNT_")
                .to_ascii_lowercase();
            write!(
                f,
                "{}{name}={}",
                if i == 0 { "" } else { " " },
                self.get(*c)
            )?;
        }
        write!(f, " items_cut={}", self.items_cut())
    }
}
