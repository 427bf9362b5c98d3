//! Netlink framing for `NETLINK_AUDIT`: building requests and splitting datagrams into
//! messages, with every length checked. Pure byte code; the socket lives in `socket.rs`.

use crate::consts::{
    AUDIT_GET, AUDIT_GET_FEATURE, AUDIT_LIST_RULES, AUDIT_SIGNAL_INFO, AUDIT_TTY_GET, NLMSG_DONE,
    NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN,
};
use crate::error::{Error, Result};

/// `sizeof(struct nlmsghdr)`.
pub const NLMSG_HDRLEN: usize = 16;

/// Round up to netlink's 4-byte alignment.
pub fn nlmsg_align(len: usize) -> usize {
    (len + 3) & !3
}

/// One netlink message, borrowed from a received datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    pub msg_type: u16,
    pub flags: u16,
    pub seq: u32,
    pub portid: u32,
    pub payload: &'a [u8],
}

/// Builds one request message: header plus payload, padded.
pub fn build(msg_type: u16, flags: u16, seq: u32, payload: &[u8]) -> Result<Vec<u8>> {
    let len = NLMSG_HDRLEN + payload.len();
    let len32 = u32::try_from(len)
        .map_err(|_| Error::Invalid(format!("netlink payload of {} bytes", payload.len())))?;
    let mut out = Vec::with_capacity(nlmsg_align(len));
    out.extend_from_slice(&len32.to_ne_bytes());
    out.extend_from_slice(&msg_type.to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&0u32.to_ne_bytes()); // portid 0: the kernel fills it in.
    out.extend_from_slice(payload);
    out.resize(nlmsg_align(len), 0);
    Ok(out)
}

/// True for the types the kernel sends as replies built with a standard `nlmsg_len`.
/// Everything else is an audit record, whose `nlmsg_len` historically counts only the
/// payload (the kernel's "length quirk"); such a record is always alone in its datagram.
pub fn is_reply_type(msg_type: u16) -> bool {
    matches!(
        msg_type,
        NLMSG_NOOP
            | NLMSG_ERROR
            | NLMSG_DONE
            | NLMSG_OVERRUN
            | AUDIT_GET
            | AUDIT_SIGNAL_INFO
            | AUDIT_LIST_RULES
            | AUDIT_TTY_GET
            | AUDIT_GET_FEATURE
    )
}

/// Reads a native-endian u32 at `off`, or `None` when out of bounds.
pub fn read_u32(buf: &[u8], off: usize) -> Option<u32> {
    let bytes = buf.get(off..off.checked_add(4)?)?;
    Some(u32::from_ne_bytes(bytes.try_into().ok()?))
}

fn read_u16(buf: &[u8], off: usize) -> Option<u16> {
    let bytes = buf.get(off..off.checked_add(2)?)?;
    Some(u16::from_ne_bytes(bytes.try_into().ok()?))
}

/// Splits one received datagram into messages. Never panics; a truncated or inconsistent
/// header is a `Malformed` error naming the offset.
pub fn parse_datagram(buf: &[u8]) -> Result<Vec<Message<'_>>> {
    let mut out = Vec::new();
    let mut off = 0usize;
    while off < buf.len() {
        let rest = &buf[off..];
        if rest.len() < NLMSG_HDRLEN {
            // Trailing padding shorter than a header is legal filler; anything else is not.
            if rest.iter().all(|&b| b == 0) {
                break;
            }
            return Err(Error::malformed(
                "netlink datagram",
                format!("{} stray bytes at offset {off}", rest.len()),
            ));
        }
        let header = |o| read_u32(rest, o).unwrap_or(0);
        let len = header(0) as usize;
        let msg_type = read_u16(rest, 4).unwrap_or(0);
        let flags = read_u16(rest, 6).unwrap_or(0);
        let seq = header(8);
        let portid = header(12);
        if is_reply_type(msg_type) {
            if len < NLMSG_HDRLEN || len > rest.len() {
                return Err(Error::malformed(
                    "netlink message",
                    format!(
                        "type {msg_type} at offset {off}: length {len} outside {NLMSG_HDRLEN}..={}",
                        rest.len()
                    ),
                ));
            }
            out.push(Message {
                msg_type,
                flags,
                seq,
                portid,
                payload: &rest[NLMSG_HDRLEN..len],
            });
            off += nlmsg_align(len).max(NLMSG_HDRLEN);
        } else {
            // Audit record: nlmsg_len is the payload length (or, should the kernel ever fix
            // the quirk, the full length); either way the record ends the datagram.
            let end = NLMSG_HDRLEN.saturating_add(len).min(rest.len());
            out.push(Message {
                msg_type,
                flags,
                seq,
                portid,
                payload: &rest[NLMSG_HDRLEN..end],
            });
            break;
        }
    }
    Ok(out)
}

