//! The events AWS hands to the functions, built the way AWS builds them: an API Gateway
//! REST (v1 proxy) event for an HTTP request, and the envelope EventBridge puts around
//! an entry when it invokes a rule's target. The local stack and the tests both use
//! these, so there is one definition of each.

use serde_json::{json, Map, Value};

/// The REST API's routes, as `template.yaml` declares them: method and resource.
pub const REST_ROUTES: &[(&str, &str)] =
    &[("GET", "/requests"), ("POST", "/requests"), ("GET", "/requests/{id}"), ("PATCH", "/requests/{id}")];

/// The route of `method` and `path`, and its path parameters (percent-decoded), as API
/// Gateway matches them: one segment per `{name}`.
pub fn match_route(method: &str, path: &str) -> Option<(&'static str, Map<String, Value>)> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    REST_ROUTES.iter().filter(|(m, _)| *m == method).find_map(|(_, resource)| {
        let template: Vec<&str> = resource.split('/').collect();
        if template.len() != segments.len() {
            return None;
        }
        let mut parameters = Map::new();
        for (expected, actual) in template.iter().zip(&segments) {
            match expected.strip_prefix('{').and_then(|name| name.strip_suffix('}')) {
                Some(name) if !actual.is_empty() => {
                    parameters.insert(name.to_owned(), Value::String(crate::percent_decode(actual, false)));
                }
                Some(_) => return None,
                None if expected == actual => {}
                None => return None,
            }
        }
        Some((*resource, parameters))
    })
}

/// The name-value pairs of a raw query string, percent-decoded, in order.
pub fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (crate::percent_decode(name, true), crate::percent_decode(value, true))
        })
        .collect()
}

/// One HTTP request to the REST API.
pub struct RestRequest<'a> {
    pub method: &'a str,
    /// The path without the query string.
    pub path: &'a str,
    pub headers: &'a [(String, String)],
    pub query: &'a [(String, String)],
    pub body: Option<&'a str>,
    pub source_ip: &'a str,
    pub stage: &'a str,
    pub request_id: String,
}

/// The API Gateway REST (v1 proxy) event for `request`, or `None` when no route
/// matches (API Gateway answers that itself).
pub fn rest_event(request: &RestRequest<'_>) -> Option<Value> {
    let (resource, path_parameters) = match_route(request.method, request.path)?;
    let mut headers = Map::new();
    let mut multi_headers = Map::new();
    for (name, value) in request.headers {
        headers.insert(name.clone(), json!(value));
        push(&mut multi_headers, name, value);
    }
    let mut query = Map::new();
    let mut multi_query = Map::new();
    for (name, value) in request.query {
        query.insert(name.clone(), json!(value));
        push(&mut multi_query, name, value);
    }
    let or_null = |map: Map<String, Value>| if map.is_empty() { Value::Null } else { Value::Object(map) };
    let epoch_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    Some(json!({
        "resource": resource,
        "path": request.path,
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": or_null(query),
        "multiValueQueryStringParameters": or_null(multi_query),
        "pathParameters": or_null(path_parameters),
        "stageVariables": null,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": request.method,
            "path": format!("/{}{}", request.stage, request.path),
            "stage": request.stage,
            "requestId": request.request_id,
            "accountId": "000000000000",
            "apiId": "local",
            "identity": { "sourceIp": request.source_ip },
            "requestTimeEpoch": epoch_ms,
        },
        "body": request.body,
        "isBase64Encoded": false,
    }))
}

fn push(map: &mut Map<String, Value>, name: &str, value: &str) {
    if let Some(values) = map.entry(name.to_owned()).or_insert_with(|| json!([])).as_array_mut() {
        values.push(json!(value));
    }
}

/// The envelope EventBridge puts around an entry when it invokes a rule's target.
pub fn eventbridge_delivery(id: &str, time: &str, source: &str, detail_type: &str, detail: Value) -> Value {
    json!({
        "version": "0",
        "id": id,
        "detail-type": detail_type,
        "source": source,
        "account": "000000000000",
        "time": time,
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_like_api_gateway() {
        let (resource, parameters) = match_route("GET", "/requests/abc%20d").unwrap();
        assert_eq!((resource, parameters["id"].as_str()), ("/requests/{id}", Some("abc d")));
        assert_eq!(match_route("POST", "/requests/").map(|r| r.0), Some("/requests"));
        assert!(match_route("DELETE", "/requests/x").is_none());
        assert!(match_route("GET", "/requests/x/y").is_none());
        assert!(match_route("GET", "/nothing").is_none());
    }

    #[test]
    fn query_strings_are_split_and_decoded() {
        assert_eq!(
            parse_query("a=1&b=x+y%21&a=2&flag&"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y!".into()),
                ("a".into(), "2".into()),
                ("flag".into(), "".into())
            ]
        );
    }
}
