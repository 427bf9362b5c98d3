//! The kernel source as the daemon sees it: the syscall source (`BpfSource`) and the io_uring
//! side ([`UringSource`]) behind one [`EventSource`], so a rule change, a `vigil ctl -m` sync,
//! status and loss reports cover both. Each side reads in its own thread (`run` here is the
//! syscall side's; the daemon starts the io_uring reader with [`KernelSources::uring`]).

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use super::source::{Delivery, EventSource};
use super::uring::{UringPolicy, UringSource};
use crate::pipeline::RuleFilter;

pub struct KernelSources {
    main: Arc<dyn EventSource>,
    uring: Arc<UringSource>,
    /// The rules both sides run with (to put the syscall side back when the io_uring side
    /// refuses a change).
    current: Mutex<Option<RuleFilter>>,
}

impl KernelSources {
    pub fn new(main: Arc<dyn EventSource>, uring: Arc<UringSource>) -> KernelSources {
        KernelSources {
            main,
            uring,
            current: Mutex::new(None),
        }
    }

    pub fn uring(&self) -> &Arc<UringSource> {
        &self.uring
    }
}

impl EventSource for KernelSources {
    fn describe(&self) -> String {
        self.main.describe()
    }

    fn hook_mode(&self) -> String {
        self.main.hook_mode()
    }

    /// Both sides or neither: the io_uring instance is loaded first if the new rules need it
    /// (the step most likely to fail), then the syscall side swaps, then the io_uring side; if
    /// that last step fails the syscall side gets the previous rules back.
    fn rules_changed(&self, filter: &RuleFilter) -> Result<(), String> {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        self.uring.prepare(filter)?;
        self.main.rules_changed(filter)?;
        if let Err(e) = self.uring.rules_changed(filter) {
            if let Some(prev) = current.as_ref() {
                if let Err(back) = self.main.rules_changed(prev) {
                    log::error!("putting the previous syscall rules back failed: {back}");
                }
            }
            return Err(e);
        }
        *current = Some(filter.clone());
        Ok(())
    }

    fn policy_changed(&self, policy: Option<&UringPolicy>) -> Result<Vec<String>, String> {
        self.uring.policy_changed(policy)
    }

    fn run(&self, deliver: &mut dyn FnMut(Delivery), stop: &AtomicBool) -> Result<(), String> {
        self.main.run(deliver, stop)
    }

    fn sync(&self, deadline: Instant) {
        self.main.sync(deadline);
        self.uring.sync(deadline);
    }

    fn lost(&self) -> BTreeMap<String, u64> {
        let mut m = self.main.lost();
        m.extend(self.uring.losses().0);
        m
    }

    fn degraded(&self) -> BTreeMap<String, u64> {
        let mut m = self.main.degraded();
        m.extend(self.uring.losses().1);
        m
    }

    fn stats(&self) -> BTreeMap<String, u64> {
        let mut m = self.main.stats();
        m.extend(self.uring.stats());
        m
    }

    fn info(&self) -> BTreeMap<String, String> {
        let mut m = self.main.info();
        m.extend(self.uring.info());
        m
    }
}
