//! The auditctl rule language and vigil's compiled rule index.
//!
//! - [`ast`]: the rule model every other part of vigil shares (a parsed rules file becomes a
//!   [`ast::RuleSet`]).
//! - [`input`]: what an evaluator sees of one event (task identity, syscall, objects).
//! - [`tables`]: syscall, io_uring, field, errno, arch, record type tables (one table, used
//!   everywhere).
//!
//! Pure code: no root, no kernel, no clang.

pub mod ast;
pub mod input;
pub mod tables;
