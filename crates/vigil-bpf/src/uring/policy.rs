//! io_uring deny rules ([`vigil_rules::policy::PolicyRule`]) to the `vigil_pol_rules` map,
//! and how each denial is enforced on this kernel.
//!
//! Enforcement, best first:
//! - [`PolicyMode::Lsm`] (kernels that load BPF LSM programs): SQPOLL ring creation is refused
//!   in `uring_sqpoll`, personalities for every op in `uring_override_creds`, socket ops in
//!   `socket_connect`/`socket_bind`/`socket_sendmsg`; the rest is killed at submit.
//! - [`PolicyMode::Hooks`] (this kernel: LSM programs are refused): socket ops (CONNECT, BIND,
//!   SENDMSG, SEND and their zero-copy forms) of rules without a ring or personality
//!   condition get EPERM from cgroup `sock_addr` hooks; everything else is killed with
//!   `bpf_send_signal(SIGKILL)` as early as the kernel tells: at ring creation for SQPOLL, at
//!   submit for ops (before io-wq runs them; an inline op has already been issued when the
//!   process dies, `docs/design/io_uring.md` section 12).

use std::collections::BTreeSet;

use vigil_abi::{
    PolRule, VIGIL_POL_FIELD_CONTID, VIGIL_POL_FIELD_EXE, VIGIL_POL_F_CGROUP, VIGIL_POL_F_CREATE,
    VIGIL_POL_F_NOT_PERSONALITY, VIGIL_POL_F_NOT_SQPOLL, VIGIL_POL_F_PERSONALITY,
    VIGIL_POL_F_SQPOLL, VIGIL_POL_MAX_CONDS, VIGIL_POL_MAX_RULES,
};
use vigil_rules::ast::{Condition, Field, Op, Syscalls, Value};
use vigil_rules::policy::{self, PolicyRule};

/// Opcodes a cgroup `sock_addr` hook sees: CONNECT 16; BIND 56; SENDMSG 9, SEND 26, `SEND_ZC` 47,
/// `SENDMSG_ZC` 48 (`POL_OPS_*` in `lib/uring_policy.h`).
pub const SOCKET_OPS: u64 = (1 << 16) | (1 << 56) | (1 << 9) | (1 << 26) | (1 << 47) | (1 << 48);
/// Every opcode.
pub const ALL_OPS: u64 = u64::MAX;

/// How denials are enforced (reported in status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyMode {
    /// BPF LSM hooks refuse; kill for what they cannot see.
    Lsm,
    /// cgroup `sock_addr` hooks refuse socket ops; kill for the rest.
    Hooks,
}

impl PolicyMode {
    /// LSM when the kernel loads and runs BPF LSM programs
    /// ([`crate::Features::lsm_usable`]), else the cgroup hooks and kill.
    pub fn select(lsm_usable: bool) -> PolicyMode {
        if lsm_usable {
            PolicyMode::Lsm
        } else {
            PolicyMode::Hooks
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PolicyMode::Lsm => "lsm",
            PolicyMode::Hooks => "cgroup+kill",
        }
    }
}

/// How one denial happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// Refused by a BPF LSM hook (the operation fails with EPERM).
    Lsm,
    /// Refused by a cgroup hook (the op completes with EPERM).
    Prevented,
    /// The process is killed (SIGKILL).
    Killed,
}

/// What a rule's denial targets, with how it is enforced in `mode`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enforcement {
    /// Ring creation (SQPOLL rules without `-S`).
    pub creation: Option<How>,
    /// Per opcode denied at or after submit: opcode -> how.
    pub ops: Vec<(u32, How)>,
}

/// A policy ready for the maps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompiledPolicy {
    pub rules: Vec<PolRule>,
    /// Per rule: its keys (the denial record's key) and where it was written.
    pub keys: Vec<Vec<String>>,
    pub origins: Vec<String>,
    pub pol_ops: u64,
    pub pol_pers_ops: u64,
    pub pol_sqpoll_ops: u64,
    pub pol_create: bool,
    /// Any rule whose socket ops the cgroup hooks can refuse.
    pub socket_ops: u64,
    /// Conditions that can never hold on this host (an `exe=` that does not exist).
    pub warnings: Vec<String>,
}

/// Why a policy cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("{at}: {count} deny rules; at most {max} fit the BPF policy table")]
    TooManyRules {
        at: String,
        count: usize,
        max: usize,
    },
    #[error("{at}: {count} conditions; a deny rule has at most {max}")]
    TooManyConditions {
        at: String,
        count: usize,
        max: usize,
    },
    #[error("{at}: field {field} cannot scope a deny rule")]
    Field { at: String, field: &'static str },
}

fn op_number(op: Op) -> u8 {
    match op {
        Op::Eq => 0,
        Op::Ne => 1,
        Op::BitMask => 2,
        Op::BitTest => 3,
        Op::Lt => 4,
        Op::Gt => 5,
        Op::Le => 6,
        Op::Ge => 7,
    }
}

/// The kernel's `dev_t` (major << 20 | minor) of a user-space `st_dev`.
pub fn kernel_dev(st_dev: u64) -> u32 {
    let major = libc::major(st_dev);
    let minor = libc::minor(st_dev);
    (major << 20) | (minor & 0xf_ffff)
}

/// `(kernel dev_t, inode)` of the file at `path`, following symlinks as exec does.
pub fn resolve_exe(path: &str) -> Option<(u32, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some((kernel_dev(m.dev()), m.ino()))
}

