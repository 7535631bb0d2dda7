//! `GET /requests`: the caller's requests, newest first, a page at a time.

use lambda_http::{http::StatusCode, Body, Request, Response};
use shared::{http, requests, App};

pub async fn handle(app: &App, event: Request) -> Response<Body> {
    let query = http::page_query(&event);
    http::respond(app, &event, |caller| async move {
        let page = requests::list(app, caller, query?).await?;
        Ok((StatusCode::OK, page))
    })
    .await
}

/// The function as Lambda runs it, from init on: its `main`, and the bench's one
/// binary for every function (`bench/all`), call this.
pub async fn run() -> Result<(), lambda_http::Error> {
    shared::http::run(handle).await
}
