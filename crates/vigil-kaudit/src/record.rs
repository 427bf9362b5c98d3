//! Audit records as the kernel sends them: a type number and a text payload whose first
//! token is the event stamp `audit(SEC.MSEC:SERIAL):`.

/// One audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// `AUDIT_*` record type (1300 = SYSCALL, ...).
    pub msg_type: u16,
    /// The text, without trailing NUL bytes or newline.
    pub text: Vec<u8>,
}

/// The event stamp shared by all records of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp {
    pub sec: u64,
    pub msec: u32,
    /// The kernel's event serial number.
    pub serial: u64,
}

impl Record {
    pub fn new(msg_type: u16, payload: &[u8]) -> Record {
        let mut end = payload.len();
        while end > 0 && matches!(payload[end - 1], 0 | b'\n') {
            end -= 1;
        }
        Record {
            msg_type,
            text: payload[..end].to_vec(),
        }
    }

    /// The text as UTF-8 (invalid bytes replaced; the kernel hex-encodes untrusted strings,
    /// so this only matters for broken records).
    pub fn text_lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.text)
    }

    /// Parses the leading `audit(SEC.MSEC:SERIAL):` stamp, if well formed.
    pub fn stamp(&self) -> Option<Stamp> {
        let rest = self.text.strip_prefix(b"audit(")?;
        let close = rest.iter().position(|&b| b == b')')?;
        let inner = std::str::from_utf8(&rest[..close]).ok()?;
        let (time, serial) = inner.split_once(':')?;
        let (sec, msec) = time.split_once('.')?;
        Some(Stamp {
            sec: sec.parse().ok()?,
            msec: msec.parse().ok()?,
            serial: serial.parse().ok()?,
        })
    }

    /// The fields after the stamp (`arch=c000003e syscall=59 ...`).
    pub fn body(&self) -> &[u8] {
        let Some(close) = self.text.windows(2).position(|w| w == b"):") else {
            return &self.text;
        };
        let rest = &self.text[close + 2..];
        rest.strip_prefix(b" ").unwrap_or(rest)
    }

    /// The raw value of the first `name=value` field in the body (quotes kept), if any.
    pub fn field(&self, name: &str) -> Option<&[u8]> {
        let body = self.body();
        let mut i = 0;
        while i < body.len() {
            let end = body[i..]
                .iter()
                .position(|&b| b == b' ')
                .map_or(body.len(), |p| i + p);
            let token = &body[i..end];
            if let Some(v) = token
                .strip_prefix(name.as_bytes())
                .and_then(|t| t.strip_prefix(b"="))
            {
                return Some(v);
            }
            i = end + 1;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_body_and_fields() {
        let r = Record::new(
            1300,
            b"audit(1700000000.042:981): arch=c000003e syscall=59 key=\"k1\"\0",
        );
        assert_eq!(
            r.stamp(),
            Some(Stamp {
                sec: 1_700_000_000,
                msec: 42,
                serial: 981
            })
        );
        assert!(r.body().starts_with(b"arch="));
        assert_eq!(r.field("syscall"), Some(&b"59"[..]));
        assert_eq!(r.field("key"), Some(&b"\"k1\""[..]));
        assert_eq!(r.field("sys"), None);
        assert_eq!(r.field("exit"), None);
    }

    #[test]
    fn malformed_stamps_give_none() {
        for t in [
            &b""[..],
            b"audit(",
            b"audit(1.2)",
            b"audit(x.1:2): a",
            b"audit(1.2:3",
            b"hello",
        ] {
            let r = Record::new(1300, t);
            assert_eq!(r.stamp(), None, "{t:?}");
            let _ = r.body();
            let _ = r.field("a");
        }
    }
}
