//! The daemon's shared state and everything that changes it: control requests, signals,
//! reloads. One mutex serialises changes; events flow without it (the source thread keeps
//! its own copy of the rule filter and refreshes it when the generation moves).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock};

use vigil_format::{Event, Identity};
use vigil_rules::ast::RuleSet;
use vigil_rules::compile::CompileOptions;
use vigil_rules::input::EventInput;

use super::kaudit_relay::RelayCounters;
use super::records::Records;
use super::rules::{parse_rules, Change, Refusal, RuleState, DEFAULT_RULES, DEFAULT_RULES_NAME};
use super::source::{Delivery, EventSource};
use super::status::Status;
use super::uring::{configured_policy, UringPolicy};
use crate::config::{Config, Overrides};
use crate::ctl::peer::Peer;
use crate::ctl::proto::{Op, Request, Response};
use crate::logfile::{loss_record, Stamper, Submitter, WriterConfig, WriterHandle};
use crate::pipeline::{event_input, RuleFilter};

/// auditctl's message when the configuration is locked.
pub const IMMUTABLE_MSG: &str = "The audit system is in immutable mode, no rule changes allowed";

struct Inner {
    rules: RuleState,
    config: Config,
    config_path: Option<PathBuf>,
    overrides: Overrides,
    writer: Option<WriterHandle>,
    /// The io_uring policy in force (`[io_uring] policy`).
    policy: Option<UringPolicy>,
}

/// The daemon as control requests and signals see it.
pub struct Daemon {
    inner: Mutex<Inner>,
    stamper: Arc<Stamper>,
    sub: Submitter,
    source: Arc<dyn EventSource>,
    enabled: AtomicU32,
    filter: RwLock<RuleFilter>,
    generation: AtomicU64,
    seen: AtomicU64,
    matched: AtomicU64,
    /// The source's loss counters as last reported in-band.
    source_reported: Mutex<BTreeMap<String, u64>>,
    /// The kernel audit relay's counters, when it runs.
    relay: OnceLock<Arc<RelayCounters>>,
}

/// Compiles the daemon's rule set. Rules with an `=` field go to index buckets whenever a
/// per-syscall list holds more than one rule: the BPF side looks a bucket up for the cost of
/// one rule program, and walks a list rule by rule (results are the same either way).
pub fn compile_filter(rules: &RuleSet) -> Result<RuleFilter, String> {
    RuleFilter::with_options(vec![rules.clone()], &CompileOptions { crowded_list: 1 })
        .map_err(|e| e.to_string())
}

/// Loads the rules the configuration names (or the embedded default set).
pub fn load_rules(cfg: &Config) -> Result<RuleSet, Vec<String>> {
    let (set, warnings) = match &cfg.daemon.rules {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| vec![format!("{}: cannot read the rules: {e}", p.display())])?;
            parse_rules(&text, &p.display().to_string())?
        }
        None => parse_rules(DEFAULT_RULES, DEFAULT_RULES_NAME)?,
    };
    for w in warnings {
        log::warn!("{w}");
    }
    Ok(set)
}