fn ops_mask(s: &Syscalls) -> u64 {
    match s {
        Syscalls::All => ALL_OPS,
        Syscalls::Set(set) => set
            .iter()
            .filter(|n| **n < 64)
            .fold(0, |m, n| m | (1u64 << n)),
    }
}

/// Compiles deny rules; `resolve` maps an `exe=` path to `(dev, inode)` ([`resolve_exe`]).
pub fn compile(
    rules: &[PolicyRule],
    resolve: &dyn Fn(&str) -> Option<(u32, u64)>,
) -> Result<CompiledPolicy, PolicyError> {
    let mut out = CompiledPolicy::default();
    if rules.len() > VIGIL_POL_MAX_RULES as usize {
        return Err(PolicyError::TooManyRules {
            at: origin(&rules[VIGIL_POL_MAX_RULES as usize]),
            count: rules.len(),
            max: VIGIL_POL_MAX_RULES as usize,
        });
    }
    for r in rules {
        let at = origin(r);
        if r.conditions.len() > VIGIL_POL_MAX_CONDS as usize {
            return Err(PolicyError::TooManyConditions {
                at,
                count: r.conditions.len(),
                max: VIGIL_POL_MAX_CONDS as usize,
            });
        }
        let mut p = PolRule {
            ops: ops_mask(&r.ops),
            ..PolRule::default()
        };
        match r.scope.sqpoll {
            Some(true) => p.flags |= VIGIL_POL_F_SQPOLL,
            Some(false) => p.flags |= VIGIL_POL_F_NOT_SQPOLL,
            None => {}
        }
        if r.denies_creation() {
            p.flags |= VIGIL_POL_F_CREATE;
        }
        match r.scope.personality {
            Some(true) => p.flags |= VIGIL_POL_F_PERSONALITY,
            Some(false) => p.flags |= VIGIL_POL_F_NOT_PERSONALITY,
            None => {}
        }
        // The socket hooks know neither the ring nor the personality of the op.
        if r.scope.sqpoll.is_none() && r.scope.personality.is_none() && p.ops & SOCKET_OPS != 0 {
            p.flags |= VIGIL_POL_F_CGROUP;
            out.socket_ops |= p.ops & SOCKET_OPS;
        }
        for (k, c) in r.conditions.iter().enumerate() {
            let Condition::Field { field, op, value } = c else {
                return Err(PolicyError::Field { at, field: "-C" });
            };
            let (f, arg, v) = match (field, value) {
                (Field::Exe, Value::Str(path)) => {
                    if let Some((dev, ino)) = resolve(path) {
                        (VIGIL_POL_FIELD_EXE, dev, ino)
                    } else {
                        out.warnings.push(format!(
                            "{at}: exe={path} does not exist: the condition never holds until \
                             the policy is loaded again"
                        ));
                        (VIGIL_POL_FIELD_EXE, u32::MAX, u64::MAX)
                    }
                }
                (Field::ContId, Value::Num(n)) => (VIGIL_POL_FIELD_CONTID, 0, *n),
                (_, Value::Num(n)) if policy::numeric_field(*field) => {
                    (field.kernel_number(), 0, *n)
                }
                _ => {
                    return Err(PolicyError::Field {
                        at,
                        field: field.name(),
                    })
                }
            };
            p.field[k] = u16::try_from(f).unwrap_or(u16::MAX);
            p.op[k] = op_number(*op);
            p.arg[k] = arg;
            p.value[k] = v;
        }
        p.nconds = r.conditions.len() as u32;
        let needs_sq = p.flags & VIGIL_POL_F_SQPOLL != 0;
        let needs_pers = p.flags & VIGIL_POL_F_PERSONALITY != 0;
        if needs_pers {
            out.pol_pers_ops |= p.ops;
        } else if needs_sq {
            out.pol_sqpoll_ops |= p.ops;
        } else {
            out.pol_ops |= p.ops;
        }
        out.pol_create |= p.flags & VIGIL_POL_F_CREATE != 0;
        out.keys.push(r.keys.clone());
        out.origins.push(at);
        out.rules.push(p);
    }
    Ok(out)
}

fn origin(r: &PolicyRule) -> String {
    format!("{}:{}", r.origin.file, r.origin.line)
}

impl CompiledPolicy {
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether socket ops need the cgroup hooks in `mode`.
    pub fn needs_cgroup(&self, mode: PolicyMode) -> bool {
        mode == PolicyMode::Hooks && self.socket_ops != 0
    }

    /// How rule `i`'s denials are enforced in `mode` (status, docs, tests).
    pub fn enforcement(&self, i: usize, mode: PolicyMode) -> Option<Enforcement> {
        let p = self.rules.get(i)?;
        let lsm = mode == PolicyMode::Lsm;
        let creation =
            (p.flags & VIGIL_POL_F_CREATE != 0).then_some(if lsm { How::Lsm } else { How::Killed });
        let socket_hook = p.flags & VIGIL_POL_F_CGROUP != 0;
        let pers_all = p.flags & VIGIL_POL_F_PERSONALITY != 0 && p.ops == ALL_OPS;
        let ops: BTreeSet<u32> = (0..64u32).filter(|n| p.ops >> n & 1 == 1).collect();
        let ops = ops
            .into_iter()
            .map(|n| {
                let how = if lsm && pers_all {
                    How::Lsm
                } else if socket_hook && SOCKET_OPS >> n & 1 == 1 {
                    if lsm {
                        How::Lsm
                    } else {
                        How::Prevented
                    }
                } else {
                    How::Killed
                };
                (n, how)
            })
            .collect();
        Some(Enforcement { creation, ops })
    }
}

#[cfg(test)]
mod tests;
