//! `personality-server` / `personality-client`: one ring shared by two processes, with the
//! server's credentials registered as a personality that the client borrows.
//!
//! The server creates the ring, registers its credentials, prepares `DIR` (sticky and
//! world-writable, owned by the server) with `secret` (0600), `victim-plain` and
//! `victim-personality` (0644), and hands the ring to the client over a unix socket: as
//! `SCM_RIGHTS` where the kernel allows it; kernels since 6.7 refuse io_uring fds there
//! (EINVAL), and then the client takes the fd with `pidfd_getfd` (it is still root at that
//! point). The client drops to another uid and submits ops with and without
//! `sqe.personality`; whose credentials each op ran with shows in its result (open of
//! `secret`, owner of a created file, unlink of a server-owned file in the sticky dir).

use std::fs;
use std::io::{Read, Write};
use std::os::fd::IntoRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use io_uring::{opcode, squeue, types};
use serde_json::Value;

use crate::handoff::{Handoff, SharedPage, MSG_LEN};
use crate::out::{Identity, Line};
use crate::ring::{op_line, Completion, Mode, Ring};
use crate::sock::{recv_fd, send_fd, take_fd};

#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// Unix socket to listen on (replaced if it exists).
    #[arg(long)]
    socket: PathBuf,
    /// Directory to prepare for the client (created if missing; must be ours if it exists).
    #[arg(long)]
    dir: PathBuf,
    /// Set the shared ring up with an SQPOLL thread (every op then runs in this process,
    /// with its credentials and address space).
    #[arg(long)]
    sqpoll: bool,
    /// Switch to this uid (and --gid) before creating the ring and registering.
    #[arg(long)]
    uid: Option<u32>,
    #[arg(long)]
    gid: Option<u32>,
    /// Give up if no client connects (or finishes) within this many milliseconds.
    #[arg(long, default_value_t = 30_000)]
    timeout_ms: u64,
}

#[derive(Debug, clap::Args)]
pub struct ClientArgs {
    /// The server's unix socket.
    #[arg(long)]
    socket: PathBuf,
    /// The directory the server prepared.
    #[arg(long)]
    dir: PathBuf,
    /// Drop to this uid after receiving the ring (when running as root).
    #[arg(long, default_value_t = 65534)]
    uid: u32,
    /// Group to drop to (default: the uid's number).
    #[arg(long)]
    gid: Option<u32>,
    /// Set `IOSQE_ASYNC` on every SQE (ops run on io-wq workers).
    #[arg(long = "async")]
    force_async: bool,
}

/// Sets real, effective and saved ids, and clears supplementary groups.
fn become_ids(uid: u32, gid: u32) -> Result<()> {
    // SAFETY: plain syscalls with valid arguments.
    unsafe {
        if libc::geteuid() == 0 && libc::setgroups(0, std::ptr::null()) != 0 {
            return Err(std::io::Error::last_os_error()).context("setgroups(0)");
        }
        if libc::setresgid(gid, gid, gid) != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("setresgid({gid})"));
        }
        if libc::setresuid(uid, uid, uid) != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("setresuid({uid})"));
        }
    }
    Ok(())
}

fn prepare_dir(dir: &Path) -> Result<()> {
    match fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).with_context(|| format!("{}: mkdir", dir.display())),
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(0o1777))
        .with_context(|| format!("{}: chmod 1777 (the directory must be ours)", dir.display()))?;
    for (name, mode) in [
        ("secret", 0o600),
        ("victim-plain", 0o644),
        ("victim-personality", 0o644),
    ] {
        let p = dir.join(name);
        let _ = fs::remove_file(&p);
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&p)
            .with_context(|| format!("{}: create", p.display()))?;
        f.write_all(b"only the server may read this\n")?;
    }
    Ok(())
}

fn accept_within(listener: &UnixListener, deadline: Instant) -> Result<UnixStream> {
    listener.set_nonblocking(true)?;
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false)?;
                return Ok(s);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                ensure!(Instant::now() < deadline, "no client connected in time");
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e).context("accept"),
        }
    }
}