impl Daemon {
    pub fn new(
        config: Config,
        config_path: Option<PathBuf>,
        overrides: Overrides,
        rules: RuleState,
        writer: WriterHandle,
        stamper: Arc<Stamper>,
        source: Arc<dyn EventSource>,
    ) -> Result<Daemon, String> {
        let filter = compile_filter(rules.ruleset())?;
        source.rules_changed(&filter)?;
        let policy = configured_policy(&config).map_err(|e| e.join("\n"))?;
        for w in source.policy_changed(policy.as_ref())? {
            log::warn!("{w}");
        }
        let d = Daemon {
            sub: writer.submitter(),
            enabled: AtomicU32::new(rules.settings().enabled),
            inner: Mutex::new(Inner {
                rules,
                config,
                config_path,
                overrides,
                writer: Some(writer),
                policy,
            }),
            stamper,
            source,
            filter: RwLock::new(filter),
            generation: AtomicU64::new(0),
            seen: AtomicU64::new(0),
            matched: AtomicU64::new(0),
            source_reported: Mutex::new(BTreeMap::new()),
            relay: OnceLock::new(),
        };
        d.push_settings(&d.lock());
        Ok(d)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock must not take the daemon's control path with it.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn records(&self) -> Records<'_> {
        Records {
            stamper: &self.stamper,
        }
    }

    pub fn source(&self) -> &Arc<dyn EventSource> {
        &self.source
    }

    /// Writes one of vigil's own events (never dropped for a full queue).
    pub fn write(&self, ev: Event) {
        self.sub.submit_wait(ev);
    }

    /// Makes the kernel audit relay's counters part of the status and the loss reports.
    pub fn set_relay(&self, counters: Arc<RelayCounters>) {
        let _ = self.relay.set(counters);
    }

    /// Queues an event relayed from kernel audit (as the source's events: counted when the
    /// queue is full), minus the record types this daemon's `exclude` rules drop for its
    /// sender. False when nothing was queued.
    pub fn relay(&self, mut ev: Event, input: &EventInput) -> bool {
        if self.enabled.load(Ordering::Relaxed) == 0 {
            return false;
        }
        {
            let f = self
                .filter
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if f.has_exclude_rules() {
                f.drop_excluded(input, 0, &mut ev);
            }
        }
        !ev.records.is_empty() && self.sub.submit(ev)
    }

    /// Writes a `VIGIL_LOSS` record for each of the source's loss counters that grew since
    /// the last report (the writer reports its own causes itself).
    pub fn report_source_losses(&self) {
        let mut now = self.source.lost();
        now.extend(self.source.degraded());
        if let Some(r) = self.relay.get() {
            now.extend(r.lost());
        }
        let mut seen = self
            .source_reported
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (name, &total) in &now {
            let before = seen.get(name).copied().unwrap_or(0);
            if total > before {
                self.write(Event {
                    id: self.stamper.now(),
                    records: vec![loss_record(name, total - before, total)],
                });
                seen.insert(name.clone(), total);
            }
        }
    }

    /// Waits until everything queued so far is written.
    pub fn sync(&self) {
        self.sub.barrier();
    }

    /// The sink the source thread feeds: filter with the current rules (unless the source
    /// judged the event already), build, queue.
    pub fn sink(self: &Arc<Self>) -> impl FnMut(Delivery) + Send + 'static {
        let me = Arc::clone(self);
        let mut generation = u64::MAX;
        let mut filter: Option<RuleFilter> = None;
        move |Delivery { raw, judged }: Delivery| {
            me.seen.fetch_add(1, Ordering::Relaxed);
            if me.enabled.load(Ordering::Relaxed) == 0 {
                return;
            }
            let g = me.generation.load(Ordering::Acquire);
            if g != generation || filter.is_none() {
                let current = me
                    .filter
                    .read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                filter = Some(current.clone());
                generation = g;
            }
            let Some(f) = filter.as_mut() else { return };
            let (input, selections) = if let Some(sel) = judged {
                // Exclude rules (applied when the record is written, as the kernel's
                // audit_log_start) are the only part of building that needs the input.
                let input = if f.has_exclude_rules() {
                    event_input(&raw)
                } else {
                    EventInput::default()
                };
                (input, sel)
            } else {
                let input = event_input(&raw);
                let sel = f.select(&input);
                (input, sel)
            };
            // Set 0 is this daemon's (the host's) rule set.
            let Some(sel) = selections.iter().find(|s| s.set == 0) else {
                return;
            };
            me.matched.fetch_add(1, Ordering::Relaxed);
            let id = Identity::from_ns(raw.ts_ns, me.stamper.next_serial());
            me.sub.submit(f.build(&raw, &input, id, sel));
        }
    }

    /// Makes the rule state's settings and filter live.
    fn push_settings(&self, inner: &Inner) {
        let s = inner.rules.settings();
        self.enabled.store(s.enabled, Ordering::Relaxed);
        let sh = self.sub.shared();
        let q = sh.q_depth.load(Ordering::Relaxed);
        let limit = if s.backlog_limit == 0 {
            q
        } else {
            (s.backlog_limit as usize).min(q)
        };
        sh.backlog_limit.store(limit, Ordering::Relaxed);
        sh.rate_limit
            .store(u64::from(s.rate_limit), Ordering::Relaxed);
    }

