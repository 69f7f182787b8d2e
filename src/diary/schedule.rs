//! When stored music lists age out: `music_refresh` in settings.toml. A list is fresh while it
//! was fetched after the schedule's most recent boundary (local midnight, or midnight starting
//! the chosen weekday), so a list fetched at 23:00 is renewed the next morning, not 24 h on.

use chrono::{DateTime, Datelike, Days, Local, NaiveDate, NaiveTime, TimeZone, Weekday};
use serde::{Deserialize, Serialize};

/// How often lists are fetched again from Spotify (older ones still serve when it fails).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Refresh {
    #[default]
    Daily,
    Weekly(Weekday),
}

/// The forms `Refresh::parse` takes, for its error and the docs.
pub(crate) const ACCEPTED: &str =
    "\"daily\", \"weekly\" (Monday) or \"weekly:<day>\" such as \"weekly:sunday\"";

const DAYS: [(Weekday, &str); 7] = [
    (Weekday::Mon, "monday"),
    (Weekday::Tue, "tuesday"),
    (Weekday::Wed, "wednesday"),
    (Weekday::Thu, "thursday"),
    (Weekday::Fri, "friday"),
    (Weekday::Sat, "saturday"),
    (Weekday::Sun, "sunday"),
];

fn day_name(d: Weekday) -> &'static str {
    DAYS[d.num_days_from_monday() as usize].1
}

/// "sun", "Sunday", "sundays", "thurs": a prefix of three letters or more, or the plural.
fn parse_day(s: &str) -> Option<Weekday> {
    let s = s.trim().trim_start_matches("on ").trim();
    let s = s
        .strip_suffix('s')
        .filter(|x| x.ends_with("day"))
        .unwrap_or(s);
    DAYS.iter()
        .find(|(_, name)| s.len() >= 3 && name.starts_with(s))
        .map(|(d, _)| *d)
}

impl Refresh {
    /// Every schedule, in the order the settings window lists them.
    pub(crate) const CHOICES: [Refresh; 8] = [
        Refresh::Daily,
        Refresh::Weekly(Weekday::Mon),
        Refresh::Weekly(Weekday::Tue),
        Refresh::Weekly(Weekday::Wed),
        Refresh::Weekly(Weekday::Thu),
        Refresh::Weekly(Weekday::Fri),
        Refresh::Weekly(Weekday::Sat),
        Refresh::Weekly(Weekday::Sun),
    ];

    /// Leniently: any case and spacing, `:`, `-`, `/` or a space before the day.
    pub fn parse(text: &str) -> Result<Refresh, String> {
        let t = text.trim().to_lowercase();
        let (kind, day) = match t.split_once([':', '-', '/', ' ', ',']) {
            Some((k, d)) => (k.trim(), d.trim()),
            None => (t.as_str(), ""),
        };
        let parsed = match (kind, day) {
            ("daily" | "day", "") => Some(Refresh::Daily),
            ("weekly" | "week", "") => Some(Refresh::Weekly(Weekday::Mon)),
            ("weekly" | "week", d) => parse_day(d).map(Refresh::Weekly),
            _ => None,
        };
        parsed.ok_or_else(|| format!("music_refresh = {text:?} is not a schedule; use {ACCEPTED}"))
    }

    /// What the settings window shows.
    pub fn label(self) -> String {
        match self {
            Refresh::Daily => "daily".into(),
            Refresh::Weekly(d) => {
                let name = day_name(d);
                let mut c = name.chars();
                let first = c.next().map(|f| f.to_ascii_uppercase());
                format!("weekly, {}{}", first.unwrap_or(' '), c.as_str())
            }
        }
    }

    /// The latest boundary at or before `now`, in `now`'s time zone.
    pub(crate) fn boundary_in<Tz: TimeZone>(self, now: &DateTime<Tz>) -> DateTime<Tz> {
        let today = now.date_naive();
        let back = match self {
            Refresh::Daily => 0,
            Refresh::Weekly(d) => {
                (7 + today.weekday().num_days_from_monday() - d.num_days_from_monday()) % 7
            }
        };
        let period = if self == Refresh::Daily { 1 } else { 7 };
        let midnight = today
            .checked_sub_days(Days::new(u64::from(back)))
            .and_then(|day| start_of(&now.timezone(), day));
        // Only a date at the end of chrono's range has no midnight: one period back then.
        midnight.unwrap_or_else(|| now.clone() - chrono::Duration::days(period))
    }

    /// Whether a list fetched at `fetched` (Unix ms) is still fresh at `now`, in `tz`. One from
    /// the future (the clock was set back) is not: it is fetched again and dated right.
    pub(crate) fn is_fresh_in<Tz: TimeZone>(self, tz: &Tz, fetched: i64, now: i64) -> bool {
        let Some(now_t) = tz.timestamp_millis_opt(now).earliest() else {
            return false;
        };
        let boundary = self.boundary_in(&now_t).timestamp_millis();
        (boundary..=now).contains(&fetched)
    }

    /// `is_fresh_in` in the computer's time zone.
    pub(crate) fn is_fresh(self, fetched: i64, now: i64) -> bool {
        self.is_fresh_in(&Local, fetched, now)
    }
}

