//! The kernel event source: vigil-bpf's `sys_exit` program and ring buffer.
//!
//! Interim wiring (until the BPF side evaluates the compiled rule index itself): a rule
//! change compiles the rule set, and the exit table's per-arch syscall bitmaps (the syscalls
//! some exit rule can match: `-S` lists and `perm=` classes) become the loader's filter, so the
//! kernel rejects every other syscall in O(1) and nothing is attached while no rule needs a
//! hook (or auditing is off, `-e 0`). Events that pass are judged exactly in user space by the
//! daemon's rule filter. The daemon's own process is excluded in the kernel.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use vigil_abi::{Counter, VIGIL_AUDIT_ARCH_I386, VIGIL_AUDIT_ARCH_X86_64};
use vigil_bpf::convert::{to_raw, Clock};
use vigil_bpf::{EventReader, FilterSet, LoadOptions, Loader};
use vigil_format::RawEvent;
use vigil_rules::ast::RuleSet;
use vigil_rules::compile::compile;
use vigil_rules::compile::layout::{TableKind, NONE, SYSCALL_BITS};

use super::source::EventSource;

/// How long the reader waits for the ring buffer before looking at `stop` and sync requests.
const POLL: Duration = Duration::from_millis(50);

pub struct BpfSource {
    loader: Mutex<Loader>,
    reader: Mutex<Option<EventReader>>,
    decode_errors: AtomicU64,
    /// Sync requests made / served (a pass over the ring buffer after the request).
    sync_asked: AtomicU64,
    sync_done: AtomicU64,
    running: AtomicBool,
}

/// The syscalls (per arch) some exit rule of `rules` can match; empty when auditing is off.
pub fn filter_for(rules: &RuleSet) -> Result<FilterSet, String> {
    let mut f = FilterSet {
        rulesets: 1,
        ..FilterSet::default()
    };
    if rules.settings.enabled == Some(0) {
        return Ok(f);
    }
    let compiled = compile(std::slice::from_ref(rules)).map_err(|e| e.to_string())?;
    for slot in &compiled.table(TableKind::Exit).slots {
        // Rules without arch= hold for every arch by number, as in the kernel.
        let arches: &[u32] = match slot.arch {
            NONE => &[VIGIL_AUDIT_ARCH_X86_64, VIGIL_AUDIT_ARCH_I386],
            VIGIL_AUDIT_ARCH_X86_64 => &[VIGIL_AUDIT_ARCH_X86_64],
            VIGIL_AUDIT_ARCH_I386 => &[VIGIL_AUDIT_ARCH_I386],
            // Another machine's rules never match on this one.
            _ => &[],
        };
        for nr in slot
            .bitmap
            .iter()
            .filter(|&nr| (nr as usize) < SYSCALL_BITS)
        {
            for &a in arches {
                f.add(a, nr);
            }
        }
    }
    Ok(f)
}

impl BpfSource {
    /// Loads and verifies the programs (nothing attached yet) and excludes this process.
    pub fn load() -> Result<BpfSource, String> {
        let mut loader = Loader::load(&LoadOptions {
            exclude_self: true,
            ..LoadOptions::default()
        })
        .map_err(|e| e.to_string())?;
        let reader = loader
            .take_reader()
            .map_err(|e| e.to_string())?
            .ok_or("the ring buffer reader is already taken")?;
        Ok(BpfSource {
            loader: Mutex::new(loader),
            reader: Mutex::new(Some(reader)),
            decode_errors: AtomicU64::new(0),
            sync_asked: AtomicU64::new(0),
            sync_done: AtomicU64::new(0),
            running: AtomicBool::new(false),
        })
    }

    fn loader(&self) -> std::sync::MutexGuard<'_, Loader> {
        self.loader
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl EventSource for BpfSource {
    fn describe(&self) -> String {
        "bpf".into()
    }

    fn hook_mode(&self) -> String {
        let l = self.loader();
        if l.is_attached() {
            let n: usize = l
                .filter()
                .syscalls
                .values()
                .map(std::collections::BTreeSet::len)
                .sum();
            format!("{:?} sys_exit ({n} syscalls)", l.hook())
        } else {
            "none (no rule needs a hook)".into()
        }
    }

    fn rules_changed(&self, rules: &RuleSet) -> Result<(), String> {
        let f = filter_for(rules)?;
        self.loader()
            .apply(&f)
            .map_err(|e| format!("BPF filter: {e}"))
    }

    fn run(&self, deliver: &mut dyn FnMut(RawEvent), stop: &AtomicBool) -> Result<(), String> {
        let mut reader = self
            .reader
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
            .ok_or("the BPF source runs only once")?;
        self.running.store(true, Ordering::Release);
        let mut clock = Clock::now();
        let mut since_clock = 0u32;
        while !stop.load(Ordering::Relaxed) {
            let asked = self.sync_asked.load(Ordering::Acquire);
            if let Err(e) = reader.wait(Some(POLL)) {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    self.running.store(false, Ordering::Release);
                    return Err(format!("ring buffer: {e}"));
                }
            }
            // The TAI -> realtime offset moves with clock adjustments: refresh it now and then.
            since_clock += 1;
            if since_clock >= 20 {
                clock = Clock::now();
                since_clock = 0;
            }
            reader.drain(|ev| deliver(to_raw(&ev, &clock)));
            let st = reader.stats();
            self.decode_errors.store(st.errors, Ordering::Relaxed);
            self.sync_done.store(asked, Ordering::Release);
        }
        self.running.store(false, Ordering::Release);
        Ok(())
    }

    fn sync(&self) {
        if !self.running.load(Ordering::Acquire) {
            return;
        }
        let want = self.sync_asked.fetch_add(1, Ordering::AcqRel) + 1;
        let t0 = std::time::Instant::now();
        while self.sync_done.load(Ordering::Acquire) < want
            && t0.elapsed() < Duration::from_secs(2)
            && self.running.load(Ordering::Acquire)
        {
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn lost(&self) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::from([(
            "decode_errors".to_string(),
            self.decode_errors.load(Ordering::Relaxed),
        )]);
        match self.loader().counters() {
            Ok(c) => {
                m.insert("ringbuf".into(), c.get(Counter::DropRingbuf));
                m.insert("ringbuf_argv".into(), c.get(Counter::DropArgv));
            }
            Err(e) => log::warn!("BPF counters: {e}"),
        }
        m
    }
}
