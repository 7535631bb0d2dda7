//! Browsers (CORS): which origins may read the answers (`CORS_ALLOWED_ORIGINS`), the
//! headers every answer to them carries, and the answer to a preflight.

use lambda_http::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ORIGIN, VARY,
};
use lambda_http::http::{HeaderMap, HeaderValue};

/// The headers a browser may send besides the simple ones.
pub const ALLOWED_HEADERS: &str = "Authorization, Content-Type, Idempotency-Key";
/// The headers a browser's script may read besides the simple ones.
pub const EXPOSED_HEADERS: &str = "Retry-After, Idempotency-Replayed";
/// How long a browser may keep a preflight's answer: 10 minutes.
pub const MAX_AGE_SECONDS: u32 = 600;

/// The origins allowed to read the answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigins {
    /// Any origin (`*`): no call uses cookies, so none needs more.
    Any,
    /// These origins, as browsers send them (`https://app.example.com`).
    Only(Vec<String>),
}

impl AllowedOrigins {
    /// `*`, or origins separated by commas; `None` for an empty list.
    pub fn parse(text: &str) -> Option<Self> {
        if text.trim() == "*" {
            return Some(Self::Any);
        }
        let origins: Vec<String> = text
            .split(',')
            .map(|origin| origin.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        (!origins.is_empty() && origins.iter().all(|o| o != "*")).then_some(Self::Only(origins))
    }

    /// The `Access-Control-Allow-Origin` for a request from `origin`, if it is allowed.
    pub fn allow(&self, origin: Option<&str>) -> Option<HeaderValue> {
        match self {
            Self::Any => Some(HeaderValue::from_static("*")),
            Self::Only(origins) => {
                let origin = origin?;
                origins.iter().any(|allowed| allowed == origin).then(|| HeaderValue::from_str(origin).ok()).flatten()
            }
        }
    }

    /// Adds to an answer the headers its request's origin may see: nothing for an origin
    /// not allowed (the browser then hides the answer from the page).
    pub fn decorate(&self, request: &HeaderMap, answer: &mut HeaderMap) {
        let origin = request.get(ORIGIN).and_then(|value| value.to_str().ok());
        if let Self::Only(_) = self {
            // Caches must not serve one origin's answer to another.
            answer.append(VARY, HeaderValue::from_static("Origin"));
        }
        let Some(allowed) = self.allow(origin) else { return };
        answer.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
        answer.insert(ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSED_HEADERS));
    }

    /// The headers of a preflight's `204` for a resource taking `methods`.
    pub fn preflight(&self, request: &HeaderMap, methods: &[&str], answer: &mut HeaderMap) {
        self.decorate(request, answer);
        if !answer.contains_key(ACCESS_CONTROL_ALLOW_ORIGIN) {
            return;
        }
        if let Ok(methods) = HeaderValue::from_str(&methods.join(", ")) {
            answer.insert(ACCESS_CONTROL_ALLOW_METHODS, methods);
        }
        answer.insert(ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(ALLOWED_HEADERS));
        answer.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from(MAX_AGE_SECONDS));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(origin: &str) -> HeaderMap {
        HeaderMap::from_iter([(ORIGIN, HeaderValue::from_str(origin).unwrap())])
    }

    #[test]
    fn an_allowed_origin_is_named_and_another_gets_nothing() {
        let only = AllowedOrigins::parse("https://app.example.com, https://admin.example.com/").unwrap();
        let mut answer = HeaderMap::new();
        only.decorate(&from("https://admin.example.com"), &mut answer);
        assert_eq!(answer[ACCESS_CONTROL_ALLOW_ORIGIN], "https://admin.example.com");
        assert_eq!(answer[ACCESS_CONTROL_EXPOSE_HEADERS], EXPOSED_HEADERS);
        assert_eq!(answer[VARY], "Origin");
        let mut refused = HeaderMap::new();
        only.decorate(&from("https://evil.example.com"), &mut refused);
        assert!(!refused.contains_key(ACCESS_CONTROL_ALLOW_ORIGIN));
        let mut preflight = HeaderMap::new();
        only.preflight(&from("https://evil.example.com"), &["GET"], &mut preflight);
        assert!(!preflight.contains_key(ACCESS_CONTROL_ALLOW_METHODS), "nothing for an origin not allowed");
    }

    #[test]
    fn any_origin_is_a_star_and_a_list_is_never_empty() {
        let mut answer = HeaderMap::new();
        AllowedOrigins::Any.preflight(&HeaderMap::new(), &["GET", "POST"], &mut answer);
        assert_eq!(answer[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert_eq!(answer[ACCESS_CONTROL_ALLOW_METHODS], "GET, POST");
        assert_eq!(answer[ACCESS_CONTROL_MAX_AGE], "600");
        assert_eq!(AllowedOrigins::parse(" * "), Some(AllowedOrigins::Any));
        assert_eq!(AllowedOrigins::parse(" , "), None);
        assert_eq!(AllowedOrigins::parse("https://a.example, *"), None);
    }
}