/// The first instant of `day` in `tz`: midnight, or the end of a DST gap that swallowed it.
fn start_of<Tz: TimeZone>(tz: &Tz, day: NaiveDate) -> Option<DateTime<Tz>> {
    (0..=2).find_map(|h| {
        let t = day.and_time(NaiveTime::from_hms_opt(h, 0, 0)?);
        tz.from_local_datetime(&t).earliest()
    })
}

impl std::fmt::Display for Refresh {
    /// The canonical form saved in settings.toml.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refresh::Daily => f.write_str("daily"),
            Refresh::Weekly(d) => write!(f, "weekly:{}", day_name(*d)),
        }
    }
}

impl TryFrom<String> for Refresh {
    type Error = String;
    fn try_from(s: String) -> Result<Refresh, String> {
        Refresh::parse(&s)
    }
}

impl From<Refresh> for String {
    fn from(r: Refresh) -> String {
        r.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;

    /// Unix ms of a wall-clock time in `tz`.
    fn at(tz: &FixedOffset, y: i32, m: u32, d: u32, h: u32, min: u32) -> i64 {
        tz.with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .map(|t| t.timestamp_millis())
            .unwrap_or_default()
    }

    #[test]
    fn schedules_parse_leniently_and_save_in_one_form() {
        use Weekday::*;
        for (text, want) in [
            ("daily", Refresh::Daily),
            (" Daily ", Refresh::Daily),
            ("weekly", Refresh::Weekly(Mon)),
            ("weekly:sunday", Refresh::Weekly(Sun)),
            ("Weekly: Sun", Refresh::Weekly(Sun)),
            ("weekly-fri", Refresh::Weekly(Fri)),
            ("weekly on Thursdays", Refresh::Weekly(Thu)),
            ("WEEKLY/thurs", Refresh::Weekly(Thu)),
        ] {
            assert_eq!(Refresh::parse(text), Ok(want), "{text}");
        }
        for r in Refresh::CHOICES {
            assert_eq!(Refresh::parse(&r.to_string()), Ok(r));
        }
        assert_eq!(Refresh::Weekly(Sun).to_string(), "weekly:sunday");
        assert_eq!(Refresh::Weekly(Sun).label(), "weekly, Sunday");
        for bad in [
            "",
            "hourly",
            "weekly:someday",
            "weekly:su",
            "24",
            "daily:monday",
        ] {
            let e = Refresh::parse(bad).expect_err(bad);
            assert!(
                e.contains("music_refresh") && e.contains("weekly:sunday"),
                "{e}"
            );
        }
    }

    #[test]
    fn a_daily_list_is_fresh_until_local_midnight() {
        // UTC+5:30: the local day starts at 18:30 UTC, not at UTC midnight.
        let tz = FixedOffset::east_opt(5 * 3600 + 1800).expect("offset");
        let fetched = at(&tz, 2026, 3, 4, 23, 0);
        let daily = Refresh::Daily;
        assert!(daily.is_fresh_in(&tz, fetched, fetched));
        assert!(daily.is_fresh_in(&tz, fetched, at(&tz, 2026, 3, 4, 23, 59)));
        assert!(!daily.is_fresh_in(&tz, fetched, at(&tz, 2026, 3, 5, 0, 0)));
        assert!(!daily.is_fresh_in(&tz, fetched, at(&tz, 2026, 3, 5, 0, 1)));
        // Fetched right at midnight counts for the new day.
        let midnight = at(&tz, 2026, 3, 5, 0, 0);
        assert!(daily.is_fresh_in(&tz, midnight, at(&tz, 2026, 3, 5, 22, 0)));
        // A list dated after now (the clock went back) is renewed.
        assert!(!daily.is_fresh_in(&tz, fetched + 60_000, fetched));
    }

    #[test]
    fn a_weekly_list_ages_out_at_the_start_of_its_day() {
        let tz = FixedOffset::west_opt(5 * 3600).expect("offset");
        // 2026-03-07 is a Saturday, 03-08 a Sunday.
        let sunday = Refresh::Weekly(Weekday::Sun);
        let saturday_night = at(&tz, 2026, 3, 7, 23, 59);
        let monday = at(&tz, 2026, 3, 2, 9, 0);
        assert!(sunday.is_fresh_in(&tz, monday, saturday_night));
        assert!(!sunday.is_fresh_in(&tz, monday, at(&tz, 2026, 3, 8, 0, 0)));
        // Fetched on the Sunday itself: fresh all week, until the next Sunday.
        let fetched = at(&tz, 2026, 3, 8, 0, 5);
        assert!(sunday.is_fresh_in(&tz, fetched, at(&tz, 2026, 3, 14, 23, 59)));
        assert!(!sunday.is_fresh_in(&tz, fetched, at(&tz, 2026, 3, 15, 0, 0)));
        // The boundary of a week across a year's end: Monday 2025-12-29 for 2026-01-01.
        let now = tz
            .with_ymd_and_hms(2026, 1, 1, 12, 0, 0)
            .single()
            .expect("time");
        let b = Refresh::Weekly(Weekday::Mon).boundary_in(&now);
        assert_eq!(b.format("%Y-%m-%d %H:%M").to_string(), "2025-12-29 00:00");
        let today = Refresh::Weekly(Weekday::Thu).boundary_in(&now);
        assert_eq!(
            today.format("%Y-%m-%d %H:%M").to_string(),
            "2026-01-01 00:00"
        );
    }
}
