use chrono::{SecondsFormat, Utc};

/// RFC 3339 UTC with milliseconds, the only timestamp shape the contract uses. Its text
/// sorts in time order, which the list index relies on.
pub fn now_timestamp() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn timestamp_seconds_ago(seconds: i64) -> String {
    (Utc::now() - chrono::Duration::seconds(seconds)).to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn epoch_seconds_in(seconds: i64) -> i64 {
    Utc::now().timestamp() + seconds
}

/// Whole seconds from now until `timestamp` (rounded up), if it is still ahead.
pub fn seconds_until(timestamp: &str) -> Option<u64> {
    let at = chrono::DateTime::parse_from_rfc3339(timestamp).ok()?;
    let millis = (at.to_utc() - Utc::now()).num_milliseconds();
    (millis > 0).then(|| (millis as u64).div_ceil(1000))
}
