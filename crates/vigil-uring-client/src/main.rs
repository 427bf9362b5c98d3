//! vigil-uring-client: real io_uring workloads for vigil's tests.
//!
//! Every step prints one JSON object per line on stdout (`event`: `ring`, `op`, `cqe`,
//! `listening`, `shared`, `summary`), each with the printing thread's `pid`, `tid`, `uid`,
//! `euid`, `gid`, `egid`; `op` lines add `op` (lower-case `IORING_OP_` name), `opcode`,
//! `user_data` (pid << 32 | sequence), `res`, `errno`, `mode`, `ring_fd` and the op's
//! paths or address. Exit status 0 when every op gave the expected result, 1 otherwise.

mod handoff;
mod ops;
mod out;
mod personality;
mod ring;
mod single;
mod sock;

use std::ffi::CString;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "vigil-uring-client",
    version,
    about = "Drives real io_uring workloads; one JSON line per op"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// MKDIRAT, OPENAT, WRITE, FSYNC, READ, CLOSE, STATX, RENAMEAT, UNLINKAT, SOCKET,
    /// CONNECT, SEND, RECV in one issuing mode.
    Ops(ops::OpsArgs),
    /// Create a ring, register our credentials as a personality, pass the ring to one
    /// client over a unix socket, wait until it is done.
    PersonalityServer(personality::ServerArgs),
    /// Take the server's ring, drop privileges, submit ops with and without the personality.
    PersonalityClient(personality::ClientArgs),
    /// `MSG_RING` from one ring to another.
    MsgRing(single::MsgRingArgs),
    /// Create an SQPOLL ring and exit.
    SqpollOnly(single::SqpollArgs),
    /// One CONNECT through io_uring; reports the result whatever it is.
    Connect(single::ConnectArgs),
}

/// A path as a C string for an SQE.
pub(crate) fn cpath(p: &Path) -> Result<CString> {
    CString::new(p.as_os_str().as_encoded_bytes())
        .with_context(|| format!("{}: path contains a NUL byte", p.display()))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.cmd {
        Cmd::Ops(a) => ops::run(a),
        Cmd::PersonalityServer(a) => personality::serve(a),
        Cmd::PersonalityClient(a) => personality::client(a),
        Cmd::MsgRing(a) => single::msg_ring(a),
        Cmd::SqpollOnly(a) => single::sqpoll_only(a),
        Cmd::Connect(a) => single::connect(a),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            out::Line::new("error")
                .with("error", format!("{e:#}"))
                .print();
            eprintln!("vigil-uring-client: {e:#}");
            ExitCode::FAILURE
        }
    }
}
