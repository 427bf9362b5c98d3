//! What this kernel allows, detected at start and reported in status.

use std::path::Path;

use aya::maps::MapType;

/// Feature report (what vigil can use on this kernel).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Features {
    /// `/sys/kernel/btf/vmlinux` present and parsed (CO-RE, `tp_btf`).
    pub kernel_btf: bool,
    pub ringbuf: bool,
    pub task_storage: bool,
    /// BPF LSM programs load (`Ok`), or why not (e.g. EPERM under lockdown).
    pub lsm_load: Result<(), String>,
    /// "bpf" is in the active LSM list (needed to attach LSM programs).
    pub lsm_active: bool,
    /// `membarrier(MEMBARRIER_CMD_GLOBAL)` works (the rule swap's grace period).
    pub membarrier_global: bool,
}

impl Features {
    /// Whether denials can go through BPF LSM hooks (else: cgroup hooks / kill).
    pub fn lsm_usable(&self) -> bool {
        self.lsm_load.is_ok() && self.lsm_active
    }
}

fn membarrier_global() -> bool {
    const MEMBARRIER_CMD_QUERY: libc::c_long = 0;
    const MEMBARRIER_CMD_GLOBAL: libc::c_long = 1;
    // SAFETY: membarrier query takes integers only.
    let mask = unsafe { libc::syscall(libc::SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0) };
    mask > 0 && mask & MEMBARRIER_CMD_GLOBAL != 0
}

/// Probes the kernel; `lsm` is the outcome of loading the LSM probe program.
pub fn detect(kernel_btf: bool, lsm: Result<(), String>) -> Features {
    let lsm_active = std::fs::read_to_string(Path::new("/sys/kernel/security/lsm"))
        .is_ok_and(|s| s.trim().split(',').any(|l| l == "bpf"));
    Features {
        kernel_btf,
        ringbuf: aya::sys::is_map_supported(MapType::RingBuf).unwrap_or(false),
        task_storage: aya::sys::is_map_supported(MapType::TaskStorage).unwrap_or(false),
        lsm_load: lsm,
        lsm_active,
        membarrier_global: membarrier_global(),
    }
}
