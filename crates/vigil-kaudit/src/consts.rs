//! Numbers from the kernel's `linux/audit.h` and `linux/netlink.h` (facts, not code).

/// `NETLINK_AUDIT` protocol number.
pub const NETLINK_AUDIT: i32 = 9;

// Netlink control message types.
pub const NLMSG_NOOP: u16 = 1;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLMSG_OVERRUN: u16 = 4;

// Netlink flags.
pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_MULTI: u16 = 0x2;
pub const NLM_F_ACK: u16 = 0x4;

// Audit requests and replies.
pub const AUDIT_GET: u16 = 1000;
pub const AUDIT_SET: u16 = 1001;
pub const AUDIT_USER: u16 = 1005;
pub const AUDIT_SIGNAL_INFO: u16 = 1010;
pub const AUDIT_ADD_RULE: u16 = 1011;
pub const AUDIT_DEL_RULE: u16 = 1012;
pub const AUDIT_LIST_RULES: u16 = 1013;
pub const AUDIT_TTY_GET: u16 = 1016;
pub const AUDIT_SET_FEATURE: u16 = 1018;
pub const AUDIT_GET_FEATURE: u16 = 1019;

// Record types that tests and callers commonly look for.
pub const AUDIT_FIRST_USER_MSG: u16 = 1100;
pub const AUDIT_LAST_USER_MSG: u16 = 1199;
pub const AUDIT_FIRST_USER_MSG2: u16 = 2100;
pub const AUDIT_LAST_USER_MSG2: u16 = 2999;
pub const AUDIT_SYSCALL: u16 = 1300;
pub const AUDIT_PATH: u16 = 1302;
pub const AUDIT_CONFIG_CHANGE: u16 = 1305;
pub const AUDIT_CWD: u16 = 1307;
pub const AUDIT_EXECVE: u16 = 1309;
pub const AUDIT_EOE: u16 = 1320;
pub const AUDIT_PROCTITLE: u16 = 1327;

// `struct audit_status` mask bits.
pub const AUDIT_STATUS_ENABLED: u32 = 0x0001;
pub const AUDIT_STATUS_FAILURE: u32 = 0x0002;
pub const AUDIT_STATUS_PID: u32 = 0x0004;
pub const AUDIT_STATUS_RATE_LIMIT: u32 = 0x0008;
pub const AUDIT_STATUS_BACKLOG_LIMIT: u32 = 0x0010;
pub const AUDIT_STATUS_BACKLOG_WAIT_TIME: u32 = 0x0020;
pub const AUDIT_STATUS_LOST: u32 = 0x0040;
pub const AUDIT_STATUS_BACKLOG_WAIT_TIME_ACTUAL: u32 = 0x0080;

/// `AUDIT_FILTER_PREPEND`: insert at the front of the list instead of appending.
pub const AUDIT_FILTER_PREPEND: u32 = 0x10;

// Rule actions.
pub const AUDIT_NEVER: u32 = 0;
pub const AUDIT_ALWAYS: u32 = 2;

// Rule geometry.
pub const AUDIT_MAX_FIELDS: usize = 64;
pub const AUDIT_BITMASK_SIZE: usize = 64;
pub const AUDIT_MAX_KEY_LEN: usize = 256;
/// The kernel rejects longer path/dir/exe strings (`PATH_MAX`).
pub const PATH_MAX: usize = 4096;
/// Bytes before `buf[]` in `struct audit_rule_data`.
pub const RULE_DATA_HEADER: usize = 4 * (3 + AUDIT_BITMASK_SIZE + 3 * AUDIT_MAX_FIELDS + 1);
/// `AUDIT_MESSAGE_TEXT_MAX`: longest user message text the kernel logs whole.
pub const AUDIT_MESSAGE_TEXT_MAX: usize = 8560;

/// Keys of one rule are joined with this byte (`AUDIT_KEY_SEPARATOR`).
pub const AUDIT_KEY_SEPARATOR: u8 = 0x01;

/// Field number of `-C` comparisons (`AUDIT_FIELD_COMPARE`).
pub const AUDIT_FIELD_COMPARE: u32 = 111;

// Features (`AUDIT_FEATURE_*`).
pub const AUDIT_FEATURE_VERSION: u32 = 1;
pub const AUDIT_FEATURE_ONLY_UNSET_LOGINUID: u32 = 0;
pub const AUDIT_FEATURE_LOGINUID_IMMUTABLE: u32 = 1;
