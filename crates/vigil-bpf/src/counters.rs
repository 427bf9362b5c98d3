//! The BPF side's per-CPU counters, summed.

use std::fmt;

use vigil_abi::{Counter, Percpu};

/// Sum over CPUs of `vigil_percpu.counters` (index = [`Counter`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    pub values: [u64; vigil_abi::VIGIL_NR_COUNTERS as usize],
    /// Events numbered so far (sum of the per-CPU sequences).
    pub events: u64,
}

impl Counters {
    pub(crate) fn add(&mut self, p: &Percpu) {
        for (a, b) in self.values.iter_mut().zip(p.counters.iter()) {
            *a = a.wrapping_add(*b);
        }
        self.events = self.events.wrapping_add(p.seq);
    }

    pub fn get(&self, c: Counter) -> u64 {
        self.values.get(c as usize).copied().unwrap_or(0)
    }

    /// Records lost in the kernel (ring buffer full), SYSCALL and argv chunks.
    pub fn lost(&self) -> u64 {
        self.get(Counter::DropRingbuf) + self.get(Counter::DropArgv)
    }

    /// `self - earlier`, per counter (for a test's or an interval's own share).
    #[must_use]
    pub fn since(&self, earlier: &Counters) -> Counters {
        let mut d = *self;
        for (a, b) in d.values.iter_mut().zip(earlier.values.iter()) {
            *a = a.wrapping_sub(*b);
        }
        d.events = d.events.wrapping_sub(earlier.events);
        d
    }
}

impl fmt::Display for Counters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for c in Counter::ALL {
            let name = c
                .c_name()
                .trim_start_matches("VIGIL_CNT_")
                .to_ascii_lowercase();
            write!(f, "{}{name}={}", if first { "" } else { " " }, self.get(*c))?;
            first = false;
        }
        Ok(())
    }
}
