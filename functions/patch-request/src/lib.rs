//! `PATCH /requests/{id}`: an admin accepts or rejects a pending request.

use lambda_http::{http::StatusCode, Body, Request, Response};
use shared::{http, requests, App};

pub async fn handle(app: &App, event: Request) -> Response<Body> {
    let id = http::path_id(&event);
    let body = http::json_body::<requests::DecisionBody>(&event);
    http::respond(app, &event, |caller| async move {
        let (id, decision) = (id?, body?.status);
        let committed = requests::decide(app, caller, id, decision).await?;
        Ok((
            StatusCode::OK,
            serde_json::json!({ "request": committed.value }),
        ))
    })
    .await
}
