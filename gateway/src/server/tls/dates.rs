//! Certificate dates: the validity window set on what is issued, and the `notAfter` read back
//! from a DER certificate (calendar arithmetic by hand: a certificate needs nothing more).

use rcgen::CertificateParams;

use crate::clock::now_secs;

/// Seconds in a day.
pub(super) const DAY: i64 = 86_400;

/// Sets not-before to yesterday (tolerates clock skew) and not-after to `days` from today,
/// both at midnight UTC.
pub(super) fn set_validity(params: &mut CertificateParams, days: i64) {
    let today = now_secs().div_euclid(DAY);
    let (y, m, d) = civil_from_days(today - 1);
    params.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = civil_from_days(today + days);
    params.not_after = rcgen::date_time_ymd(y, m, d);
}

/// Calendar date (proleptic Gregorian, UTC) of a count of days since 1970-01-01.
/// Howard Hinnant's `civil_from_days`; always yields a valid date.
pub(super) fn civil_from_days(days: i64) -> (i32, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        i32::try_from(year).unwrap_or(1970),
        u8::try_from(month).unwrap_or(1),
        u8::try_from(day).unwrap_or(1),
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (inverse of [`civil_from_days`]).
pub(super) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// One DER element: (tag, contents, rest). `None` on malformed input.
pub(super) fn der_next(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&len0, mut rest) = rest.split_first()?;
    let len = if len0 < 0x80 {
        usize::from(len0)
    } else {
        let n = usize::from(len0 & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let bytes = rest.get(..n)?;
        rest = rest.get(n..)?;
        bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
    };
    Some((tag, rest.get(..len)?, rest.get(len..)?))
}

/// The notAfter of a DER certificate as unix seconds; `None` when it cannot be read.
pub(super) fn not_after(cert: &[u8]) -> Option<i64> {
    validity(cert).map(|(_, after)| after)
}

/// The notBefore and notAfter of a DER certificate as unix seconds.
pub(super) fn validity(cert: &[u8]) -> Option<(i64, i64)> {
    let (_, cert_body, _) = der_next(cert)?;
    let (_, tbs, _) = der_next(cert_body)?;
    let mut rest = tbs;
    if let (0xa0, _, after_version) = der_next(rest)? {
        rest = after_version;
    }
    // serialNumber, signature algorithm, issuer
    for _ in 0..3 {
        rest = der_next(rest)?.2;
    }
    let (_, validity, _) = der_next(rest)?;
    let (before_tag, before, not_before_rest) = der_next(validity)?;
    let (tag, time, _) = der_next(not_before_rest)?;
    Some((
        parse_der_time(before_tag, before)?,
        parse_der_time(tag, time)?,
    ))
}

/// `UTCTime` (`YYMMDDHHMMSSZ`) or `GeneralizedTime` (`YYYYMMDDHHMMSSZ`) as unix seconds.
pub(super) fn parse_der_time(tag: u8, text: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(text).ok()?.strip_suffix('Z')?;
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (year, rest) = match (tag, text.len()) {
        (0x17, 12) => {
            let yy = num(0..2)?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, 2)
        }
        (0x18, 14) => (num(0..4)?, 4),
        _ => return None,
    };
    let month = num(rest..rest + 2)?;
    let day = num(rest + 2..rest + 4)?;
    let hour = num(rest + 4..rest + 6)?;
    let minute = num(rest + 6..rest + 8)?;
    let second = num(rest + 8..rest + 10)?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    Some(days_from_civil(year, month, day) * DAY + hour * 3600 + minute * 60 + second)
}
