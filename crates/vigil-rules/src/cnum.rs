//! C `strtoul`/`strtol` as glibc implements them, because auditctl reads numbers with them and
//! vigil must read `uid=0x10`, `a1&0100` (octal) and `uid=1000abc` (trailing text ignored) the
//! same way.

/// Result of reading a number the C way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CNum<T> {
    pub value: T,
    /// Bytes of the input that formed the number (0: no number at all).
    pub used: usize,
    /// The value did not fit (C sets `errno = ERANGE` and saturates).
    pub overflow: bool,
}

/// Base detection and digit scan shared by both functions: (negative, magnitude, used, overflow).
#[allow(clippy::many_single_char_names)]
fn scan(s: &str, base: u32) -> (bool, u64, usize, bool) {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && (b[i] == b' ' || (b'\t'..=b'\r').contains(&b[i])) {
        i += 1;
    }
    let mut neg = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        neg = b[i] == b'-';
        i += 1;
    }
    let mut base = base;
    let hex_prefix = i + 1 < b.len()
        && b[i] == b'0'
        && (b[i + 1] == b'x' || b[i + 1] == b'X')
        && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
    if (base == 0 || base == 16) && hex_prefix {
        base = 16;
        i += 2;
    } else if base == 0 {
        base = if i < b.len() && b[i] == b'0' { 8 } else { 10 };
    }
    let start = i;
    let mut value: u64 = 0;
    let mut overflow = false;
    while i < b.len() {
        let Some(d) = (b[i] as char).to_digit(base) else {
            break;
        };
        match value
            .checked_mul(u64::from(base))
            .and_then(|v| v.checked_add(u64::from(d)))
        {
            Some(v) => value = v,
            None => overflow = true,
        }
        i += 1;
    }
    if i == start {
        return (false, 0, 0, false);
    }
    (neg, value, i, overflow)
}

/// `strtoul(s, NULL, base)` on a 64-bit machine.
pub(crate) fn strtoul(s: &str, base: u32) -> CNum<u64> {
    let (neg, mag, used, overflow) = scan(s, base);
    let value = if overflow {
        u64::MAX
    } else if neg {
        mag.wrapping_neg()
    } else {
        mag
    };
    CNum {
        value,
        used,
        overflow,
    }
}

/// `strtol(s, NULL, base)` on a 64-bit machine.
pub(crate) fn strtol(s: &str, base: u32) -> CNum<i64> {
    let (neg, mag, used, overflow) = scan(s, base);
    let limit = if neg {
        i64::MIN.unsigned_abs()
    } else {
        i64::MAX as u64
    };
    let overflow = overflow || mag > limit;
    let value = match (overflow, neg) {
        (true, true) => i64::MIN,
        (true, false) => i64::MAX,
        (false, true) => (mag as i64).wrapping_neg(),
        (false, false) => mag as i64,
    };
    CNum {
        value,
        used,
        overflow,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_glibc() {
        assert_eq!(strtoul("1000abc", 0).value, 1000);
        assert_eq!(strtoul("1000abc", 0).used, 4);
        assert_eq!(strtoul("0x10", 0).value, 16);
        assert_eq!(strtoul("0100", 0).value, 64);
        assert_eq!(strtoul("0x", 0).value, 0);
        assert_eq!(strtoul("0x", 0).used, 1);
        assert_eq!(strtoul("c000003e", 16).value, 0xc000_003e);
        assert_eq!(strtoul("-1", 0).value, u64::MAX);
        assert!(strtoul("99999999999999999999999", 0).overflow);
        assert_eq!(strtoul("abc", 0).used, 0);
        assert_eq!(strtol("-13", 0).value, -13);
        assert_eq!(strtol("-0x7fffffff", 0).value, -0x7fff_ffff);
        assert_eq!(strtol("99999999999999999999", 10).value, i64::MAX);
        assert_eq!(strtol("08", 0).value, 0);
        assert_eq!(strtol("08", 0).used, 1);
    }
}
