//! The console page (clients/typescript/console), served by the local stack at
//! `/console`: its page and style as built in, its script as scripts/stack.sh bundled it
//! (esbuild, from the client package: no CDN, so the page works offline), and the
//! directory it starts from: the demo users with their tokens, and the chats. Local
//! only: no deployment serves tokens.

use std::path::PathBuf;

use hyper::body::Bytes;
use hyper::StatusCode;

const PAGE: &str = include_str!("../../../../clients/typescript/console/index.html");
const STYLE: &str = include_str!("../../../../clients/typescript/console/console.css");

/// Where scripts/stack.sh (and the test command) write the bundle.
pub fn bundle_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/console/console.js")
}

/// The answer to `GET path` if it is one of the console's paths.
pub fn serve(path: &str, directory: &serde_json::Value) -> Option<crate::local::Reply> {
    let reply = match path {
        "/console" | "/console/" => crate::local::reply(StatusCode::OK, "text/html; charset=utf-8", PAGE),
        "/console/console.css" => crate::local::reply(StatusCode::OK, "text/css", STYLE),
        "/console/directory.json" => crate::local::reply(StatusCode::OK, "application/json", directory.to_string()),
        "/console/console.js" => match std::fs::read(bundle_path()) {
            Ok(bytes) => crate::local::reply(StatusCode::OK, "text/javascript", Bytes::from(bytes)),
            Err(error) => crate::local::reply(
                StatusCode::NOT_FOUND,
                "text/plain",
                format!("{}: {error}; scripts/stack.sh bundles the console", bundle_path().display()),
            ),
        },
        _ => return None,
    };
    Some(reply)
}
