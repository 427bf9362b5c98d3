//! The control path: `vigil ctl` (client), the daemon's socket (server), the wire protocol
//! (docs/ctl.md) and peer identification.

pub mod client;
pub mod peer;
pub mod proto;
pub mod server;
