//! The API's documents and a page to read them, served by the local stack: the
//! documents as built in, Swagger UI from this repository's own npm packages (no CDN,
//! so the page works offline).

use std::path::PathBuf;

use hyper::body::Bytes;
use hyper::StatusCode;
use serde_json::Value;

const OPENAPI: &str = include_str!("../../../../openapi.yaml");
const ASYNCAPI: &str = include_str!("../../../../asyncapi.yaml");

/// The files of the Swagger UI page, from `npm ci` (scripts/setup.sh).
const SWAGGER_UI_FILES: &[(&str, &str)] =
    &[("swagger-ui.css", "text/css"), ("swagger-ui-bundle.js", "text/javascript")];

/// `validatorUrl: null`: Swagger UI would otherwise ask an online validator for a badge.
const PAGE: &str = r##"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Join requests service: REST API</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script>
    SwaggerUIBundle({ url: "/openapi.json", dom_id: "#ui", validatorUrl: null, persistAuthorization: true });
  </script>
</body>
</html>
"##;

fn swagger_ui_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../node_modules/swagger-ui-dist")
}

/// The answer to `GET path` if it is one of the documents' paths; `host` (the request's
/// `Host`) becomes the first server of /openapi.json, so "Try it out" calls this stack.
pub fn serve(path: &str, host: Option<&str>) -> Option<crate::local::Reply> {
    let reply = match path {
        "/openapi.json" => match openapi_json(host) {
            Ok(json) => crate::local::reply(StatusCode::OK, "application/json", json),
            Err(error) => crate::local::reply(StatusCode::INTERNAL_SERVER_ERROR, "text/plain", error),
        },
        "/openapi.yaml" => crate::local::reply(StatusCode::OK, "application/yaml", OPENAPI),
        "/asyncapi.yaml" => crate::local::reply(StatusCode::OK, "application/yaml", ASYNCAPI),
        "/docs" | "/docs/" => crate::local::reply(StatusCode::OK, "text/html; charset=utf-8", PAGE),
        _ => {
            let name = path.strip_prefix("/docs/")?;
            let (name, content_type) = SWAGGER_UI_FILES.iter().find(|(file, _)| *file == name)?;
            match std::fs::read(swagger_ui_dir().join(name)) {
                Ok(bytes) => crate::local::reply(StatusCode::OK, content_type, Bytes::from(bytes)),
                Err(error) => crate::local::reply(
                    StatusCode::NOT_FOUND,
                    "text/plain",
                    format!("{name}: {error}; scripts/setup.sh installs swagger-ui-dist"),
                ),
            }
        }
    };
    Some(reply)
}

fn openapi_json(host: Option<&str>) -> Result<String, String> {
    let mut document: Value = serde_yaml::from_str(OPENAPI).map_err(|e| format!("openapi.yaml: {e}"))?;
    if let (Some(host), Some(first)) = (host, document.pointer_mut("/servers/0/url")) {
        *first = Value::String(format!("http://{host}"));
    }
    serde_json::to_string(&document).map_err(|e| e.to_string())
}
