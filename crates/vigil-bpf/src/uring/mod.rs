//! io_uring auditing and policy (issue 5; `docs/io_uring.md`, `docs/design/io_uring.md`).
//!
//! The io_uring programs (`bpf/progs/uring*.c`) run in their own instance of vigil's BPF
//! object, with their own ring buffer, generation and counters, so that loading, swapping and
//! attaching them never touches the syscall side ([`crate::Loader`]):
//!
//! - [`UringLoader`]: loads the instance, applies what to audit ([`UringConfig`]: an opcode
//!   bitmap from the io_uring list of the compiled rule index, the interim tgid/uid filter) and
//!   the deny rules ([`policy::CompiledPolicy`]), attaches the tracepoints (only while
//!   something is audited or denied) and the cgroup or LSM hooks of the policy.
//! - [`UringReader`]: the ring buffer; SUBMIT and COMPLETE records are joined per op
//!   ([`join`]) into [`UringEvent`]s, denials come as [`Denial`]s.
//! - [`UringService`]: the above as a daemon uses it (rules and policy in, raw events and
//!   denials out).
//! - [`convert`]: [`UringEvent`] to [`vigil_format::RawEvent`] (URINGOP + PATH/CWD/SOCKADDR)
//!   and to the rule evaluator's input; [`Denial`] to a `VIGIL_POLICY` audit event.

pub mod convert;
pub mod counters;
pub mod decode;
pub mod join;
pub mod loader;
pub mod ops;
pub mod policy;
pub mod reader;
pub mod service;

pub use counters::UringCounters;
pub use decode::{CompleteRec, PolicyRec, SubmitRec, UringRecord};
pub use join::{Denial, JoinStats, NoCompletion, UringEvent, UringOutput};
pub use loader::{UringConfig, UringLoader, UringOptions};
pub use policy::{CompiledPolicy, PolicyMode};
pub use reader::UringReader;
pub use service::UringService;
