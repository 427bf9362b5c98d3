//! The small modes: `msg-ring`, `sqpoll-only`, `connect`.

use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use anyhow::{Context, Result};
use io_uring::{opcode, types};

use crate::out::Line;
use crate::ring::{op_line, Mode, Ring};
use crate::sock::SockAddr;

/// The result `MSG_RING` asks the kernel to post on the target ring.
const MSG_RESULT: i32 = 0x5eed;

#[derive(Debug, clap::Args)]
pub struct MsgRingArgs {
    /// Issuing mode of the source ring (the one the `MSG_RING` SQE is submitted on).
    #[arg(long, value_enum, default_value = "plain")]
    mode: Mode,
}

#[derive(Debug, clap::Args)]
pub struct SqpollArgs {
    /// Submit one NOP on the ring after creating it.
    #[arg(long)]
    nop: bool,
    /// Stay alive this long after the last step (lets a test look at the SQPOLL thread,
    /// or see that the process was killed before it got this far).
    #[arg(long, default_value_t = 0)]
    hold_ms: u64,
}

#[derive(Debug, clap::Args)]
pub struct ConnectArgs {
    /// Address to connect to.
    #[arg(long)]
    addr: SocketAddr,
    /// Issuing mode.
    #[arg(long, value_enum, default_value = "plain")]
    mode: Mode,
}

/// `MSG_RING` from a source ring to a target ring of the same process; true when the op
/// succeeded and the target saw exactly the posted completion.
pub fn msg_ring(args: &MsgRingArgs) -> Result<bool> {
    let mut source = Ring::new(args.mode, 8)?;
    let mut target = Ring::new(Mode::Plain, 8)?;
    source.describe("source").print();
    target.describe("target").print();
    let target_ud = target.next_user_data();
    let e = opcode::MsgRingData::new(types::Fd(target.fd()), MSG_RESULT, target_ud, None).build();
    // SAFETY: MSG_RING carries no buffers.
    let c = unsafe { source.run(e, None) }?;
    let sent = c.res == 0;
    op_line(&source, "msg_ring", opcode::MsgRingData::CODE, c)
        .with("target_ring_fd", target.fd())
        .with("target_user_data", target_ud)
        .with("target_res", MSG_RESULT)
        .with("ok", sent)
        .print();
    let got = if sent {
        let cqe = target.wait_one()?;
        let ok = cqe.user_data == target_ud && cqe.res == MSG_RESULT;
        Line::new("cqe")
            .with("role", "target")
            .with("ring_fd", target.fd())
            .with("user_data", cqe.user_data)
            .with("cqe_flags", cqe.flags)
            .with("ok", ok)
            .result(cqe.res)
            .print();
        ok
    } else {
        false
    };
    let ok = sent && got;
    Line::new("summary").with("ok", ok).print();
    Ok(ok)
}

/// Creates an SQPOLL ring (and optionally runs a NOP on it).
pub fn sqpoll_only(args: &SqpollArgs) -> Result<bool> {
    let mut ring = Ring::new(Mode::Sqpoll, 4)?;
    ring.describe("sqpoll").print();
    let mut ok = ring.is_sqpoll();
    if args.nop {
        // SAFETY: NOP carries no buffers.
        let c = unsafe { ring.run(opcode::Nop::new().build(), None) }?;
        ok &= c.res == 0;
        op_line(&ring, "nop", opcode::Nop::CODE, c)
            .with("ok", c.res == 0)
            .print();
    }
    std::thread::sleep(Duration::from_millis(args.hold_ms));
    Line::new("summary").with("ok", ok).print();
    Ok(ok)
}

/// One CONNECT through io_uring on a socket made with socket(2), so CONNECT is the only
/// op. Its result is reported, not judged: policy tests expect EPERM here.
pub fn connect(args: &ConnectArgs) -> Result<bool> {
    let mut ring = Ring::new(args.mode, 4)?;
    ring.describe("connect").print();
    let domain = if args.addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: plain syscall; the result is checked and owned below.
    let raw = unsafe { libc::socket(domain, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(std::io::Error::last_os_error()).context("socket(2)");
    }
    // SAFETY: raw is a fresh fd we own.
    let sock = unsafe { OwnedFd::from_raw_fd(raw) };
    let addr = SockAddr::from(args.addr);
    let e = opcode::Connect::new(types::Fd(sock.as_raw_fd()), addr.as_ptr(), addr.len()).build();
    // SAFETY: addr lives until run returns.
    let c = unsafe { ring.run(e, None) }?;
    op_line(&ring, "connect", opcode::Connect::CODE, c)
        .with("fd", sock.as_raw_fd())
        .with("addr", args.addr.to_string())
        .with("ok", c.res == 0)
        .print();
    Line::new("summary").with("ok", true).print();
    Ok(true)
}
