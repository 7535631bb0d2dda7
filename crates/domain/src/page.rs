use super::request::RequestStatus;

pub const DEFAULT_LIMIT: u32 = 10;
pub const MAX_LIMIT: u32 = 100;

/// A valid `GET /requests` query: `limit` in 1..=100, `page` >= 1, an optional status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageQuery {
    limit: u32,
    page: u32,
    status: Option<RequestStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPageQuery {
    #[error("limit must be an integer from 1 to {MAX_LIMIT}")]
    Limit,
    #[error("page must be an integer from 1")]
    Page,
    #[error("status must be one of pending, accepted, rejected, cancelled, expired")]
    Status,
    #[error("{0} may be given only once")]
    Repeated(&'static str),
    #[error("after must be a cursor or an event id of 1 to {MAX_AFTER_BYTES} characters")]
    After,
}

impl PageQuery {
    /// `get` returns every value given for a parameter, so that a repeated parameter
    /// is refused instead of silently picking one.
    pub fn parse<'a, F, I>(get: F) -> Result<Self, InvalidPageQuery>
    where
        F: Fn(&str) -> I,
        I: IntoIterator<Item = &'a str>,
    {
        let single = |name: &'static str| single_value(&get, name);
        let limit = match single("limit")? {
            None => DEFAULT_LIMIT,
            Some(text) => parse_bounded(text, MAX_LIMIT).ok_or(InvalidPageQuery::Limit)?,
        };
        let page = match single("page")? {
            None => 1,
            Some(text) => parse_bounded(text, u32::MAX).ok_or(InvalidPageQuery::Page)?,
        };
        let status = match single("status")? {
            None => None,
            Some(text) => Some(RequestStatus::parse(text).ok_or(InvalidPageQuery::Status)?),
        };
        Ok(Self { limit, page, status })
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    pub fn page(&self) -> u32 {
        self.page
    }

    pub fn status(&self) -> Option<RequestStatus> {
        self.status
    }

    /// The index range of this page within all matching items, clamped to `total`.
    pub fn window(&self, total: usize) -> std::ops::Range<usize> {
        let start = (self.page as usize - 1).saturating_mul(self.limit as usize);
        let start = start.min(total);
        start..start.saturating_add(self.limit as usize).min(total)
    }
}

/// The longest `after` a client sends back: a cursor is well under it.
pub const MAX_AFTER_BYTES: usize = 512;

/// Where `GET /events` starts: after an event the client received, or where the last
/// answer's `cursor` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum After {
    Event(super::id::ObjectId),
    /// Opaque to everyone but the store that made it.
    Cursor(String),
}

/// A valid `GET /events` query: `after` (optional), `limit` in 1..=100 (default 100).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsQuery {
    pub after: Option<After>,
    pub limit: u32,
}

impl EventsQuery {
    pub fn parse<'a, F, I>(get: F) -> Result<Self, InvalidPageQuery>
    where
        F: Fn(&str) -> I,
        I: IntoIterator<Item = &'a str>,
    {
        let single = |name: &'static str| single_value(&get, name);
        let limit = match single("limit")? {
            None => MAX_LIMIT,
            Some(text) => parse_bounded(text, MAX_LIMIT).ok_or(InvalidPageQuery::Limit)?,
        };
        let after = match single("after")? {
            None => None,
            Some(text) if text.is_empty() || text.len() > MAX_AFTER_BYTES => return Err(InvalidPageQuery::After),
            Some(text) => Some(match super::id::ObjectId::parse(text) {
                Ok(id) => After::Event(id),
                Err(_) => After::Cursor(text.to_owned()),
            }),
        };
        Ok(Self { after, limit })
    }
}

/// The one value of parameter `name`, if given; given twice is refused rather than one
/// of them silently picked.
fn single_value<'a, F, I>(get: &F, name: &'static str) -> Result<Option<&'a str>, InvalidPageQuery>
where
    F: Fn(&str) -> I,
    I: IntoIterator<Item = &'a str>,
{
    let mut values = get(name).into_iter();
    let first = values.next();
    match values.next() {
        Some(_) => Err(InvalidPageQuery::Repeated(name)),
        None => Ok(first),
    }
}

/// Plain decimal digits only: `+5`, ` 5`, `5.0` and `05e1` are refused, not reinterpreted.
fn parse_bounded(text: &str, max: u32) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u32>().ok().filter(|n| (1..=max).contains(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&'static str, &'static str)]) -> Result<PageQuery, InvalidPageQuery> {
        PageQuery::parse(|name| pairs.iter().filter(|(k, _)| *k == name).map(|(_, v)| *v).collect::<Vec<_>>())
    }

    #[test]
    fn defaults_to_ten_per_page_first_page_any_status() {
        let query = parse(&[]).unwrap();
        assert_eq!((query.limit(), query.page(), query.status()), (10, 1, None));
    }

    #[test]
    fn refuses_out_of_range_and_malformed_values() {
        for (name, value, error) in [
            ("limit", "0", InvalidPageQuery::Limit),
            ("limit", "101", InvalidPageQuery::Limit),
            ("limit", "ten", InvalidPageQuery::Limit),
            ("limit", "+5", InvalidPageQuery::Limit),
            ("limit", "", InvalidPageQuery::Limit),
            ("page", "0", InvalidPageQuery::Page),
            ("page", "-1", InvalidPageQuery::Page),
            ("page", "1.5", InvalidPageQuery::Page),
            ("page", "99999999999", InvalidPageQuery::Page),
            ("status", "foo", InvalidPageQuery::Status),
            ("status", "Pending", InvalidPageQuery::Status),
        ] {
            assert_eq!(parse(&[(name, value)]), Err(error), "{name}={value}");
        }
        assert_eq!(parse(&[("limit", "1"), ("limit", "2")]), Err(InvalidPageQuery::Repeated("limit")));
    }

    #[test]
    fn window_is_clamped_to_the_total() {
        let query = parse(&[("limit", "10"), ("page", "3")]).unwrap();
        assert_eq!(query.window(25), 20..25);
        assert_eq!(query.window(5), 5..5);
        let far = parse(&[("limit", "100"), ("page", "4294967295")]).unwrap();
        assert_eq!(far.window(3), 3..3);
    }
}