    /// Swaps in `next` (the source first: it may refuse), then writes one record per change.
    fn commit(
        &self,
        inner: &mut Inner,
        next: RuleState,
        changes: &[Change],
        who: &Peer,
    ) -> Result<(), String> {
        let filter = compile_filter(next.ruleset())?;
        self.source.rules_changed(&filter)?;
        *self
            .filter
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = filter;
        self.generation.fetch_add(1, Ordering::Release);
        inner.rules = next;
        self.push_settings(inner);
        let rec = self.records();
        let q_depth = self.sub.shared().q_depth.load(Ordering::Relaxed) as u32;
        for c in changes {
            self.write(match c {
                Change::Added(r) => rec.rule_change(who, "add_rule", r, true),
                Change::Removed(r) => rec.rule_change(who, "remove_rule", r, true),
                Change::Set { name, new, old } => {
                    // Backlog 0 means "the whole queue": record the limit in force.
                    let eff = |v: u32| {
                        if *name == "audit_backlog_limit" && v == 0 {
                            q_depth
                        } else {
                            v
                        }
                    };
                    rec.setting_change(who, name, eff(*new), eff(*old), true)
                }
            });
        }
        Ok(())
    }

    /// Audits and words a refused change.
    fn refused(&self, refusal: Refusal, who: &Peer) -> Response {
        match refusal {
            Refusal::Immutable { op } => {
                self.write(self.records().locked_refusal(who, op));
                self.sync();
                Response::error(IMMUTABLE_MSG)
            }
            Refusal::Rejected { op, rule, message } => {
                self.write(self.records().rule_change(who, op, &rule, false));
                self.sync();
                Response::error(message)
            }
            Refusal::Invalid(msgs) => Response {
                messages: msgs,
                ..Response::error("")
            }
            .without_empty(),
        }
    }

    /// Answers one control request from `who`.
    pub fn handle(&self, req: Request, who: &Peer) -> Response {
        match req.op {
            Op::Status {} => {
                let mut r = Response::ok();
                r.status = Some(Box::new(self.status()));
                r
            }
            Op::List { key } => Response {
                output: self.lock().rules.list(key.as_deref()),
                ..Response::ok()
            },
            Op::Rules { argv } => self.change(who, |r| r.apply_argv(&argv)),
            Op::Load { name, text } => self.change(who, |r| r.load_text(&text, &name)),
            Op::Message { text } => {
                // Events captured before the request go first, as the kernel orders them.
                self.source
                    .sync(std::time::Instant::now() + super::sync::MAX_WAIT);
                self.write(self.records().user_message(who, &text));
                self.sync();
                Response::ok()
            }
            Op::Rotate {} => match self.rotate(who) {
                Ok(()) => Response::ok(),
                Err(e) => Response::error(e),
            },
        }
    }

    fn change(
        &self,
        who: &Peer,
        f: impl FnOnce(&mut RuleState) -> Result<(Vec<Change>, Vec<String>), Refusal>,
    ) -> Response {
        let mut inner = self.lock();
        let mut next = inner.rules.clone();
        match f(&mut next) {
            Ok((changes, warnings)) => {
                if let Err(e) = self.commit(&mut inner, next, &changes, who) {
                    drop(inner);
                    return Response::error(e);
                }
                drop(inner);
                self.sync();
                Response {
                    messages: warnings,
                    ..Response::ok()
                }
            }
            Err(refusal) => {
                drop(inner);
                self.refused(refusal, who)
            }
        }
    }

    pub fn status(&self) -> Status {
        let inner = self.lock();
        let s = inner.rules.settings();
        let sh = self.sub.shared();
        let mut source_lost = self.source.lost();
        let mut source_stats = self.source.stats();
        if let Some(r) = self.relay.get() {
            source_lost.extend(r.lost());
            source_stats.extend(r.stats());
        }
        let events_lost = source_lost.values().sum::<u64>();
        source_lost.extend(self.source.degraded());
        let writer = sh.snapshot();
        Status {
            enabled: s.enabled,
            failure: s.failure,
            pid: std::process::id(),
            rate_limit: s.rate_limit,
            backlog_limit: sh.backlog_limit.load(Ordering::Relaxed) as u32,
            lost: sh.total_lost() + events_lost,
            backlog: sh.queued.load(Ordering::Relaxed) as u64,
            backlog_wait_time: s.backlog_wait_time,
            loginuid_immutable: s.loginuid_immutable,
            rules: inner.rules.ruleset().rules.len(),
            source: self.source.describe(),
            hook_mode: self.source.hook_mode(),
            log_file: inner.config.log.file.display().to_string(),
            writer,
            source_lost,
            source_stats,
            source_info: self.source.info(),
            events_seen: self.seen.load(Ordering::Relaxed),
            events_matched: self.matched.load(Ordering::Relaxed),
        }
    }

