//! The events AWS hands to the functions, built the way AWS builds them: an API Gateway
//! REST (v1 proxy) event for an HTTP request, and the envelope EventBridge puts around
//! an entry when it invokes a rule's target. The local stack and the tests both use
//! these, so there is one definition of each.

use serde_json::{json, Map, Value};

pub use edge::routes::REST_ROUTES;

/// The route of `method` and `path`, and its path parameters (percent-decoded), as API
/// Gateway matches them: one segment per `{name}`.
pub fn match_route(method: &str, path: &str) -> Option<(&'static str, Map<String, Value>)> {
    let (resource, parameters) = edge::routes::resource_of(path)?;
    REST_ROUTES.iter().any(|(m, r)| *m == method && *r == resource).then(|| {
        let decoded = parameters
            .into_iter()
            .map(|(name, value)| (name.to_owned(), Value::String(super::percent_decode(value, false))))
            .collect();
        (resource, decoded)
    })
}

/// The methods of the routes whose path matches `path`: what a `405` lists in `Allow`.
pub fn methods_of(path: &str) -> Vec<&'static str> {
    edge::routes::resource_of(path).map(|(resource, _)| edge::routes::methods_of(resource)).unwrap_or_default()
}

/// The name-value pairs of a raw query string, percent-decoded, in order.
pub fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (super::percent_decode(name, true), super::percent_decode(value, true))
        })
        .collect()
}

fn epoch_millis() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default()
}

/// The headers and the query string as API Gateway puts them in an event: single and
/// multi-value maps, `null` when empty.
fn headers_and_query(headers: &[(String, String)], query: &[(String, String)]) -> Map<String, Value> {
    let mut single_headers = Map::new();
    let mut multi_headers = Map::new();
    for (name, value) in headers {
        single_headers.insert(name.clone(), json!(value));
        push(&mut multi_headers, name, value);
    }
    let mut single_query = Map::new();
    let mut multi_query = Map::new();
    for (name, value) in query {
        single_query.insert(name.clone(), json!(value));
        push(&mut multi_query, name, value);
    }
    let mut fields = Map::new();
    fields.insert("headers".into(), Value::Object(single_headers));
    fields.insert("multiValueHeaders".into(), Value::Object(multi_headers));
    fields.insert("queryStringParameters".into(), or_null(single_query));
    fields.insert("multiValueQueryStringParameters".into(), or_null(multi_query));
    fields
}

fn or_null(map: Map<String, Value>) -> Value {
    if map.is_empty() {
        Value::Null
    } else {
        Value::Object(map)
    }
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
    let mut event = headers_and_query(request.headers, request.query);
    let rest = json!({
        "resource": resource,
        "path": request.path,
        "httpMethod": request.method,
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
            "requestTimeEpoch": epoch_millis(),
        },
        "body": request.body,
        "isBase64Encoded": false,
    });
    event.extend(object(rest));
    Some(Value::Object(event))
}

/// The event API Gateway's WebSocket API sends for `$connect` or `$disconnect`.
pub fn websocket_event(
    route: &str,
    connection_id: &str,
    headers: &[(String, String)],
    query: &[(String, String)],
    source_ip: &str,
    request_id: String,
) -> Value {
    let mut event = headers_and_query(headers, query);
    let now = epoch_millis();
    let rest = json!({
        "requestContext": {
            "routeKey": route,
            "eventType": if route == "$connect" { "CONNECT" } else { "DISCONNECT" },
            "connectionId": connection_id,
            "requestId": request_id,
            "stage": "local",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "messageDirection": "IN",
            "connectedAt": now,
            "requestTimeEpoch": now,
            "identity": { "sourceIp": source_ip },
        },
        "isBase64Encoded": false,
    });
    event.extend(object(rest));
    Value::Object(event)
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
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

/// The batch SQS hands a queue's consumer: one message per body (an EventBridge
/// event, as the bus's rule sends it to the queue), each with an id of its own.
pub fn sqs_batch(bodies: impl IntoIterator<Item = (String, String)>) -> aws_lambda_events::sqs::SqsEvent {
    let records: Vec<Value> = bodies
        .into_iter()
        .map(|(id, body)| {
            json!({
                "messageId": id,
                "receiptHandle": format!("local-{id}"),
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:AppEventsQueue",
                "awsRegion": "us-east-1",
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_like_api_gateway() {
        let (resource, parameters) = match_route("GET", "/requests/abc%20d").unwrap();
        assert_eq!((resource, parameters["id"].as_str()), ("/requests/{id}", Some("abc d")));
        assert_eq!(match_route("POST", "/requests/").map(|r| r.0), Some("/requests"));
        assert!(match_route("PUT", "/requests/x").is_none());
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