pub fn serve(args: &ServerArgs) -> Result<bool> {
    let deadline = Instant::now() + Duration::from_millis(args.timeout_ms);
    if let Some(uid) = args.uid {
        become_ids(uid, args.gid.unwrap_or(uid))?;
    }
    prepare_dir(&args.dir)?;
    let mode = if args.sqpoll {
        Mode::Sqpoll
    } else {
        Mode::Plain
    };
    let ring = Ring::new(mode, 16)?;
    let personality = ring.register_personality()?;
    let page = SharedPage::create()?;
    ring.describe("server")
        .with("personality", personality)
        .print();

    let _ = fs::remove_file(&args.socket);
    let listener = UnixListener::bind(&args.socket)
        .with_context(|| format!("{}: bind", args.socket.display()))?;
    fs::set_permissions(&args.socket, fs::Permissions::from_mode(0o666))?;
    Line::new("listening")
        .with("socket", args.socket.display().to_string())
        .print();

    let conn = accept_within(&listener, deadline)?;
    let id = Identity::current();
    let msg = Handoff {
        personality,
        sqpoll: ring.is_sqpoll(),
        pid: id.pid,
        uid: id.euid,
        gid: id.egid,
        ring_fd: ring.fd() as u32,
        page_fd: page.fd() as u32,
        page_addr: page.addr(),
        params: ring.params_bytes(),
    }
    .encode();
    let via = match send_fd(&conn, ring.fd(), &msg) {
        Ok(()) => "scm_rights",
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            (&conn)
                .write_all(&msg)
                .context("sending the hand-off message")?;
            "pidfd_getfd"
        }
        Err(e) => return Err(e).context("passing the ring fd"),
    };
    Line::new("shared")
        .with("ring_fd", ring.fd())
        .with("via", via)
        .print();

    // Keep the ring (and its SQPOLL thread, a thread of this process) alive until the
    // client is done with it.
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1));
    conn.set_read_timeout(Some(left))?;
    let mut reply = Vec::new();
    (&conn)
        .read_to_end(&mut reply)
        .context("waiting for the client")?;
    let ok = reply == b"done";
    Line::new("summary")
        .with("ok", ok)
        .with("client_said", String::from_utf8_lossy(&reply).into_owned())
        .print();
    Ok(ok)
}

/// Whose credentials an op ran with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Creds {
    Server,
    Client,
}

impl Creds {
    fn name(self) -> &'static str {
        match self {
            Creds::Server => "server",
            Creds::Client => "client",
        }
    }
}

pub fn client(args: &ClientArgs) -> Result<bool> {
    let conn = UnixStream::connect(&args.socket)
        .with_context(|| format!("{}: connect", args.socket.display()))?;
    let mut msg = [0u8; MSG_LEN];
    let passed = recv_fd(&conn, &mut msg).context("receiving the ring")?;
    let peer = Handoff::decode(&msg)?;
    let (ring_fd, via) = if let Some(fd) = passed {
        (fd, "scm_rights")
    } else {
        let fd = take_fd(peer.pid, peer.ring_fd as i32).with_context(|| {
            format!(
                "pidfd_getfd of ring fd {} in pid {}",
                peer.ring_fd, peer.pid
            )
        })?;
        (fd, "pidfd_getfd")
    };
    let page_fd = take_fd(peer.pid, peer.page_fd as i32).with_context(|| {
        format!(
            "pidfd_getfd of page fd {} in pid {}",
            peer.page_fd, peer.pid
        )
    })?;
    let page = SharedPage::attach(page_fd, peer.page_addr)?;
    let mode = match (args.force_async, peer.sqpoll) {
        (true, _) => Mode::Async,
        (false, true) => Mode::Sqpoll,
        (false, false) => Mode::Plain,
    };
    let mut ring = Ring::from_shared(ring_fd.into_raw_fd(), &peer.params, mode)?;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        become_ids(args.uid, args.gid.unwrap_or(args.uid))?;
    }
    let me = Identity::current();
    if me.euid == peer.uid {
        bail!(
            "client and server both run as uid {}: their credentials cannot be told apart",
            me.euid
        );
    }
    ring.describe("client")
        .with("personality", peer.personality)
        .with("server_pid", peer.pid)
        .with("server_uid", peer.uid)
        .with("via", via)
        .print();

    let mut c = ClientRun {
        ring: &mut ring,
        page,
        peer: &peer,
        client_uid: me.euid,
        failed: Vec::new(),
        ops: 0,
    };
    c.ops(&args.dir)?;
    let ok = c.failed.is_empty();
    Line::new("summary")
        .with("ok", ok)
        .with("ops", c.ops)
        .with("failed", c.failed)
        .print();
    (&conn).write_all(b"done")?;
    Ok(ok)
}

struct ClientRun<'a> {
    ring: &'a mut Ring,
    page: SharedPage,
    peer: &'a Handoff,
    client_uid: u32,
    failed: Vec<String>,
    ops: u32,
}

