//! The control socket: a root-only unix socket (mode 0600, `SO_PEERCRED` uid 0), one request
//! and one response per connection. A bad client gets an error response; the daemon goes on.

use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::peer::{peer_of, Peer};
use super::proto::{read_frame_bytes, write_frame, FrameError, Request, Response};

/// Connections served at once; more get a "busy" error.
const MAX_CLIENTS: usize = 16;
/// A client that sends nothing for this long is dropped.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// What answers a request.
pub type Handler = dyn Fn(Request, &Peer) -> Response + Send + Sync;

/// Binds the socket: creates its directory (0700) when missing, refuses to replace a socket a
/// live daemon listens on, and leaves the socket file mode 0600.
pub fn bind(path: &Path) -> Result<UnixListener, String> {
    let err = |what: &str, e: &dyn std::fmt::Display| {
        format!("control socket {}: {what}: {e}", path.display())
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(dir)
                .map_err(|e| err("cannot create its directory", &e))?;
        }
    }
    match std::fs::symlink_metadata(path) {
        Ok(md) if md.file_type().is_socket() => {
            if UnixStream::connect(path).is_ok() {
                return Err(format!(
                    "control socket {}: another vigil daemon is listening on it; stop it or \
                     give this one --socket PATH",
                    path.display()
                ));
            }
            std::fs::remove_file(path).map_err(|e| err("cannot remove the stale socket", &e))?;
        }
        Ok(_) => {
            return Err(format!(
                "control socket {}: exists and is not a socket; remove it or choose another path",
                path.display()
            ))
        }
        Err(_) => {}
    }
    // The umask closes the window between bind() and chmod() in which others could connect.
    // SAFETY: umask only changes this process's file creation mask.
    let old = unsafe { libc::umask(0o177) };
    let bound = UnixListener::bind(path);
    // SAFETY: restores the previous mask.
    unsafe { libc::umask(old) };
    let listener = bound.map_err(|e| err("cannot bind", &e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| err("cannot chmod 0600", &e))?;
    Ok(listener)
}

/// A running control server.
pub struct Server {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves `listener` on a thread until [`Server::shutdown`].
    pub fn start(
        listener: UnixListener,
        path: PathBuf,
        handler: Arc<Handler>,
    ) -> io::Result<Server> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("vigil-ctl".into())
            .spawn(move || accept_loop(&listener, &handler, &flag))?;
        Ok(Server {
            path,
            stop,
            thread: Some(thread),
        })
    }

    /// Stops accepting and removes the socket file.
    pub fn shutdown(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn accept_loop(listener: &UnixListener, handler: &Arc<Handler>, stop: &AtomicBool) {
    let active = Arc::new(AtomicUsize::new(0));
    let fd = listener.as_raw_fd();
    while !stop.load(Ordering::Relaxed) {
        match crate::daemon::signals::poll_readable(&[fd], 200) {
            Ok(r) if r[0] => {}
            Ok(_) => continue,
            Err(e) => {
                log::error!("control socket poll: {e}");
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
        }
        let stream = match listener.accept() {
            Ok((s, _)) => s,
            Err(e) => {
                log::warn!("control socket accept: {e}");
                continue;
            }
        };
        if active.fetch_add(1, Ordering::AcqRel) >= MAX_CLIENTS {
            active.fetch_sub(1, Ordering::AcqRel);
            let mut s = stream;
            let _ = write_frame(
                &mut s,
                &Response::error("the daemon is busy with other clients; try again"),
            );
            continue;
        }
        let h = Arc::clone(handler);
        let n = Arc::clone(&active);
        let spawned = std::thread::Builder::new()
            .name("vigil-ctl-client".into())
            .spawn(move || {
                serve_client(stream, &*h);
                n.fetch_sub(1, Ordering::AcqRel);
            });
        if let Err(e) = spawned {
            active.fetch_sub(1, Ordering::AcqRel);
            log::error!("control socket: cannot start a client thread: {e}");
        }
    }
}

fn serve_client(mut stream: UnixStream, handler: &Handler) {
    let peer = match peer_of(&stream) {
        Ok(p) => p,
        Err(e) => {
            log::warn!("control socket: no peer credentials: {e}");
            return;
        }
    };
    if peer.uid != 0 {
        log::warn!(
            "control socket: refused pid {} uid {} (only root may control vigil)",
            peer.pid,
            peer.uid
        );
        let _ = write_frame(
            &mut stream,
            &Response::error(format!(
                "permission denied: vigil's control socket accepts only root (you are uid {})",
                peer.uid
            )),
        );
        return;
    }
    let _ = stream.set_read_timeout(Some(CLIENT_TIMEOUT));
    let _ = stream.set_write_timeout(Some(CLIENT_TIMEOUT));
    let response = match read_frame_bytes(&mut stream) {
        Ok(body) => match Request::from_slice(&body) {
            Ok(req) => handler(req, &peer),
            Err(e) => Response::error(e.to_string()),
        },
        Err(FrameError::Truncated) => return,
        Err(e) => Response::error(format!("bad request: {e}")),
    };
    if let Err(e) = write_frame(&mut stream, &response) {
        log::debug!("control socket: reply to pid {} failed: {e}", peer.pid);
    }
}
