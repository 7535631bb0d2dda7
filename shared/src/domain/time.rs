use chrono::{SecondsFormat, Utc};

/// RFC 3339 UTC with milliseconds, the only timestamp shape the contract uses. Its text
/// sorts in time order, which the list index relies on.
pub fn now_timestamp() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}
