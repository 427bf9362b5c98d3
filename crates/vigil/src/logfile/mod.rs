//! The audit log writer: a thread fed by a bounded queue, writing whole events to a log file
//! that it rotates, flushes and watches for disk space as auditd does. Nothing here dies on a
//! full disk: every event that cannot be written is counted per cause and reported in-band
//! (`VIGIL_LOSS` records) once writing works again.

pub mod file;
pub mod stats;
mod writer;

pub use file::{check_dir, disk_space, group_gid, numbered, FileOptions, LogError, LogFile};
pub use stats::{now_ns, LossCause, Shared, Stamper, WriterStatus};
pub use writer::{loss_record, Submitter, WriterConfig, WriterHandle};
