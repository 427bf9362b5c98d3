//! The compiled rule index: several rule sets in one plain data structure whose evaluation
//! costs O(1) in the number of rules for syscalls (and io_uring opcodes) no rule names, and
//! is bounded by the few candidate rules otherwise.
//!
//! - [`compile`] builds a [`CompiledSet`]; [`CompiledSet::evaluate`] judges an event and must
//!   give exactly what [`crate::reference::evaluate`] gives (decision, deciding rule, key).
//! - [`layout`] is the data the BPF loader turns into maps; `docs/design/rule-index.md`
//!   describes it and the BPF evaluation algorithm.
//!
//! How rules without `-S` are kept from defeating the index: each rule is placed in exactly one
//! candidate source of its list's table: the per-syscall list of every syscall it can match
//! (rules with `-S` or a `perm=` class), one hash bucket keyed by one of its `=` conditions
//! (`uid=1001`, `auid=1000`, `exe=/usr/bin/sudo`, ... and for busy syscalls `(field, value,
//! syscall)`), or, when it has neither, the residual list every event of that list walks. An
//! event gathers its syscall list, the buckets of its own field values (one lookup per
//! non-empty index field) and the residual, and walks their union in rule order.

pub mod classes;
mod eval;
pub mod hash;
pub mod layout;
pub mod lower;
pub mod place;

pub use layout::CompiledSet;

use crate::ast::RuleSet;

/// Why a rule set cannot be compiled (a bound of the fixed-size form is exceeded).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    #[error("{count} rule sets given; at most {max} can be judged in one pass")]
    TooManyRulesets { count: usize, max: usize },
    #[error("{count} rules in all; at most {max} fit the compiled form")]
    TooManyRules { count: usize, max: usize },
    #[error("{at}: the rule has {count} conditions; the kernel allows at most {max}")]
    TooManyFields {
        at: String,
        count: usize,
        max: usize,
    },
    #[error("{at}: a string operand is {len} bytes; at most {max} (PATH_MAX)")]
    StringTooLong { at: String, len: usize, max: usize },
    #[error("{at}: the keys are {len} bytes joined; at most {max}")]
    KeyTooLong { at: String, len: usize, max: usize },
    #[error("rules name {count} arches with arch=; at most {max}")]
    TooManyArches { count: usize, max: usize },
    #[error(
        "{what} holds {len} rules; at most {max}: give those rules -S or an = field \
         (uid=, auid=, exe=, ...) so the index can choose them"
    )]
    ListTooLong {
        what: String,
        len: usize,
        max: usize,
    },
}

/// Tuning of the placement (results never depend on it, only costs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileOptions {
    /// A per-syscall list longer than this moves its rules that have an `=` field into the
    /// (field, value, syscall) index.
    pub crowded_list: usize,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            crowded_list: place::CROWDED,
        }
    }
}

/// Compile rule sets (one per tenant, at most [`layout::MAX_RULESETS`]) into one index.
pub fn compile(sets: &[RuleSet]) -> Result<CompiledSet, CompileError> {
    place::build(sets, &CompileOptions::default())
}

/// [`compile`] with explicit [`CompileOptions`].
pub fn compile_with(sets: &[RuleSet], opts: &CompileOptions) -> Result<CompiledSet, CompileError> {
    place::build(sets, opts)
}

#[cfg(test)]
mod tests;
