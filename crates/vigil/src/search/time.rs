//! `-ts` / `-te` as ausearch reads them (`ausearch-time.c`): keywords (`now`, `recent`,
//! `boot`, `today`, `yesterday`, `this-week`, `week-ago`, `this-month`, `this-year`), a date in
//! the locale's `%x` form (`date '+%x'`: `11/25/26` in the C locale), a time `HH:MM[:SS]`, or
//! both, in local time. Also accepted: `MM/DD/YYYY` and ISO `YYYY-MM-DD` dates.
//!
//! A missing time means midnight for `-ts` and the current time of day for `-te`; a missing
//! date means today. `-te today` means now.

use std::ffi::CString;

const DAY: i64 = 24 * 60 * 60;

/// Which end of the range is being set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Start,
    End,
}

/// The time keywords.
pub const KEYWORDS: [&str; 9] = [
    "now",
    "recent",
    "boot",
    "today",
    "yesterday",
    "this-week",
    "week-ago",
    "this-month",
    "this-year",
];

/// Whether `s` is a time keyword.
pub fn is_keyword(s: &str) -> bool {
    KEYWORDS.contains(&s)
}

/// Makes `%x` follow the user's locale (`LC_TIME`), as ausearch's `setlocale(LC_ALL, "")`.
pub fn init_locale() {
    // SAFETY: called once at start-up, before any other thread exists; the argument is a
    // NUL-terminated empty string.
    unsafe {
        libc::setlocale(libc::LC_TIME, c"".as_ptr());
    }
}

fn now() -> i64 {
    // SAFETY: time(NULL) only returns the clock.
    unsafe { libc::time(std::ptr::null_mut()) }
}

fn local(t: i64) -> libc::tm {
    // SAFETY: all-zero is a valid tm; localtime_r writes into it.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let t = t as libc::time_t;
    // SAFETY: both pointers are valid for the call.
    unsafe { libc::localtime_r(&raw const t, &raw mut tm) };
    tm
}

fn mktime(tm: &mut libc::tm) -> Option<i64> {
    // SAFETY: tm is a valid, initialised struct.
    let t = unsafe { libc::mktime(tm) };
    (t != -1).then_some(t)
}

/// Parses `s` with `strptime(fmt)` into `tm`; true only when all of `s` was consumed.
fn strptime(s: &str, fmt: &str, tm: &mut libc::tm) -> bool {
    let (Ok(cs), Ok(cf)) = (CString::new(s), CString::new(fmt)) else {
        return false;
    };
    // SAFETY: both strings are NUL-terminated and live across the call; tm is valid.
    let end = unsafe { libc::strptime(cs.as_ptr(), cf.as_ptr(), tm) };
    // SAFETY: strptime returns null or a pointer into `cs`.
    !end.is_null() && unsafe { *end } == 0
}

fn set_date(d: &mut libc::tm, from: &libc::tm) {
    d.tm_mday = from.tm_mday;
    d.tm_mon = from.tm_mon;
    d.tm_year = from.tm_year;
    d.tm_isdst = from.tm_isdst;
}

fn set_clock(d: &mut libc::tm, from: &libc::tm) {
    d.tm_sec = from.tm_sec;
    d.tm_min = from.tm_min;
    d.tm_hour = from.tm_hour;
}

fn midnight(d: &mut libc::tm) {
    d.tm_sec = 0;
    d.tm_min = 0;
    d.tm_hour = 0;
}

fn boot_time() -> Option<i64> {
    let up = std::fs::read_to_string("/proc/uptime").ok()?;
    let secs: f64 = up.split_whitespace().next()?.parse().ok()?;
    Some(now() - secs as i64)
}

/// A keyword's date (and for `now`, `recent`, `boot`, its time: those are final).
fn keyword(word: &str, d: &mut libc::tm) -> Option<bool> {
    let t = now();
    let today = local(t);
    match word {
        "now" => *d = today,
        "recent" => *d = local(t - 10 * 60),
        "boot" => *d = local(boot_time()?),
        "today" => {
            midnight(d);
            set_date(d, &today);
        }
        "yesterday" => {
            midnight(d);
            set_date(d, &local(t - DAY));
        }
        "this-week" => {
            midnight(d);
            set_date(d, &local(t - i64::from(today.tm_wday) * DAY));
        }
        "week-ago" => {
            midnight(d);
            set_date(d, &local(t - 7 * DAY));
        }
        "this-month" => {
            midnight(d);
            set_date(d, &today);
            d.tm_mday = 1;
        }
        "this-year" => {
            midnight(d);
            set_date(d, &today);
            d.tm_mday = 1;
            d.tm_mon = 0;
        }
        _ => return None,
    }
    Some(matches!(word, "now" | "recent" | "boot"))
}

