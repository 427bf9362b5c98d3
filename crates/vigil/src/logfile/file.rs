//! One audit log file: opened safely, appended whole lines only, rotated like auditd.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::config::Flush;

/// Why a log file or its directory was refused.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("log directory {dir}: {problem}")]
    Dir { dir: PathBuf, problem: String },
    #[error("log file {path}: {problem}")]
    File { path: PathBuf, problem: String },
    #[error("log file {path}: {op}: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: io::Error,
    },
}

/// How a log file is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOptions {
    pub flush: Flush,
    /// Group allowed to read the logs (0640/0440); `None`: root only (0600/0400).
    pub gid: Option<u32>,
}

impl FileOptions {
    fn active_mode(&self) -> u32 {
        if self.gid.is_some() {
            0o640
        } else {
            0o600
        }
    }

    fn rotated_mode(&self) -> u32 {
        if self.gid.is_some() {
            0o440
        } else {
            0o400
        }
    }
}

/// Resolves a group name to a gid (`root` -> `None`, i.e. no group access).
pub fn group_gid(name: &str) -> Result<Option<u32>, String> {
    if name == "root" {
        return Ok(None);
    }
    if let Ok(n) = name.parse::<u32>() {
        return Ok((n != 0).then_some(n));
    }
    let c = CString::new(name).map_err(|_| format!("group {name:?} contains a NUL byte"))?;
    let mut grp: libc::group = unsafe { std::mem::zeroed() };
    let mut buf = vec![0u8; 16384];
    let mut out: *mut libc::group = std::ptr::null_mut();
    // SAFETY: all pointers are valid for the call; buf outlives the use of grp's strings.
    let rc = unsafe {
        libc::getgrnam_r(
            c.as_ptr(),
            &raw mut grp,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &raw mut out,
        )
    };
    if rc != 0 || out.is_null() {
        return Err(format!("group {name:?} does not exist"));
    }
    Ok((grp.gr_gid != 0).then_some(grp.gr_gid))
}

/// Checks (and creates, one level, 0700) the directory of the log as auditd expects it:
/// owned by root (by us when not root), not writable by group or others.
pub fn check_dir(dir: &Path) -> Result<(), LogError> {
    let err = |problem: String| LogError::Dir {
        dir: dir.to_path_buf(),
        problem,
    };
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(dir)
                .map_err(|e| err(format!("does not exist and cannot be created: {e}")))?;
        }
        Err(e) => return Err(err(format!("cannot be examined: {e}"))),
        Ok(_) => {}
    }
    let md = std::fs::metadata(dir).map_err(|e| err(format!("cannot be examined: {e}")))?;
    if !md.is_dir() {
        return Err(err("is not a directory".into()));
    }
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if md.uid() != euid && md.uid() != 0 {
        return Err(err(format!(
            "is owned by uid {} (expected root): another user could replace the audit log; \
             run `chown root {}`",
            md.uid(),
            dir.display()
        )));
    }
    let mode = md.mode() & 0o7777;
    if mode & 0o022 != 0 && mode & 0o1000 == 0 {
        return Err(err(format!(
            "is writable by its group or by others (mode {mode:04o}): they could replace the \
             audit log; run `chmod go-w {}`",
            dir.display()
        )));
    }
    if mode & 0o022 != 0 {
        return Err(err(format!(
            "is writable by others even if sticky (mode {mode:04o}); give the audit log its \
             own root-owned directory"
        )));
    }
    Ok(())
}

/// The active log file.
#[derive(Debug)]
pub struct LogFile {
    path: PathBuf,
    file: File,
    size: u64,
    opts: FileOptions,
}

impl LogFile {
    /// Opens (creating) `path` for appending: `O_APPEND|O_NOFOLLOW|O_CLOEXEC`, 0600 (0640 with
    /// a log group), `O_DSYNC`/`O_SYNC` for the `data`/`sync` flush modes. A symlink, a
    /// non-regular file or a bad directory is refused.
    pub fn open(path: &Path, opts: &FileOptions) -> Result<LogFile, LogError> {
        let dir = parent_dir(path);
        check_dir(&dir)?;
        let mut flags = libc::O_NOFOLLOW | libc::O_CLOEXEC;
        match opts.flush {
            Flush::Data => flags |= libc::O_DSYNC,
            Flush::Sync => flags |= libc::O_SYNC,
            _ => {}
        }
        let file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(opts.active_mode())
            .custom_flags(flags)
            .open(path)
            .map_err(|e| {
                if e.raw_os_error() == Some(libc::ELOOP) {
                    LogError::File {
                        path: path.to_path_buf(),
                        problem: "is a symbolic link; vigil writes only to a regular file it \
                                  opens itself (O_NOFOLLOW)"
                            .into(),
                    }
                } else {
                    LogError::Io {
                        path: path.to_path_buf(),
                        op: "open",
                        source: e,
                    }
                }
            })?;
        let md = file.metadata().map_err(|e| LogError::Io {
            path: path.to_path_buf(),
            op: "fstat",
            source: e,
        })?;
        if !md.file_type().is_file() {
            return Err(LogError::File {
                path: path.to_path_buf(),
                problem: "is not a regular file".into(),
            });
        }
        if md.nlink() > 1 {
            // Refusing would let whoever made the link stop auditing; say it instead.
            log::warn!(
                "log file {} has {} hard links: another name exposes the audit log",
                path.display(),
                md.nlink()
            );
        }
        let mut lf = LogFile {
            path: path.to_path_buf(),
            file,
            size: md.len(),
            opts: opts.clone(),
        };
        lf.set_owner_mode(lf.opts.active_mode())?;
        lf.cut_torn_tail().map_err(|e| lf.io_err("repair", e))?;
        Ok(lf)
    }

