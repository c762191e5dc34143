//! Time helpers that work the same in the browser and on the server: the
//! current time, and the sidebar's date groups (Today, Yesterday, Previous 7
//! days, Previous 30 days, then one group per month), computed in the
//! viewer's local time zone.

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now() as i64
    }
    #[cfg(not(feature = "hydrate"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

/// Minutes to add to UTC to get local time (the browser's zone; UTC on the server).
pub fn local_offset_minutes() -> i64 {
    #[cfg(feature = "hydrate")]
    {
        -(js_sys::Date::new_0().get_timezone_offset() as i64)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        0
    }
}

const DAY_MS: i64 = 24 * 3600 * 1000;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Days since the epoch → (year, month 1-12, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The sidebar group a thread updated at `ts` falls in, seen at `now`.
pub fn group_label(ts: i64, now: i64, offset_min: i64) -> String {
    let shift = offset_min * 60_000;
    let day = |t: i64| (t + shift).div_euclid(DAY_MS);
    let age_days = day(now) - day(ts);
    match age_days {
        i64::MIN..=0 => "Today".into(),
        1 => "Yesterday".into(),
        2..=7 => "Previous 7 days".into(),
        8..=30 => "Previous 30 days".into(),
        _ => {
            let (y, m, _) = civil_from_days(day(ts));
            format!("{} {y}", MONTHS[(m - 1) as usize])
        }
    }
}

/// A past moment in words, seen at `now`: "just now", "5 minutes ago",
/// "3 hours ago", else the (UTC) date such as "November 21, 2026".
pub fn relative(ts: i64, now: i64) -> String {
    let mins = (now - ts).max(0) / 60_000;
    match mins {
        0 => "just now".into(),
        1 => "1 minute ago".into(),
        2..=59 => format!("{mins} minutes ago"),
        60..=119 => "1 hour ago".into(),
        120..=1439 => format!("{} hours ago", mins / 60),
        _ => {
            let (y, m, d) = civil_from_days(ts.div_euclid(DAY_MS));
            format!("{} {d}, {y}", MONTHS[(m - 1) as usize])
        }
    }
}

/// The local time of day of `ts` as `HH:MM` (24-hour), in the viewer's zone.
pub fn clock(ts: i64) -> String {
    clock_at_offset(ts, local_offset_minutes())
}

fn clock_at_offset(ts: i64, offset_min: i64) -> String {
    let minutes = (ts.div_euclid(60_000) + offset_min).rem_euclid(24 * 60);
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_shows_the_local_time_of_day() {
        // 2026-12-01 09:05:30 UTC
        let ts = 1_796_115_930_000;
        assert_eq!(clock_at_offset(ts, 0), "09:05");
        assert_eq!(clock_at_offset(ts, 60), "10:05");
        assert_eq!(clock_at_offset(ts, -600), "23:05");
    }

    // 2026-11-21T12:00:00Z
    const NOW: i64 = 1_795_262_400_000;
    const H: i64 = 3600 * 1000;

    #[test]
    fn groups_by_local_day() {
        assert_eq!(group_label(NOW - H, NOW, 0), "Today");
        assert_eq!(group_label(NOW - 13 * H, NOW, 0), "Yesterday");
        assert_eq!(group_label(NOW - 3 * 24 * H, NOW, 0), "Previous 7 days");
        assert_eq!(group_label(NOW - 20 * 24 * H, NOW, 0), "Previous 30 days");
        assert_eq!(group_label(NOW - 40 * 24 * H, NOW, 0), "October 2026");
        assert_eq!(group_label(NOW - 400 * 24 * H, NOW, 0), "October 2025");
        // 13 hours earlier is still "today" twelve time zones east.
        assert_eq!(group_label(NOW - 13 * H, NOW, 11 * 60), "Today");
    }

    #[test]
    fn relative_times() {
        assert_eq!(relative(NOW, NOW), "just now");
        assert_eq!(relative(NOW + 5_000, NOW), "just now");
        assert_eq!(relative(NOW - 60_000, NOW), "1 minute ago");
        assert_eq!(relative(NOW - 5 * 60_000, NOW), "5 minutes ago");
        assert_eq!(relative(NOW - 3 * H, NOW), "3 hours ago");
        assert_eq!(relative(NOW - 2 * 24 * H, NOW), "November 19, 2026");
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(NOW / (24 * H)), (2026, 11, 21));
    }
}