    /// SIGUSR1 / `vigil ctl --rotate`: rotate, then `DAEMON_ROTATE` opens the new file.
    pub fn rotate(&self, who: &Peer) -> Result<(), String> {
        let ev = self.records().rotate(who);
        let inner = self.lock();
        match &inner.writer {
            Some(w) => w.rotate(Some(ev)),
            None => Err("the writer has stopped".into()),
        }
    }

    /// SIGUSR2: resume a suspended log.
    pub fn resume(&self, who: &Peer) {
        let ev = self.records().resume(who);
        let inner = self.lock();
        if let Some(w) = &inner.writer {
            let _ = w.resume(Some(ev));
        }
    }

    /// SIGHUP: re-read the configuration and the rules; apply both or neither.
    pub fn reload(&self, who: &Peer) {
        let ok = match self.try_reload(who) {
            Ok(()) => {
                log::info!("configuration and rules reloaded");
                true
            }
            Err(errors) => {
                for e in &errors {
                    log::error!("reload refused: {e}");
                }
                log::error!("reload refused: the previous configuration and rules stay in force");
                false
            }
        };
        self.write(self.records().reconfigure(who, ok));
        self.sync();
    }

    fn try_reload(&self, who: &Peer) -> Result<(), Vec<String>> {
        let mut inner = self.lock();
        let cfg = Config::load(inner.config_path.as_deref(), &inner.overrides)
            .map_err(|e| vec![e.to_string()])?;
        let set = load_rules(&cfg)?;
        let wcfg = WriterConfig::from_config(&cfg).map_err(|e| vec![e])?;
        let mut policy = configured_policy(&cfg)?;
        let mut next = inner.rules.clone();
        let changes = match next.replace(set) {
            Ok(c) => Some(c),
            Err(Refusal::Immutable { .. }) => {
                log::warn!("rules are immutable (-e 2): the loaded rules are kept");
                self.write(self.records().locked_refusal(who, "add_rule"));
                None
            }
            Err(Refusal::Invalid(m)) => return Err(m),
            Err(Refusal::Rejected { message, .. }) => return Err(vec![message]),
        };
        if cfg.queue.q_depth != inner.config.queue.q_depth {
            log::warn!("queue.q_depth changes take effect when the daemon restarts");
        }
        if cfg.kernel_audit != inner.config.kernel_audit {
            log::warn!("kernel_audit changes take effect when the daemon restarts");
        }
        if cfg.daemon.socket != inner.config.daemon.socket {
            log::warn!("daemon.socket changes take effect when the daemon restarts");
        }
        if policy != inner.policy && inner.rules.immutable() {
            log::warn!("rules are immutable (-e 2): the io_uring policy in force is kept");
            policy.clone_from(&inner.policy);
        }
        let old_wcfg = WriterConfig::from_config(&inner.config).ok();
        if let Some(w) = &inner.writer {
            w.reconfigure(wcfg).map_err(|e| vec![e])?;
        }
        // Put the writer (and the policy) back so nothing of a refused reload stays.
        let undo = |inner: &Inner, policy_too: bool| {
            if let (Some(w), Some(old)) = (&inner.writer, old_wcfg.clone()) {
                let _ = w.reconfigure(old);
            }
            if policy_too {
                if let Err(e) = self.source.policy_changed(inner.policy.as_ref()) {
                    log::error!("putting the previous io_uring policy back failed: {e}");
                }
            }
        };
        // Re-applied on every reload: `exe=` conditions are resolved again.
        let policy_changes = policy.is_some() || inner.policy.is_some();
        if policy_changes {
            match self.source.policy_changed(policy.as_ref()) {
                Ok(warnings) => warnings.iter().for_each(|w| log::warn!("{w}")),
                Err(e) => {
                    undo(&inner, false);
                    return Err(vec![e]);
                }
            }
        }
        if let Some(changes) = changes {
            if let Err(e) = self.commit(&mut inner, next, &changes, who) {
                undo(&inner, policy_changes);
                return Err(vec![e]);
            }
        }
        inner.config = cfg;
        inner.policy = policy;
        Ok(())
    }

    /// Takes the writer for the final record (`DAEMON_END`/`DAEMON_ABORT`).
    pub fn take_writer(&self) -> Option<WriterHandle> {
        self.lock().writer.take()
    }
}

impl Response {
    /// Drops the empty first message an `error("")` leaves.
    fn without_empty(mut self) -> Response {
        self.messages.retain(|m| !m.is_empty());
        self
    }
}
