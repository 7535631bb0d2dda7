//! `GET /requests/{id}`: one of the caller's requests, populated.

use lambda_http::{http::StatusCode, Body, Request, Response};
use shared::{http, requests, App};

pub async fn handle(app: &App, event: Request) -> Response<Body> {
    let id = http::path_id(&event);
    http::respond(app, &event, |caller| async move {
        let request = requests::get(app, caller, id?).await?;
        Ok((StatusCode::OK, serde_json::json!({ "request": request })))
    })
    .await
}

/// The function as Lambda runs it, from init on: its `main`, and the bench's one
/// binary for every function (`bench/all`), call this.
pub async fn run() -> Result<(), lambda_http::Error> {
    shared::http::run(handle).await
}