/// The time given by `date` and/or `time` (either may be missing, not both), as seconds since
/// the epoch. Errors say what was wrong, as ausearch's do.
pub fn parse(end: End, date: Option<&str>, time: Option<&str>) -> Result<i64, String> {
    let which = if end == End::Start { "start" } else { "end" };
    // SAFETY: all-zero is a valid tm.
    let mut d: libc::tm = unsafe { std::mem::zeroed() };
    match date {
        None => d = local(now()),
        Some(w) if is_keyword(w) => {
            let fin = keyword(w, &mut d).ok_or_else(|| format!("cannot compute {w}"))?;
            if fin || (end == End::End && w == "today") {
                if end == End::End && w == "today" {
                    d = local(now());
                }
                return mktime(&mut d).ok_or_else(|| format!("Error converting {which} time"));
            }
        }
        Some(s) => {
            let ok = strptime(s, "%x", &mut d)
                || strptime(s, "%m/%d/%Y", &mut d)
                || strptime(s, "%Y-%m-%d", &mut d);
            if !ok {
                return Err(format!(
                    "Invalid {which} date ({s}). Month, Day, and Year are required: \
                     the locale's form (date '+%x'), MM/DD/YYYY or YYYY-MM-DD"
                ));
            }
        }
    }
    let mut t: libc::tm = local(now());
    match time {
        Some(s) => {
            let padded = if s.len() <= 5 {
                format!("{s}:00")
            } else {
                s.to_string()
            };
            // SAFETY: all-zero is a valid tm.
            let mut parsed: libc::tm = unsafe { std::mem::zeroed() };
            if !(strptime(&padded, "%X", &mut parsed) || strptime(&padded, "%H:%M:%S", &mut parsed))
            {
                return Err(format!(
                    "Invalid {which} time ({s}). Hour, Minute, and Second are required (HH:MM:SS)"
                ));
            }
            set_clock(&mut d, &parsed);
        }
        None if end == End::Start => midnight(&mut d),
        None => {
            set_clock(&mut d, &t);
        }
    }
    // Daylight saving as it is now (what ausearch does).
    t = local(now());
    d.tm_isdst = t.tm_isdst;
    if d.tm_year < 104 {
        return Err(format!("Error - year is {}", d.tm_year + 1900));
    }
    mktime(&mut d).ok_or_else(|| format!("Error converting {which} time"))
}

/// `%x %T` of `sec` in local time (the time in ausearch's interpreted records).
pub fn format_local(sec: u64) -> String {
    let tm = local(i64::try_from(sec).unwrap_or(i64::MAX));
    let mut buf = [0u8; 64];
    // SAFETY: the format is NUL-terminated; strftime writes at most buf.len() bytes.
    let n = unsafe {
        libc::strftime(
            buf.as_mut_ptr().cast(),
            buf.len(),
            c"%x %T".as_ptr(),
            &raw const tm,
        )
    };
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// `ctime(3)` of `sec` without its newline (`Wed Nov 25 11:32:50 2026`), in English as ctime
/// always is.
pub fn ctime(sec: u64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let tm = local(i64::try_from(sec).unwrap_or(i64::MAX));
    format!(
        "{} {}{:3} {:02}:{:02}:{:02} {}",
        DAYS[tm.tm_wday.clamp(0, 6) as usize],
        MONTHS[tm.tm_mon.clamp(0, 11) as usize],
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        i64::from(tm.tm_year) + 1900
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_agree_with_each_other() {
        let iso = parse(End::Start, Some("2024-03-05"), Some("10:20:30")).unwrap();
        let us = parse(End::Start, Some("03/05/2024"), Some("10:20:30")).unwrap();
        assert_eq!(iso, us);
        let rev = parse(End::Start, Some("03/05/2024"), Some("10:20")).unwrap();
        assert_eq!(rev + 30, iso);
        let midnight = parse(End::Start, Some("03/05/2024"), None).unwrap();
        assert_eq!(iso - midnight, 10 * 3600 + 20 * 60 + 30);
    }

    #[test]
    fn keywords() {
        let n = now();
        let today = parse(End::Start, Some("today"), None).unwrap();
        assert!(today <= n && n - today < DAY + 3600);
        let recent = parse(End::Start, Some("recent"), None).unwrap();
        assert!((n - 600 - recent).abs() <= 2);
        let end_today = parse(End::End, Some("today"), None).unwrap();
        assert!((end_today - n).abs() <= 2);
        let yesterday = parse(End::Start, Some("yesterday"), None).unwrap();
        assert!(today - yesterday >= DAY - 3600 && today - yesterday <= DAY + 3600);
        assert!(parse(End::Start, Some("this-year"), None).unwrap() <= today);
        assert!(parse(End::Start, Some("this-month"), None).unwrap() <= today);
        assert!(parse(End::Start, Some("week-ago"), None).unwrap() < today);
        assert!(parse(End::Start, Some("this-week"), None).unwrap() <= today);
        assert!(parse(End::Start, Some("boot"), None).unwrap() <= n);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(parse(End::Start, Some("13/45/2024"), None).is_err());
        assert!(parse(End::Start, Some("01/01/1999"), None).is_err());
        assert!(parse(End::Start, None, Some("25:99:00")).is_err());
        assert!(parse(End::Start, Some("a\0b"), None).is_err());
    }

    #[test]
    fn ctime_layout() {
        // 2023-11-14 22:13:20 UTC; the day of month is padded to width 2 after one space.
        let s = ctime(1_700_000_000);
        assert_eq!(s.len(), 24, "{s}");
        assert!(s.ends_with("2023") || s.ends_with("2023"), "{s}");
    }
}
