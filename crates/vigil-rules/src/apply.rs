//! Applying commands to a rule set, with the kernel's semantics: `-a` appends and refuses an
//! identical rule ("Rule exists"), `-A` prepends (the kernel does not look for duplicates then:
//! it compares the new rule's prepend flag), `-d`/`-W` remove the identical rule, `-D` removes
//! all rules or those whose key contains a text, and nothing changes after `-e 2`.

use std::collections::HashMap;

use crate::ast::{Origin, RuleSet};
use crate::errors::Problem;
use crate::kernel::KernelRule;
use crate::parse::{Command, Setting};

fn origin_text(o: &Origin) -> String {
    format!("{}:{}", o.file, o.line)
}

/// A rule set being built or maintained, with an index for duplicate checks.
#[derive(Debug, Clone, Default)]
pub struct RuleSetBuilder {
    set: RuleSet,
    /// Kernel form -> how many rules in the set have it.
    index: HashMap<KernelRule, u32>,
}

impl RuleSetBuilder {
    /// An empty rule set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Continues from an existing rule set.
    pub fn from_ruleset(set: RuleSet) -> Self {
        let mut index = HashMap::new();
        for r in &set.rules {
            *index.entry(KernelRule::from_rule(r)).or_insert(0) += 1;
        }
        RuleSetBuilder { set, index }
    }

    /// The rule set so far.
    pub fn ruleset(&self) -> &RuleSet {
        &self.set
    }

    /// The rule set.
    pub fn into_ruleset(self) -> RuleSet {
        self.set
    }

    /// Whether `-e 2` has made the configuration immutable.
    pub fn is_immutable(&self) -> bool {
        self.set.settings.enabled == Some(2)
    }

    fn forget(&mut self, k: &KernelRule) {
        if let Some(n) = self.index.get_mut(k) {
            *n -= 1;
            if *n == 0 {
                self.index.remove(k);
            }
        }
    }

    /// Applies one command. `Ok(Some(warning))` when it was applied but deserves a note;
    /// `Err` when the kernel would refuse it (the set is then unchanged).
    /// [`Problem::Immutable`] carries an empty location; callers that know where `-e 2` was
    /// given can fill it in.
    pub fn apply(&mut self, cmd: &Command) -> Result<Option<Problem>, Problem> {
        let immutable = self.is_immutable();
        let locked = || Problem::Immutable(String::new());
        match cmd {
            Command::IgnoreErrors | Command::ContinueOnError => Ok(None),
            _ if immutable => Err(locked()),
            Command::Add { rule, prepend } => {
                let k = KernelRule::from_rule(rule);
                let existing = self.index.contains_key(&k).then(|| {
                    self.set
                        .rules
                        .iter()
                        .find(|r| r.list == rule.list && KernelRule::from_rule(r) == k)
                        .map(|r| origin_text(&r.origin))
                        .unwrap_or_default()
                });
                *self.index.entry(k).or_insert(0) += 1;
                if *prepend {
                    self.set.rules.insert(0, rule.clone());
                    Ok(existing.map(Problem::DuplicatePrepend))
                } else if let Some(prev) = existing {
                    let k = KernelRule::from_rule(rule);
                    self.forget(&k);
                    Err(Problem::RuleExists(prev))
                } else {
                    self.set.rules.push(rule.clone());
                    Ok(None)
                }
            }
            Command::Delete { rule } => {
                let k = KernelRule::from_rule(rule);
                if !self.index.contains_key(&k) {
                    return Err(Problem::NoRuleMatches);
                }
                let pos = self
                    .set
                    .rules
                    .iter()
                    .position(|r| r.list == rule.list && KernelRule::from_rule(r) == k)
                    .ok_or(Problem::NoRuleMatches)?;
                self.set.rules.remove(pos);
                self.forget(&k);
                Ok(None)
            }
            Command::DeleteAll { key } => {
                let rules = std::mem::take(&mut self.set.rules);
                for r in rules {
                    let k = KernelRule::from_rule(&r);
                    // auditctl's key_match: a substring of the joined key; no key deletes all.
                    let doomed = match key {
                        None => true,
                        Some(text) => k.key().is_some_and(|rk| rk.contains(text.as_str())),
                    };
                    if doomed {
                        self.forget(&k);
                    } else {
                        self.set.rules.push(r);
                    }
                }
                Ok(None)
            }
            Command::Set(s) => {
                let st = &mut self.set.settings;
                match *s {
                    Setting::Enabled(v) => st.enabled = Some(v),
                    Setting::Failure(v) => st.failure = Some(v),
                    Setting::BacklogLimit(v) => st.backlog_limit = Some(v),
                    Setting::RateLimit(v) => st.rate_limit = Some(v),
                    Setting::BacklogWaitTime(v) => st.backlog_wait_time = Some(v),
                    Setting::LoginuidImmutable => st.loginuid_immutable = true,
                }
                Ok(None)
            }
        }
    }
}

impl RuleSet {
    /// Applies one command to this set (see [`RuleSetBuilder::apply`]). For many commands in a
    /// row, a [`RuleSetBuilder`] avoids rebuilding the duplicate index each time.
    pub fn apply(&mut self, cmd: &Command) -> Result<Option<Problem>, Problem> {
        let mut b = RuleSetBuilder::from_ruleset(std::mem::take(self));
        let r = b.apply(cmd);
        *self = b.into_ruleset();
        r
    }
}
