//! `ops`: a file and socket workload, one op at a time, in a chosen issuing mode.
//!
//! End state under `DIR/uring-PID/`: `renamed` holds [`PAYLOAD`]; `data` (renamed away)
//! and `scratch` (unlinked) are gone.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use anyhow::{Context, Result};
use io_uring::{opcode, types};
use serde_json::Value;

use crate::cpath;
use crate::out::Line;
use crate::ring::{op_line, Completion, Mode, Ring};
use crate::sock::SockAddr;

/// What the workload writes, reads back and sends.
pub const PAYLOAD: &[u8] = b"vigil io_uring test payload\n";
const PING: &[u8] = b"ping";

#[derive(Debug, clap::Args)]
pub struct OpsArgs {
    /// Issuing mode: inline (plain), the ring's SQPOLL thread, or io-wq (`IOSQE_ASYNC`).
    #[arg(long, value_enum, default_value = "plain")]
    mode: Mode,
    /// Directory to work in; the client creates `DIR/uring-PID/` below it.
    #[arg(long)]
    dir: PathBuf,
    /// An echo server (or one that closes at once) to connect to; default: a listener the
    /// client runs itself on an ephemeral 127.0.0.1 port.
    #[arg(long)]
    connect: Option<SocketAddr>,
}

/// Counts the ops whose result was not what the workload expected.
struct Tally {
    ops: u32,
    failed: Vec<String>,
}

impl Tally {
    fn record(&mut self, line: Line, ok: bool) {
        self.ops += 1;
        if !ok {
            let op = line
                .get("op")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_owned();
            self.failed.push(op);
        }
        line.with("ok", ok).print();
    }
}