/// Decodes an `NLMSG_ERROR` payload: the errno (0 for an ACK) and the sequence number of
/// the request it answers.
pub fn parse_error(payload: &[u8]) -> Result<(i32, u32)> {
    let err = read_u32(payload, 0)
        .ok_or_else(|| Error::malformed("NLMSG_ERROR", format!("{} bytes", payload.len())))?;
    // The original request header follows; its seq matches the outer one, read it anyway.
    let seq = read_u32(payload, 4 + 8).unwrap_or(0);
    Ok((err as i32, seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_then_parse_reply() {
        let msg = build(AUDIT_GET, 5, 42, &[1, 2, 3]).unwrap();
        assert_eq!(msg.len(), 20);
        let parsed = parse_datagram(&msg).unwrap();
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].msg_type, AUDIT_GET);
        assert_eq!(parsed[0].seq, 42);
        assert_eq!(parsed[0].payload, &[1, 2, 3]);
    }

    #[test]
    fn two_replies_in_one_datagram() {
        let mut d = build(AUDIT_LIST_RULES, 2, 7, &[9; 5]).unwrap();
        d.extend(build(NLMSG_DONE, 2, 7, &[0; 4]).unwrap());
        let parsed = parse_datagram(&d).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].payload, &[9; 5]);
        assert_eq!(parsed[1].msg_type, NLMSG_DONE);
    }

    #[test]
    fn record_length_quirk() {
        // Kernel records count only the payload in nlmsg_len.
        let text = b"audit(1.002:3): hello";
        let mut d = Vec::new();
        d.extend_from_slice(&(text.len() as u32).to_ne_bytes());
        d.extend_from_slice(&1300u16.to_ne_bytes());
        d.extend_from_slice(&[0; 10]);
        d.extend_from_slice(text);
        let parsed = parse_datagram(&d).unwrap();
        assert_eq!(parsed[0].payload, text);
        // A standard length (header included) is clamped to the datagram.
        d[0..4].copy_from_slice(&((text.len() + 16) as u32).to_ne_bytes());
        assert_eq!(parse_datagram(&d).unwrap()[0].payload, text);
    }

    #[test]
    fn malformed_lengths_are_errors_not_panics() {
        let mut msg = build(AUDIT_GET, 0, 1, &[0; 8]).unwrap();
        msg[0..4].copy_from_slice(&1000u32.to_ne_bytes());
        assert!(parse_datagram(&msg).is_err());
        msg[0..4].copy_from_slice(&3u32.to_ne_bytes());
        assert!(parse_datagram(&msg).is_err());
        assert!(parse_datagram(&[1, 2, 3]).is_err());
        assert!(parse_datagram(&[0, 0]).unwrap().is_empty());
        assert!(parse_error(&[1]).is_err());
    }

    #[test]
    fn every_truncation_of_a_datagram_is_handled() {
        let mut d = build(AUDIT_LIST_RULES, 2, 7, &[9; 30]).unwrap();
        d.extend(build(NLMSG_ERROR, 0, 7, &[0; 20]).unwrap());
        for cut in 0..d.len() {
            let _ = parse_datagram(&d[..cut]);
        }
    }
}
