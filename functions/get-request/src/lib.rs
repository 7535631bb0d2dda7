//! `GET /requests/{id}`: one of the caller's requests, populated.

use edge::config::Function;
use edge::{http, App};
use lambda_http::{http::StatusCode, Body, Request, Response};

pub async fn handle(app: &App, event: Request) -> Response<Body> {
    let id = http::path_id(&event);
    http::respond(app, &event, |caller| async move {
        let request = app::requests::get(&app.store, caller, id?).await?;
        Ok((StatusCode::OK, serde_json::json!({ "request": request })))
    })
    .await
}

/// The function as Lambda runs it, from init on: its `main`, and the bench's one
/// binary for every function (`bench/all`), call this.
pub async fn run() -> Result<(), lambda_http::Error> {
    edge::run::rest(Function::GetRequest, handle).await
}
