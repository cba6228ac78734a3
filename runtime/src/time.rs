//! RFC 3339 timestamps without a date-time crate.

use std::time::{SystemTime, UNIX_EPOCH};

/// `2006-01-02T15:04:05.999999999Z`, as runc writes `created` (Go's RFC3339Nano, UTC).
pub fn rfc3339_nano(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let (date, time) = split(d.as_secs());
    let nanos = d.subsec_nanos();
    if nanos == 0 {
        return format!("{date}T{time}Z");
    }
    let frac = format!("{nanos:09}");
    format!("{date}T{time}.{}Z", frac.trim_end_matches('0'))
}

/// `2006-01-02T15:04:05Z` (seconds), as logrus writes `time`.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let (date, time) = split(d.as_secs());
    format!("{date}T{time}Z")
}

fn split(secs: u64) -> (String, String) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    (
        format!("{y:04}-{m:02}-{d:02}"),
        format!("{:02}:{:02}:{:02}", rem / 3600, (rem / 60) % 60, rem % 60),
    )
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats() {
        let t = UNIX_EPOCH + Duration::new(1_136_214_245, 999_999_999);
        assert_eq!(rfc3339_nano(t), "2006-01-02T15:04:05.999999999Z");
        let t = UNIX_EPOCH + Duration::new(1_136_214_245, 500_000_000);
        assert_eq!(rfc3339_nano(t), "2006-01-02T15:04:05.5Z");
        assert_eq!(rfc3339(t), "2006-01-02T15:04:05Z");
        assert_eq!(rfc3339_nano(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00Z");
    }
}
