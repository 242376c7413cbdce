//! Reading the many ways offices write dates and times. Everything is stored as local time in
//! Asia/Shanghai (UTC+8, no daylight saving since 1991), so a value with a zone is converted and
//! a value without one is taken as it is.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Utc};

/// Asia/Shanghai as a fixed offset: exact for every date the project deals with.
pub fn china() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("valid offset")
}

/// The current local time in Asia/Shanghai.
pub fn now_local() -> NaiveDateTime {
    Utc::now().with_timezone(&china()).naive_local()
}

/// The current local time as stored.
pub fn now_text() -> String {
    store_text(now_local())
}

pub const STORE_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// `2020-02-01 13:05:09` as stored, written without chrono's format-string machinery
/// (which costs more than the rest of a row's validation).
pub fn store_text(t: NaiveDateTime) -> String {
    use chrono::{Datelike, Timelike};
    fn push_digits(out: &mut String, n: u32, width: u32) {
        for place in (0..width).rev() {
            out.push(char::from(b'0' + (n / 10u32.pow(place) % 10) as u8));
        }
    }
    let mut out = String::with_capacity(19);
    push_digits(&mut out, t.year().clamp(0, 9999) as u32, 4);
    for (sep, n) in [
        ('-', t.month()),
        ('-', t.day()),
        (' ', t.hour()),
        (':', t.minute()),
        (':', t.second()),
    ] {
        out.push(sep);
        push_digits(&mut out, n, 2);
    }
    out
}

/// The common `YYYY-MM-DD HH:MM:SS` (or `T`) form, read by hand.
fn parse_canonical(s: &str) -> Option<NaiveDateTime> {
    let b = s.as_bytes();
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b' ' | b'T')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + (c - b'0') as u32)
        })
    };
    NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?.and_hms_opt(
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    )
}

/// Parse a date-time cell. A bare date is taken as midnight.
pub fn parse_datetime(raw: &str) -> Result<NaiveDateTime, String> {
    let s = raw.trim();
    if let Some(t) = parse_canonical(s) {
        return Ok(t);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Ok(dt.with_timezone(&china()).naive_local());
    }
    for fmt in ["%Y-%m-%d %H:%M:%S%z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(dt) = DateTime::parse_from_str(s, fmt) {
            return Ok(dt.with_timezone(&china()).naive_local());
        }
    }
    let norm = normalise(s);
    for fmt in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y%m%d %H%M%S",
        "%Y%m%d%H%M%S",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(&norm, fmt) {
            return Ok(dt);
        }
    }
    parse_date_normalised(&norm)
        .map(|d| d.and_time(NaiveTime::MIN))
        .ok_or_else(|| format!("not a date and time: '{}'", excerpt(s)))
}

/// Parse a date cell; a date-time is accepted and its date kept.
pub fn parse_date(raw: &str) -> Result<NaiveDate, String> {
    let s = raw.trim();
    let norm = normalise(s);
    parse_date_normalised(&norm)
        .or_else(|| parse_datetime(s).ok().map(|dt| dt.date()))
        .ok_or_else(|| format!("not a date: '{}'", excerpt(s)))
}

fn parse_date_normalised(norm: &str) -> Option<NaiveDate> {
    ["%Y-%m-%d", "%Y%m%d"]
        .into_iter()
        .find_map(|fmt| NaiveDate::parse_from_str(norm, fmt).ok())
        .filter(|d| (1990..=2100).contains(&chrono::Datelike::year(d)))
}

/// 2020/2/1, 2020.2.1, 2020年2月1日 13时05分 and ISO's T all become 2020-2-1 13:05.
fn normalise(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_time = false;
    for c in s.chars() {
        match c {
            // A dot before the time is a date separator; after it, a fraction of a second.
            '.' if in_time => out.push('.'),
            '/' | '.' | '年' | '月' => out.push('-'),
            '日' | '号' | 'T' => out.push(' '),
            '时' | '点' | '分' | ':' | '：' => {
                in_time = true;
                out.push(':')
            }
            '秒' => {}
            _ => out.push(c),
        }
    }
    // "13:05:" from 时分 forms, and doubled spaces, would defeat the formats above.
    let trimmed = out.trim().trim_end_matches(':').to_string();
    trimmed.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn excerpt(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> String {
        let t = parse_datetime(s).unwrap();
        assert_eq!(store_text(t), t.format(STORE_FORMAT).to_string());
        store_text(t)
    }

    #[test]
    fn accepts_office_spellings() {
        assert_eq!(dt("2020-02-01 13:05:09"), "2020-02-01 13:05:09");
        assert_eq!(dt("2020/2/1 13:05"), "2020-02-01 13:05:00");
        assert_eq!(dt("2020年2月1日 13时05分"), "2020-02-01 13:05:00");
        assert_eq!(dt("2020-02-01T13:05:09"), "2020-02-01 13:05:09");
        assert_eq!(dt("2020-02-01"), "2020-02-01 00:00:00");
        assert_eq!(dt("2020.02.01 08:00"), "2020-02-01 08:00:00");
    }

    #[test]
    fn zoned_times_become_shanghai_local() {
        assert_eq!(dt("2020-02-01T05:05:09Z"), "2020-02-01 13:05:09");
        assert_eq!(dt("2020-02-01T13:05:09+08:00"), "2020-02-01 13:05:09");
    }

    #[test]
    fn rejects_nonsense() {
        assert!(parse_datetime("2020-13-45 10:00").is_err());
        assert!(parse_datetime("2020-02-30 10:00:00").is_err());
        assert!(parse_datetime("2020-02-01 25:00:00").is_err());
        assert!(parse_datetime("昨天下午").is_err());
        assert!(parse_datetime("").is_err());
        assert!(parse_date("2020-02-30").is_err());
        assert_eq!(parse_date("2020/3/2").unwrap().to_string(), "2020-03-02");
    }
}
