//! Byte-level helpers: integer formatting without allocation, hex, and the untrusted-string
//! rule of the kernel (`audit_string_contains_control`).

const DIGITS2: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";
const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

/// Appends `n` in decimal.
#[inline]
pub fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    if n < 10 {
        out.push(b'0' + n as u8);
        return;
    }
    let mut buf = [0u8; 20];
    let mut i = 20;
    while n >= 100 {
        let d = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        buf[i] = DIGITS2[d];
        buf[i + 1] = DIGITS2[d + 1];
    }
    if n >= 10 {
        let d = n as usize * 2;
        i -= 2;
        buf[i] = DIGITS2[d];
        buf[i + 1] = DIGITS2[d + 1];
    } else {
        i -= 1;
        buf[i] = b'0' + n as u8;
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends `n` in decimal with a leading `-` when negative.
#[inline]
pub fn push_i64(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    push_u64(out, n.unsigned_abs());
}

/// Appends `n` in lowercase hex without leading zeros (`%x`).
#[inline]
pub fn push_hex_lower(out: &mut Vec<u8>, n: u64) {
    push_hex_lower_min(out, n, 1);
}

/// Appends `n` in lowercase hex, at least `width` digits.
#[inline]
pub fn push_hex_lower_min(out: &mut Vec<u8>, mut n: u64, width: usize) {
    let mut buf = [b'0'; 16];
    let mut i = 16;
    while n != 0 {
        i -= 1;
        buf[i] = HEX_LOWER[(n & 15) as usize];
        n >>= 4;
    }
    let start = i.min(16 - width.min(16));
    out.extend_from_slice(&buf[start..]);
}

/// Appends `n` in octal with a leading zero (`%#o`, so 0 is "0").
#[inline]
pub fn push_oct(out: &mut Vec<u8>, mut n: u32) {
    let mut buf = [0u8; 12];
    let mut i = 12;
    while n != 0 {
        i -= 1;
        buf[i] = b'0' + (n & 7) as u8;
        n >>= 3;
    }
    i -= 1;
    buf[i] = b'0';
    out.extend_from_slice(&buf[i..]);
}

/// Appends `bytes` as uppercase hex.
#[inline]
pub fn push_hex_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() * 2);
    for &b in bytes {
        out.push(HEX_UPPER[(b >> 4) as usize]);
        out.push(HEX_UPPER[(b & 15) as usize]);
    }
}

/// The kernel's test: a string needs hex encoding when a byte is `"`, below 0x21 or above 0x7e.
#[inline]
pub fn needs_hex(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .any(|&b| b == b'"' || !(0x21..=0x7e).contains(&b))
}

/// Appends an untrusted string: `"text"` when safe, uppercase hex otherwise.
#[inline]
pub fn push_untrusted(out: &mut Vec<u8>, bytes: &[u8]) {
    if needs_hex(bytes) {
        push_hex_bytes(out, bytes);
    } else {
        out.reserve(bytes.len() + 2);
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
    }
}

/// Length of `bytes` once written as an untrusted string.
pub fn untrusted_len(bytes: &[u8]) -> usize {
    if needs_hex(bytes) {
        bytes.len() * 2
    } else {
        bytes.len() + 2
    }
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes hex (either case); `None` for odd length or a non-hex byte.
pub fn decode_hex(text: &[u8]) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.chunks_exact(2)
        .map(|p| Some(hex_val(p[0])? << 4 | hex_val(p[1])?))
        .collect()
}

/// Parses an unsigned decimal (no sign, no spaces, at least one digit, no overflow).
pub fn parse_dec(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in text {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// Parses a signed decimal.
pub fn parse_sdec(text: &[u8]) -> Option<i64> {
    match text.strip_prefix(b"-") {
        Some(rest) => {
            let n = parse_dec(rest)?;
            if n == 1 << 63 {
                Some(i64::MIN)
            } else {
                i64::try_from(n).ok().map(|v| -v)
            }
        }
        None => i64::try_from(parse_dec(text)?).ok(),
    }
}

/// Parses hex without prefix, at most 16 digits.
pub fn parse_hex(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 16 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in text {
        n = n << 4 | u64::from(hex_val(b)?);
    }
    Some(n)
}

/// Parses octal with optional leading zeros, fitting in u32.
pub fn parse_oct(text: &[u8]) -> Option<u32> {
    if text.is_empty() || text.len() > 12 {
        return None;
    }
    let mut n: u64 = 0;
    for &b in text {
        if !(b'0'..=b'7').contains(&b) {
            return None;
        }
        n = n << 3 | u64::from(b - b'0');
    }
    u32::try_from(n).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_format_like_printf() {
        for n in [0u64, 1, 9, 10, 99, 100, 12345, u64::MAX, 4_294_967_295] {
            let mut v = Vec::new();
            push_u64(&mut v, n);
            assert_eq!(v, n.to_string().as_bytes());
            assert_eq!(parse_dec(&v), Some(n));
        }
        for n in [0i64, -1, -13, i64::MIN, i64::MAX] {
            let mut v = Vec::new();
            push_i64(&mut v, n);
            assert_eq!(v, n.to_string().as_bytes());
            assert_eq!(parse_sdec(&v), Some(n));
        }
        for n in [0u64, 0xc000_003e, u64::MAX, 0x10] {
            let mut v = Vec::new();
            push_hex_lower(&mut v, n);
            assert_eq!(v, format!("{n:x}").as_bytes());
            assert_eq!(parse_hex(&v), Some(n));
        }
        let mut v = Vec::new();
        push_hex_lower_min(&mut v, 1, 2);
        assert_eq!(v, b"01");
        for n in [0u32, 0o100_644, 0o40755, u32::MAX] {
            let mut v = Vec::new();
            push_oct(&mut v, n);
            let want = if n == 0 {
                "0".to_string()
            } else {
                format!("0{n:o}")
            };
            assert_eq!(v, want.as_bytes());
            assert_eq!(parse_oct(&v), Some(n));
        }
    }

    #[test]
    fn untrusted_rule_matches_kernel() {
        let mut v = Vec::new();
        push_untrusted(&mut v, b"/etc/passwd");
        assert_eq!(v, b"\"/etc/passwd\"");
        v.clear();
        push_untrusted(&mut v, b"a b");
        assert_eq!(v, b"612062");
        v.clear();
        push_untrusted(&mut v, b"q\"");
        assert_eq!(v, b"7122");
        assert_eq!(decode_hex(b"612062").unwrap(), b"a b");
        assert!(decode_hex(b"6").is_none());
        assert!(decode_hex(b"zz").is_none());
        assert_eq!(parse_dec(b"99999999999999999999"), None);
        assert_eq!(parse_dec(b""), None);
    }
}
