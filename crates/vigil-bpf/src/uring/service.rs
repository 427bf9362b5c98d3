//! The io_uring side as a daemon uses it: rules and policy in, raw events and denials out.
//!
//! ```text
//! let mut s = UringService::load(&UringOptions::default())?;
//! s.set_rules(&ruleset)?;                         // on every rule change (and at start)
//! s.set_policy(&policy_text, "io_uring.policy")?;  // deny rules (a policy file)
//! // in the event loop, with the fd (AsFd) polled next to the syscall reader:
//! s.poll(&mut |raw| judge_and_write(raw), &mut |d, keys, origin| write_denial(d, keys, origin));
//! ```
//!
//! Ops come out as [`vigil_format::RawEvent`]s (`RawKind::Uring`) for the daemon's own rule
//! filter and writer, exactly like syscall events; denials as [`Denial`]s with the deciding
//! rule's keys and origin, for [`super::convert::denial_event`] with the daemon's serial.

use std::collections::BTreeMap;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use vigil_format::RawEvent;
use vigil_rules::ast::RuleSet;

use super::convert;
use super::join::{Denial, UringOutput};
use super::loader::{ops_of, UringConfig, UringLoader, UringOptions};
use super::policy::{self, CompiledPolicy};
use super::reader::UringReader;
use crate::convert::Clock;
use crate::error::Result;

/// How often pending entries of `IOSQE_CQE_SKIP_SUCCESS` ops are swept from the kernel map.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

pub struct UringService {
    loader: UringLoader,
    reader: UringReader,
    ops: u64,
    policy: CompiledPolicy,
    clock: Clock,
    last_sweep: Instant,
}

impl UringService {
    pub fn load(opts: &UringOptions) -> Result<UringService> {
        let mut loader = UringLoader::load(opts)?;
        let reader = loader
            .take_reader()?
            .ok_or_else(|| crate::error::Error::Object("io_uring reader taken".into()))?;
        Ok(UringService {
            loader,
            reader,
            ops: 0,
            policy: CompiledPolicy::default(),
            clock: Clock::now(),
            last_sweep: Instant::now(),
        })
    }

    fn apply(&mut self) -> std::result::Result<(), String> {
        self.loader
            .apply(&UringConfig {
                ops: self.ops,
                rulesets: 1,
                policy: self.policy.clone(),
                ..UringConfig::default()
            })
            .map_err(|e| format!("io_uring BPF: {e}"))
    }

    /// The opcodes `rules` can record (none with `-e 0`), made live.
    pub fn set_rules(&mut self, rules: &RuleSet) -> std::result::Result<(), String> {
        self.ops = if rules.settings.enabled == Some(0) {
            0
        } else {
            let c = vigil_rules::compile::compile(std::slice::from_ref(rules))
                .map_err(|e| e.to_string())?;
            ops_of(&c)
        };
        self.apply()
    }

    /// Parses and applies deny rules (`-a deny,io_uring ...` lines); returns the warnings.
    /// A bad policy is refused whole and the live one stays.
    pub fn set_policy(
        &mut self,
        text: &str,
        file: &str,
    ) -> std::result::Result<Vec<String>, String> {
        let (rules, diags) =
            vigil_rules::policy::parse_policy(text, file, &vigil_rules::SystemHost)
                .map_err(|e| e.to_string())?;
        let compiled = policy::compile(&rules, &policy::resolve_exe).map_err(|e| e.to_string())?;
        let mut warnings: Vec<String> = diags.iter().map(ToString::to_string).collect();
        warnings.extend(compiled.warnings.iter().cloned());
        let old = std::mem::replace(&mut self.policy, compiled);
        if let Err(e) = self.apply() {
            self.policy = old;
            return Err(e);
        }
        Ok(warnings)
    }

    /// Reads what is waiting (without blocking): ops as raw events, denials with the deciding
    /// rule's keys and `file:line`. Sweeps stale pending entries now and then.
    pub fn poll(
        &mut self,
        op: &mut dyn FnMut(RawEvent),
        denial: &mut dyn FnMut(&Denial, &[String], &str),
    ) {
        let clock = self.clock;
        let policy = &self.policy;
        self.reader.drain(&mut |o| match o {
            UringOutput::Op(e) => op(convert::to_raw(&e, &clock)),
            UringOutput::Denial(d) => {
                let i = d.rec.deny.rule as usize;
                let keys = policy.keys.get(i).map_or(&[][..], Vec::as_slice);
                let origin = policy.origins.get(i).map_or("", String::as_str);
                denial(&d, keys, origin);
            }
        });
        if self.last_sweep.elapsed() >= SWEEP_EVERY {
            self.loader.sweep_pending(Duration::from_secs(1), None);
            self.clock = Clock::now();
            self.last_sweep = Instant::now();
        }
    }

    /// Waits for records (at most [`super::reader::POLL`]).
    pub fn wait(&mut self, timeout: Duration) -> std::io::Result<bool> {
        self.reader.wait(Some(timeout))
    }

    /// For status: enforcement mode and whether the hooks are attached.
    pub fn describe(&self) -> String {
        format!(
            "io_uring: {} (policy {}: {} deny rules, cgroup hooks {})",
            if self.loader.is_attached() {
                "tracepoints attached"
            } else {
                "nothing attached"
            },
            self.loader.mode().as_str(),
            self.policy.rules.len(),
            if self.loader.cgroup_attached() {
                "on"
            } else {
                "off"
            },
        )
    }

    /// Losses by cause (kernel and reader), for status and in-band loss records.
    pub fn lost(&self) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        if let Ok(c) = self.loader.counters() {
            use vigil_abi::UringCounter as U;
            m.insert("uring_ringbuf".into(), c.lost());
            m.insert("uring_pending_full".into(), c.get(U::PendingFull));
            m.insert("uring_items_cut".into(), c.items_cut());
        }
        let s = self.reader.stats();
        m.insert("uring_decode_errors".into(), s.decode_errors);
        m.insert("uring_orphan_completions".into(), s.join.orphan_completions);
        m.insert("uring_evicted".into(), s.join.evicted);
        m
    }

    pub fn loader(&self) -> &UringLoader {
        &self.loader
    }

    pub fn loader_mut(&mut self) -> &mut UringLoader {
        &mut self.loader
    }
}

impl AsFd for UringService {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.reader.as_fd()
    }
}
