//! Value types of the configuration: keyword enums and disk-space thresholds.
//!
//! Keywords are read from strings by hand (not derived) so that an auditd keyword vigil
//! deliberately does not implement gets a message saying why and what to use instead.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// Declares a keyword enum: its TOML spellings, and auditd keywords refused with a reason.
macro_rules! keyword_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }
        refused { $($bad:literal => $why:expr),* $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            pub const ALL: &'static [&'static str] = &[$($text),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    $($bad => Err(format!("`{}` is not supported: {}", $bad, $why)),)*
                    other => Err(format!(
                        "unknown value `{}`, expected one of {}",
                        other,
                        expected_list(Self::ALL)
                    )),
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(de::Error::custom)
            }
        }
    };
}

fn expected_list(all: &[&str]) -> String {
    all.iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

const NO_HALT: &str = "vigil never halts the machine or changes its runlevel; use `suspend` \
                       (stop writing, count the losses) or `stop` (write DAEMON_ABORT and exit)";
const NO_EXEC: &str = "vigil runs no external programs on disk events; use `syslog` and \
                       act on vigil's log messages";

keyword_enum! {
    /// `log.format`.
    LogFormat {
        Raw = "raw",
        Enriched = "enriched",
        Json = "json",
    }
    refused {}
}

keyword_enum! {
    /// `log.flush`: how hard vigil pushes written records to the disk.
    Flush {
        /// Leave it to the kernel's page cache.
        None = "none",
        /// `fdatasync` every `freq` records, in the writer thread.
        Incremental = "incremental",
        /// `fdatasync` every `freq` records, in a separate flush thread.
        IncrementalAsync = "incremental_async",
        /// The file is opened `O_DSYNC`.
        Data = "data",
        /// The file is opened `O_SYNC`.
        Sync = "sync",
    }
    refused {}
}

keyword_enum! {
    /// `log.max_log_file_action`.
    MaxLogFileAction {
        Ignore = "ignore",
        Syslog = "syslog",
        Suspend = "suspend",
        Rotate = "rotate",
        KeepLogs = "keep_logs",
    }
    refused {}
}

keyword_enum! {
    /// `disk.*_action`: what to do when free space crosses a threshold or a write fails.
    DiskAction {
        Ignore = "ignore",
        /// Log a warning (once per crossing).
        Syslog = "syslog",
        /// Rotate the logs, dropping the oldest, to free space.
        Rotate = "rotate",
        /// Stop writing (events are counted as lost) until space returns, SIGUSR2 or rotation.
        Suspend = "suspend",
        /// Write `DAEMON_ABORT` and exit with status 1.
        Stop = "stop",
    }
    refused {
        "single" => NO_HALT,
        "halt" => NO_HALT,
        "email" => NO_EXEC,
        "exec" => NO_EXEC,
    }
}

keyword_enum! {
    /// `queue.overflow_action`: what happens to an event when the writer queue is full.
    OverflowAction {
        /// Drop it (counted, reported in-band).
        Drop = "drop",
        /// Drop it (counted, reported in-band) and log a rate-limited warning.
        Syslog = "syslog",
        /// Make the event source wait; losses then happen upstream (e.g. the BPF ring
        /// buffer), where they are counted too.
        Block = "block",
    }
    refused {
        "ignore" => "use `drop` (vigil always counts what it drops)",
        "suspend" => "use `block` or `drop`",
        "single" => NO_HALT,
        "halt" => NO_HALT,
    }
}

keyword_enum! {
    /// `node.name_format`: the `node=` prefix of every record.
    NameFormat {
        None = "none",
        Hostname = "hostname",
        User = "user",
    }
    refused {
        "fqd" => "vigil does no DNS lookups; use `hostname` or `user` with `name`",
        "numeric" => "vigil does no address lookups; use `user` with `name`",
    }
}

/// A free-space threshold: MiB, or a percentage of the filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Space {
    Mib(u64),
    Percent(u8),
}

impl Space {
    /// The threshold in bytes for a filesystem of `total` bytes.
    pub fn bytes(self, total: u64) -> u64 {
        match self {
            Space::Mib(m) => m.saturating_mul(1 << 20),
            Space::Percent(p) => total / 100 * u64::from(p),
        }
    }
}

impl fmt::Display for Space {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Space::Mib(m) => write!(f, "{m} MiB"),
            Space::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl FromStr for Space {
    type Err = String;
    fn from_str(s: &str) -> Result<Space, String> {
        let t = s.trim();
        if let Some(p) = t.strip_suffix('%') {
            return match p.trim().parse::<u8>() {
                Ok(n) if n <= 99 => Ok(Space::Percent(n)),
                _ => Err(format!(
                    "`{s}` is not a percentage from 0% to 99% (or give MiB as a number)"
                )),
            };
        }
        t.parse::<u64>()
            .map(Space::Mib)
            .map_err(|_| format!("`{s}` is neither MiB (a number) nor a percentage like \"10%\""))
    }
}

impl<'de> Deserialize<'de> for Space {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Space, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Space;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("MiB as a number, or a percentage string like \"10%\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Space, E> {
                u64::try_from(v)
                    .map(Space::Mib)
                    .map_err(|_| E::custom(format!("{v} MiB is negative")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Space, E> {
                Ok(Space::Mib(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Space, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_parse_and_refuse_with_reasons() {
        assert_eq!("keep_logs".parse(), Ok(MaxLogFileAction::KeepLogs));
        let e = "halt".parse::<DiskAction>().unwrap_err();
        assert!(e.contains("never halts"), "{e}");
        let e = "bogus".parse::<Flush>().unwrap_err();
        assert!(e.contains("`incremental_async`"), "{e}");
    }

    #[test]
    fn space_forms() {
        assert_eq!("10%".parse(), Ok(Space::Percent(10)));
        assert_eq!(" 75 ".parse(), Ok(Space::Mib(75)));
        assert!("100%".parse::<Space>().is_err());
        assert!("lots".parse::<Space>().is_err());
        assert_eq!(Space::Percent(10).bytes(1000), 100);
        assert_eq!(Space::Mib(2).bytes(0), 2 << 20);
    }
}
