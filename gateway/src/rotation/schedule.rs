//! RotationRules: when the next rotation is due.

use std::time::Duration;

use crate::store::{RotationRules, StoreError, StoreResult, Timestamp};

/// How often a secret rotates, from its RotationRules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// Rotated by API only.
    Manual,
    Every(Duration),
    /// An EventBridge `cron()` expression, in UTC.
    Cron(Box<croner::Cron>),
}

impl Schedule {
    /// Checks `rules` as RotateSecret does. Accepts `AutomaticallyAfterDays` (1–1000) or a
    /// ScheduleExpression, `rate(N minutes|hours|days)` or `cron(minutes hours day-of-month
    /// month day-of-week year)`, and a `Duration` window of `Nh`.
    pub fn parse(rules: Option<&RotationRules>) -> StoreResult<Self> {
        let Some(rules) = rules else {
            return Ok(Self::Manual);
        };
        if let Some(window) = &rules.duration {
            let hours = window
                .strip_suffix('h')
                .and_then(|hours| hours.parse::<u32>().ok())
                .filter(|hours| (1..=24).contains(hours) && window.len() <= 3);
            if hours.is_none() {
                return Err(StoreError::invalid_parameter(format!(
                    "Duration {window:?} is not a window of 1h to 24h."
                )));
            }
        }
        match (rules.automatically_after_days, &rules.schedule_expression) {
            (Some(_), Some(_)) => Err(StoreError::invalid_parameter(
                "You can't specify both AutomaticallyAfterDays and ScheduleExpression.",
            )),
            (Some(days), None) if (1..=1000).contains(&days) => {
                Ok(Self::Every(Duration::from_secs(days as u64 * 86_400)))
            }
            (Some(_), None) => Err(StoreError::validation(
                "rotationRules.automaticallyAfterDays",
                "Member must have value between 1 and 1000",
            )),
            (None, Some(expression)) => parse_expression(expression),
            (None, None) => Ok(Self::Manual),
        }
    }

    /// When the rotation after one at `from` is due.
    pub fn next_after(&self, from: Timestamp) -> Option<Timestamp> {
        match self {
            Self::Manual => None,
            Self::Every(period) => Some(Timestamp::from_millis(
                from.as_millis() + period.as_millis() as i64,
            )),
            Self::Cron(cron) => cron
                .find_next_occurrence(&from.as_datetime(), false)
                .ok()
                .map(Timestamp::from),
        }
    }
}

fn parse_expression(expression: &str) -> StoreResult<Schedule> {
    if let Some(fields) = expression
        .strip_prefix("cron(")
        .and_then(|rest| rest.strip_suffix(')'))
    {
        return parse_cron(expression, fields);
    }
    let unsupported = || {
        StoreError::invalid_parameter(format!(
            "ScheduleExpression {expression:?} is neither rate(N minutes|hours|days) nor cron(…)."
        ))
    };
    let inner = expression
        .strip_prefix("rate(")
        .and_then(|rest| rest.strip_suffix(')'))
        .ok_or_else(unsupported)?;
    let (count, unit) = inner.trim().split_once(' ').ok_or_else(unsupported)?;
    let count: u64 = count
        .parse()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(unsupported)?;
    let seconds = match unit.trim() {
        "minute" | "minutes" => 60,
        "hour" | "hours" => 3_600,
        "day" | "days" => 86_400,
        _ => return Err(unsupported()),
    };
    // At most AutomaticallyAfterDays' 1000 days: a longer period overflowed here, and its next
    // date is beyond what a timestamp holds.
    let period = count
        .checked_mul(seconds)
        .filter(|period| *period <= 1000 * 86_400)
        .ok_or_else(|| {
            StoreError::invalid_parameter(format!(
                "ScheduleExpression {expression:?} is a rate of more than 1000 days."
            ))
        })?;
    Ok(Schedule::Every(Duration::from_secs(period)))
}

/// EventBridge's six fields: minutes, hours, day of month, month, day of week (1–7 from
/// Sunday, or SUN–SAT) and year, which must be `*` here.
fn parse_cron(expression: &str, fields: &str) -> StoreResult<Schedule> {
    let invalid = |problem: String| {
        StoreError::invalid_parameter(format!(
            "ScheduleExpression {expression:?} is not a valid cron expression: {problem}"
        ))
    };
    let fields: Vec<&str> = fields.split_whitespace().collect();
    let [minutes, hours, day_of_month, month, day_of_week, year] = fields[..] else {
        return Err(invalid(format!("it has {} fields, not 6", fields.len())));
    };
    if year != "*" {
        return Err(invalid("only * is supported as the year".into()));
    }
    let parser = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Disallowed)
        .year(croner::parser::Year::Disallowed)
        .alternative_weekdays(true)
        .build();
    parser
        .parse(&format!(
            "{minutes} {hours} {day_of_month} {month} {day_of_week}"
        ))
        .map(|cron| Schedule::Cron(Box::new(cron)))
        .map_err(|err| invalid(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(days: Option<i64>, expression: Option<&str>) -> RotationRules {
        RotationRules {
            automatically_after_days: days,
            duration: None,
            schedule_expression: expression.map(Into::into),
        }
    }

    #[test]
    fn reads_days_and_rates() {
        let every = |rules| Schedule::parse(Some(&rules)).unwrap();
        assert_eq!(
            every(rules(Some(30), None)),
            Schedule::Every(Duration::from_secs(30 * 86_400))
        );
        assert_eq!(
            every(rules(None, Some("rate(4 hours)"))),
            Schedule::Every(Duration::from_secs(4 * 3_600))
        );
        assert_eq!(
            every(rules(None, Some("rate(1 minute)"))),
            Schedule::Every(Duration::from_secs(60))
        );
        assert_eq!(Schedule::parse(None).unwrap(), Schedule::Manual);
    }

    #[test]
    fn refuses_what_the_service_refuses() {
        for bad in [
            rules(Some(30), Some("rate(4 hours)")),
            rules(Some(0), None),
            rules(Some(1001), None),
            rules(None, Some("rate(0 hours)")),
            rules(None, Some("rate(1001 days)")),
            // Overflowed the period: a panic with overflow checks, a wrong period without.
            rules(None, Some("rate(213503982334602 days)")),
            rules(None, Some("cron(0 12 * *)")),
            rules(None, Some("every day")),
            RotationRules {
                duration: Some("25h".into()),
                ..rules(Some(1), None)
            },
        ] {
            assert!(Schedule::parse(Some(&bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cron_expressions_follow_eventbridge() {
        let noon = Schedule::parse(Some(&rules(None, Some("cron(0 12 * * ? *)")))).unwrap();
        let from = Timestamp::from_millis(1_700_000_000_000); // 2023-11-14T22:13:20Z
        assert_eq!(
            noon.next_after(from),
            Some(Timestamp::from_millis(1_700_049_600_000)) // 2023-11-15T12:00:00Z
        );
        // Weekday 2 is Monday, as in EventBridge.
        let monday = Schedule::parse(Some(&rules(None, Some("cron(0 8 ? * 2 *)")))).unwrap();
        assert_eq!(
            monday.next_after(from),
            Some(Timestamp::from_millis(1_700_467_200_000)) // 2023-11-20T08:00:00Z, a Monday
        );
    }

    #[test]
    fn the_next_rotation_follows_the_last() {
        let from = Timestamp::from_millis(1_700_000_000_000);
        let next = Schedule::Every(Duration::from_secs(86_400)).next_after(from);
        assert_eq!(next, Some(Timestamp::from_millis(1_700_086_400_000)));
        assert_eq!(Schedule::Manual.next_after(from), None);
    }
}
