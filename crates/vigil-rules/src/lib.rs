//! The auditctl rule language and vigil's compiled rule index.
//!
//! - [`ast`]: the rule model every other part of vigil shares (a parsed rules file becomes a
//!   [`ast::RuleSet`]).
//! - [`input`]: what an evaluator sees of one event (task identity, syscall, objects).
//! - [`tables`]: syscall, io_uring, field, errno, arch, record type tables (one table, used
//!   everywhere).
//! - Parsing: [`parse_file`], [`parse_str`] (rules files), [`parse_argv`] and
//!   [`Loader::apply_argv`] (one auditctl command line), [`Loader`] (several files onto one
//!   rule set), [`RuleSetBuilder`] (applying [`Command`]s as a daemon does).
//! - Printing: [`list_rules`] prints a rule set exactly as `auditctl -l` does.
//!
//! Pure code: no root, no kernel, no clang.

pub mod apply;
pub mod ast;
pub mod check;
mod cnum;
pub mod compile;
pub mod cost;
pub mod errors;
mod fields;
pub mod host;
pub mod input;
pub mod kernel;
pub mod lexer;
pub mod load;
mod opts;
pub mod parse;
pub mod policy;
pub mod print;
pub mod reference;
mod syscalls;
pub mod tables;
mod validate;

pub use apply::RuleSetBuilder;
pub use errors::{Diagnostic, Errors, Location, Problem, Severity};
pub use host::{FakeHost, Host, PathKind, SystemHost};
pub use load::{parse_argv, parse_file, parse_str, FileReport, Loader, RuleFile};
pub use parse::{Command, LineOutcome, Setting};
pub use print::{format_rule, list_rules, Printer};
