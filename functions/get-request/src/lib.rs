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