    /// A write cut short (the daemon killed mid-write, a crash) can leave a partial last
    /// line; it is removed so every line of the log stays whole.
    fn cut_torn_tail(&mut self) -> io::Result<()> {
        use std::io::{Read, Seek, SeekFrom};
        if self.size == 0 {
            return Ok(());
        }
        let mut r = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&self.path)?;
        // Longer than any line vigil writes (8970 bytes), so the last newline is in it.
        let tail = self.size.min(16 << 10);
        r.seek(SeekFrom::Start(self.size - tail))?;
        let mut buf = vec![0u8; tail as usize];
        r.read_exact(&mut buf)?;
        if buf.last() == Some(&b'\n') {
            return Ok(());
        }
        let keep = match buf.iter().rposition(|&b| b == b'\n') {
            Some(i) => self.size - tail + i as u64 + 1,
            None if tail == self.size => 0,
            // No newline in the tail of a big file: not vigil's log format; leave it.
            None => return Ok(()),
        };
        log::warn!(
            "{}: removed a torn last line ({} bytes) left by an interrupted write",
            self.path.display(),
            self.size - keep
        );
        self.file.set_len(keep)?;
        self.size = keep;
        Ok(())
    }

    fn set_owner_mode(&self, mode: u32) -> Result<(), LogError> {
        let fd = self.file.as_raw_fd();
        // SAFETY: fd is an open descriptor owned by self.file.
        if unsafe { libc::fchmod(fd, mode) } != 0 {
            return Err(self.io_err("fchmod", io::Error::last_os_error()));
        }
        // SAFETY: as above; only root may give the file to root and the log group.
        if unsafe { libc::geteuid() } == 0 {
            let gid = self.opts.gid.unwrap_or(0);
            if unsafe { libc::fchown(fd, 0, gid) } != 0 {
                return Err(self.io_err("fchown", io::Error::last_os_error()));
            }
        }
        Ok(())
    }

    fn io_err(&self, op: &'static str, source: io::Error) -> LogError {
        LogError::Io {
            path: self.path.clone(),
            op,
            source,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn options(&self) -> &FileOptions {
        &self.opts
    }

    /// Appends `buf` whole or not at all: after a failed or short write the file is cut back
    /// to its previous length, so a full disk never leaves a torn line.
    pub fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        match (&self.file).write_all(buf) {
            Ok(()) => {
                self.size += buf.len() as u64;
                Ok(())
            }
            Err(e) => {
                // Best effort: the disk may refuse even this; then the next open sees the
                // partial line, which readers skip as malformed.
                let _ = self.file.set_len(self.size);
                Err(e)
            }
        }
    }

    pub fn sync_data(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// A second descriptor for the flush thread.
    pub fn try_clone_file(&self) -> io::Result<File> {
        self.file.try_clone()
    }

    /// auditd's rotation: `.N-1` -> `.N` ... `.1` -> `.2`, active -> `.1` (made 0400), logs
    /// beyond `num_logs` removed, a fresh active file. `num_logs < 2` disables rotation
    /// (returns `Ok(false)`).
    pub fn rotate(&mut self, num_logs: u32) -> Result<bool, LogError> {
        if num_logs < 2 {
            return Ok(false);
        }
        self.rotate_to(num_logs)?;
        remove_excess(&self.path, num_logs);
        Ok(true)
    }

    /// `keep_logs`: like [`LogFile::rotate`] but shifting every existing rotated file up, so
    /// nothing is ever removed.
    pub fn shift(&mut self) -> Result<(), LogError> {
        let mut n = 1u32;
        while numbered(&self.path, n).symlink_metadata().is_ok() {
            n += 1;
        }
        self.rotate_to(n + 1)
    }

    fn rotate_to(&mut self, num_logs: u32) -> Result<(), LogError> {
        self.file
            .sync_data()
            .map_err(|e| self.io_err("fdatasync", e))?;
        self.set_owner_mode(self.opts.rotated_mode())?;
        for i in (2..num_logs).rev() {
            rename_if_exists(&numbered(&self.path, i - 1), &numbered(&self.path, i))
                .map_err(|e| self.io_err("rename", e))?;
        }
        if let Err(e) = rename_if_exists(&self.path, &numbered(&self.path, 1)) {
            // Keep writing to the old file rather than losing events.
            let _ = self.set_owner_mode(self.opts.active_mode());
            return Err(self.io_err("rename", e));
        }
        let fresh = LogFile::open(&self.path, &self.opts)?;
        *self = fresh;
        Ok(())
    }
}

/// `audit.log` -> `audit.log.N`.
pub fn numbered(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn rename_if_exists(from: &Path, to: &Path) -> io::Result<()> {
    match std::fs::rename(from, to) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

/// Removes `.num_logs`, `.num_logs+1`, ... (left by a larger earlier `num_logs`).
fn remove_excess(path: &Path, num_logs: u32) {
    let mut i = num_logs;
    while std::fs::remove_file(numbered(path, i)).is_ok() {
        log::info!(
            "removed {} (beyond num_logs = {num_logs})",
            numbered(path, i).display()
        );
        i += 1;
    }
}

/// Free and total bytes of the filesystem holding `path` (for unprivileged users, as df).
pub fn disk_space(path: &Path) -> io::Result<(u64, u64)> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: c is NUL-terminated and st is a valid out pointer.
    if unsafe { libc::statvfs(c.as_ptr(), &raw mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let frsize = st.f_frsize;
    Ok((
        st.f_bavail.saturating_mul(frsize),
        st.f_blocks.saturating_mul(frsize),
    ))
}

/// Mode bits of a path (tests and status).
pub fn mode_of(path: &Path) -> io::Result<u32> {
    Ok(std::fs::symlink_metadata(path)?.permissions().mode() & 0o7777)
}