impl ClientRun<'_> {
    /// Whose credentials an op should run with: with a personality the server's; without,
    /// the client's, except on an SQPOLL ring, whose thread runs with its creator's.
    fn expected(&self, with_personality: bool) -> Creds {
        if with_personality || self.peer.sqpoll {
            Creds::Server
        } else {
            Creds::Client
        }
    }

    fn personality(&self, with: bool) -> Option<u16> {
        with.then_some(self.peer.personality)
    }

    fn personality_json(&self, with: bool) -> Value {
        self.personality(with).map_or(Value::Null, Value::from)
    }

    /// Runs one SQE whose pointers all lie in the shared page.
    fn run(&mut self, e: squeue::Entry, with: bool) -> Result<Completion> {
        let p = self.personality(with);
        // SAFETY: the entry points only into the shared page, mapped until we drop.
        unsafe { self.ring.run(e, p) }
    }

    fn report(&mut self, line: Line, with: bool, ran_as: Option<Creds>) {
        let expected = self.expected(with);
        let ok = ran_as == Some(expected);
        self.ops += 1;
        if !ok {
            let op = line
                .get("op")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_owned();
            self.failed.push(op);
        }
        line.with("personality", self.personality_json(with))
            .with("server_pid", self.peer.pid)
            .with("server_uid", self.peer.uid)
            .with("expected_creds", expected.name())
            .with("ran_as", ran_as.map_or(Value::Null, |c| c.name().into()))
            .with("ok", ok)
            .print();
    }

    fn ops(&mut self, dir: &Path) -> Result<()> {
        // Opening `secret` (0600, the server's) succeeds only with the server's creds.
        for with in [true, false] {
            self.open_secret(dir, with)?;
        }
        // A created file is owned by the fsuid the op ran with.
        for (name, with) in [("created-personality", true), ("created-plain", false)] {
            self.create(&dir.join(name), with)?;
        }
        // In the sticky dir only the owner (the server) may unlink the victims.
        for (name, with) in [("victim-personality", true), ("victim-plain", false)] {
            self.unlink(&dir.join(name), with)?;
        }
        // A personality id nobody registered fails the SQE before it is issued (EINVAL).
        self.unregistered_personality(dir)
    }

    fn unregistered_personality(&mut self, dir: &Path) -> Result<()> {
        let path = dir.join("secret");
        let c_path = self.page.put_path(&path)?;
        let bogus = self.peer.personality.wrapping_add(100);
        let e = opcode::OpenAt::new(types::Fd(libc::AT_FDCWD), c_path)
            .flags(libc::O_RDONLY | libc::O_CLOEXEC)
            .build();
        // SAFETY: the entry points only into the shared page.
        let c = unsafe { self.ring.run(e, Some(bogus)) }?;
        let ok = c.res == -libc::EINVAL;
        self.ops += 1;
        if !ok {
            self.failed.push("openat".into());
        }
        op_line(self.ring, "openat", opcode::OpenAt::CODE, c)
            .with("path", path.display().to_string())
            .with("personality", bogus)
            .with("expected_creds", Value::Null)
            .with("ran_as", Value::Null)
            .with("ok", ok)
            .print();
        Ok(())
    }

    fn open_secret(&mut self, dir: &Path, with: bool) -> Result<()> {
        let path = dir.join("secret");
        let c_path = self.page.put_path(&path)?;
        let e = opcode::OpenAt::new(types::Fd(libc::AT_FDCWD), c_path)
            .flags(libc::O_RDONLY | libc::O_CLOEXEC)
            .build();
        let c = self.run(e, with)?;
        let ran_as = match c.res {
            r if r >= 0 => Some(Creds::Server),
            r if r == -libc::EACCES => Some(Creds::Client),
            _ => None,
        };
        let line = op_line(self.ring, "openat", opcode::OpenAt::CODE, c)
            .with("path", path.display().to_string());
        self.report(line, with, ran_as);
        if c.res >= 0 {
            self.close(c.res, with)?;
        }
        Ok(())
    }

    fn create(&mut self, path: &Path, with: bool) -> Result<()> {
        let _ = fs::remove_file(path);
        let c_path = self.page.put_path(path)?;
        let e = opcode::OpenAt::new(types::Fd(libc::AT_FDCWD), c_path)
            .flags(libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_CLOEXEC)
            .mode(0o644)
            .build();
        let c = self.run(e, with)?;
        // Stat by path: on an SQPOLL ring the fd lives in the server's table, not ours.
        let owner = fs::metadata(path).ok().map(|m| m.uid());
        let ran_as = match owner {
            Some(u) if u == self.peer.uid => Some(Creds::Server),
            Some(u) if u == self.client_uid => Some(Creds::Client),
            _ => None,
        };
        let line = op_line(self.ring, "openat", opcode::OpenAt::CODE, c)
            .with("path", path.display().to_string())
            .with("owner_uid", owner.map_or(Value::Null, Value::from));
        self.report(line, with, ran_as);
        if c.res >= 0 {
            self.close(c.res, with)?;
        }
        Ok(())
    }

    fn unlink(&mut self, path: &Path, with: bool) -> Result<()> {
        let c_path = self.page.put_path(path)?;
        let e = opcode::UnlinkAt::new(types::Fd(libc::AT_FDCWD), c_path).build();
        let c = self.run(e, with)?;
        let ran_as = match c.res {
            0 => Some(Creds::Server),
            r if r == -libc::EPERM || r == -libc::EACCES => Some(Creds::Client),
            _ => None,
        };
        let line = op_line(self.ring, "unlinkat", opcode::UnlinkAt::CODE, c)
            .with("path", path.display().to_string());
        self.report(line, with, ran_as);
        Ok(())
    }

    /// Closes an fd the ring opened, in the same context (the fd table it went into).
    fn close(&mut self, fd: i32, with: bool) -> Result<()> {
        let e = opcode::Close::new(types::Fd(fd)).build();
        let c = self.run(e, with)?;
        self.ops += 1;
        if c.res != 0 {
            self.failed.push("close".into());
        }
        op_line(self.ring, "close", opcode::Close::CODE, c)
            .with("fd", fd)
            .with("personality", self.personality_json(with))
            .with("ok", c.res == 0)
            .print();
        Ok(())
    }
}
