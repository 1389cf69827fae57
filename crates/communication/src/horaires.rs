//! SMS quiet hours: no SMS between `SMS_SILENCE_DEBUT` and `SMS_SILENCE_FIN` (20:00 → 07:00
//! by default), Conakry time; a message asked for then waits for the end of the silence.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Timelike, Utc};
use ecole_core::time::CONAKRY;

/// When an SMS asked for at `now` may go out: `None` at once, `Some(t)` at the end of the
/// quiet period. `quiet` is (start, end) in minutes after midnight; it may wrap midnight.
pub fn deferred_until(now: DateTime<Utc>, quiet: Option<(u32, u32)>) -> Option<DateTime<Utc>> {
    let (start, end) = quiet?;
    let local = now.with_timezone(&CONAKRY);
    let minute = local.hour() * 60 + local.minute();
    let today = local.date_naive();
    let end_day = if start < end {
        (start..end).contains(&minute).then_some(today)?
    } else if minute >= start {
        today.succ_opt()?
    } else if minute < end {
        today
    } else {
        return None;
    };
    let end_time = NaiveTime::from_hms_opt(end / 60, end % 60, 0)?;
    CONAKRY
        .from_local_datetime(&end_day.and_time(end_time))
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .or_else(|| Some(now + Duration::hours(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, h, m, 0)
            .single()
            .unwrap_or_default()
    }

    const DEFAULT: Option<(u32, u32)> = Some((20 * 60, 7 * 60));

    #[test]
    fn evening_waits_for_next_morning() {
        assert_eq!(
            deferred_until(at(21, 15), DEFAULT),
            Some(Utc.with_ymd_and_hms(2026, 11, 27, 7, 0, 0).unwrap())
        );
        assert_eq!(
            deferred_until(at(20, 0), DEFAULT),
            Some(Utc.with_ymd_and_hms(2026, 11, 27, 7, 0, 0).unwrap())
        );
    }

    #[test]
    fn night_waits_for_same_morning() {
        assert_eq!(deferred_until(at(3, 0), DEFAULT), Some(at(7, 0)));
        assert_eq!(deferred_until(at(6, 59), DEFAULT), Some(at(7, 0)));
    }

    #[test]
    fn daytime_goes_at_once() {
        for (h, m) in [(7, 0), (12, 0), (17, 0), (19, 59)] {
            assert_eq!(deferred_until(at(h, m), DEFAULT), None, "{h}:{m}");
        }
        assert_eq!(deferred_until(at(23, 0), None), None);
    }

    #[test]
    fn a_window_that_does_not_wrap() {
        let lunch = Some((12 * 60, 14 * 60));
        assert_eq!(deferred_until(at(13, 0), lunch), Some(at(14, 0)));
        assert_eq!(deferred_until(at(14, 0), lunch), None);
        assert_eq!(deferred_until(at(11, 0), lunch), None);
    }
}