/// Echoes one connection, then exits (EOF or error).
fn spawn_echo() -> Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding the echo listener")?;
    let addr = listener.local_addr()?;
    let handle = std::thread::spawn(move || {
        if let Ok((mut conn, _)) = listener.accept() {
            let mut buf = [0u8; 512];
            while let Ok(n) = conn.read(&mut buf) {
                if n == 0 || conn.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    });
    Ok((addr, handle))
}

pub fn run(args: &OpsArgs) -> Result<bool> {
    let mut ring = Ring::new(args.mode, 16)?;
    let work = args.dir.join(format!("uring-{}", std::process::id()));
    ring.describe("ops")
        .with("dir", work.display().to_string())
        .print();
    let (peer, echo) = if let Some(addr) = args.connect {
        (addr, None)
    } else {
        let (addr, h) = spawn_echo()?;
        (addr, Some(h))
    };
    let mut t = Tally {
        ops: 0,
        failed: Vec::new(),
    };
    files(&mut ring, &work, &mut t)?;
    socket(&mut ring, peer, &mut t)?;
    if let Some(h) = echo {
        // The echo thread ends when our CLOSE dropped the connection.
        let _ = h.join();
    }
    let ok = t.failed.is_empty();
    Line::new("summary")
        .with("ok", ok)
        .with("ops", t.ops)
        .with("failed", t.failed)
        .print();
    Ok(ok)
}

fn files(ring: &mut Ring, work: &Path, t: &mut Tally) -> Result<()> {
    let cwd = types::Fd(libc::AT_FDCWD);
    let dir_c = cpath(work)?;
    let data = work.join("data");
    let data_c = cpath(&data)?;
    let renamed = work.join("renamed");
    let renamed_c = cpath(&renamed)?;
    let scratch = work.join("scratch");
    let scratch_c = cpath(&scratch)?;
    let show = |p: &Path| p.display().to_string();

    let e = opcode::MkDirAt::new(cwd, dir_c.as_ptr())
        .mode(0o755)
        .build();
    // SAFETY (all `run` calls below): the buffers and strings live on this stack frame
    // until `run` returns with the op's completion.
    let c = unsafe { ring.run(e, None) }?;
    t.record(
        op_line(ring, "mkdirat", opcode::MkDirAt::CODE, c).with("path", show(work)),
        c.res == 0,
    );

    let flags = libc::O_CREAT | libc::O_RDWR | libc::O_TRUNC | libc::O_CLOEXEC;
    let e = opcode::OpenAt::new(cwd, data_c.as_ptr())
        .flags(flags)
        .mode(0o644)
        .build();
    let c = unsafe { ring.run(e, None) }?;
    let fd = c.res;
    t.record(
        op_line(ring, "openat", opcode::OpenAt::CODE, c)
            .with("path", show(&data))
            .with("flags", flags),
        fd >= 0,
    );
    if fd >= 0 {
        rw_cycle(ring, fd, t)?;
    }

    let mut stx = std::mem::MaybeUninit::<libc::statx>::zeroed();
    let e = opcode::Statx::new(cwd, data_c.as_ptr(), stx.as_mut_ptr().cast())
        .mask(libc::STATX_SIZE)
        .build();
    let c = unsafe { ring.run(e, None) }?;
    // SAFETY: zero-initialised plain data; the kernel filled it in when res == 0.
    let size = unsafe { stx.assume_init() }.stx_size;
    t.record(
        op_line(ring, "statx", opcode::Statx::CODE, c)
            .with("path", show(&data))
            .with("size", size),
        c.res == 0 && size == PAYLOAD.len() as u64,
    );

    let e = opcode::RenameAt::new(cwd, data_c.as_ptr(), cwd, renamed_c.as_ptr()).build();
    let c = unsafe { ring.run(e, None) }?;
    t.record(
        op_line(ring, "renameat", opcode::RenameAt::CODE, c)
            .with("path", show(&data))
            .with("path2", show(&renamed)),
        c.res == 0,
    );

    let flags = libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC;
    let e = opcode::OpenAt::new(cwd, scratch_c.as_ptr())
        .flags(flags)
        .mode(0o600)
        .build();
    let c = unsafe { ring.run(e, None) }?;
    let sfd = c.res;
    t.record(
        op_line(ring, "openat", opcode::OpenAt::CODE, c)
            .with("path", show(&scratch))
            .with("flags", flags),
        sfd >= 0,
    );
    if sfd >= 0 {
        close(ring, sfd, t)?;
    }
    let e = opcode::UnlinkAt::new(cwd, scratch_c.as_ptr()).build();
    let c = unsafe { ring.run(e, None) }?;
    t.record(
        op_line(ring, "unlinkat", opcode::UnlinkAt::CODE, c).with("path", show(&scratch)),
        c.res == 0,
    );
    Ok(())
}

/// WRITE, FSYNC, READ (checked against what was written), CLOSE on one file.
fn rw_cycle(ring: &mut Ring, fd: i32, t: &mut Tally) -> Result<()> {
    let len = PAYLOAD.len() as u32;
    let e = opcode::Write::new(types::Fd(fd), PAYLOAD.as_ptr(), len)
        .offset(0)
        .build();
    let c = unsafe { ring.run(e, None) }?;
    t.record(
        op_line(ring, "write", opcode::Write::CODE, c)
            .with("fd", fd)
            .with("len", len),
        c.res == len as i32,
    );

    let e = opcode::Fsync::new(types::Fd(fd)).build();
    let c = unsafe { ring.run(e, None) }?;
    t.record(
        op_line(ring, "fsync", opcode::Fsync::CODE, c).with("fd", fd),
        c.res == 0,
    );

    let mut buf = [0u8; 128];
    let e = opcode::Read::new(types::Fd(fd), buf.as_mut_ptr(), buf.len() as u32)
        .offset(0)
        .build();
    let c: Completion = unsafe { ring.run(e, None) }?;
    let same = usize::try_from(c.res).is_ok_and(|n| &buf[..n] == PAYLOAD);
    t.record(
        op_line(ring, "read", opcode::Read::CODE, c)
            .with("fd", fd)
            .with("len", buf.len())
            .with("data_ok", same),
        same,
    );
    close(ring, fd, t)
}

fn close(ring: &mut Ring, fd: i32, t: &mut Tally) -> Result<()> {
    let e = opcode::Close::new(types::Fd(fd)).build();
    let c = unsafe { ring.run(e, None) }?;
    t.record(
        op_line(ring, "close", opcode::Close::CODE, c).with("fd", fd),
        c.res == 0,
    );
    Ok(())
}

/// SOCKET, CONNECT, SEND, RECV (the echo), CLOSE.
fn socket(ring: &mut Ring, peer: SocketAddr, t: &mut Tally) -> Result<()> {
    let domain = if peer.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    let ty = libc::SOCK_STREAM | libc::SOCK_CLOEXEC;
    let e = opcode::Socket::new(domain, ty, 0).build();
    let c = unsafe { ring.run(e, None) }?;
    let fd = c.res;
    t.record(
        op_line(ring, "socket", opcode::Socket::CODE, c)
            .with("domain", domain)
            .with("type", ty),
        fd >= 0,
    );
    if fd < 0 {
        return Ok(());
    }
    let addr = SockAddr::from(peer);
    let e = opcode::Connect::new(types::Fd(fd), addr.as_ptr(), addr.len()).build();
    let c = unsafe { ring.run(e, None) }?;
    let connected = c.res == 0;
    t.record(
        op_line(ring, "connect", opcode::Connect::CODE, c)
            .with("fd", fd)
            .with("addr", peer.to_string()),
        connected,
    );
    if connected {
        let e = opcode::Send::new(types::Fd(fd), PING.as_ptr(), PING.len() as u32).build();
        let c = unsafe { ring.run(e, None) }?;
        t.record(
            op_line(ring, "send", opcode::Send::CODE, c)
                .with("fd", fd)
                .with("len", PING.len()),
            c.res == PING.len() as i32,
        );
        let mut buf = [0u8; 64];
        let e = opcode::Recv::new(types::Fd(fd), buf.as_mut_ptr(), buf.len() as u32).build();
        let c = unsafe { ring.run(e, None) }?;
        // An echo gives the ping back; a peer that just closes gives EOF (0).
        let ok = c.res == 0 || usize::try_from(c.res).is_ok_and(|n| &buf[..n] == PING);
        t.record(
            op_line(ring, "recv", opcode::Recv::CODE, c)
                .with("fd", fd)
                .with("len", buf.len()),
            ok,
        );
    }
    close(ring, fd, t)
}
