//! `POST /requests`: ask to join a restricted group chat.

use lambda_http::{http::StatusCode, Body, Request, Response};
use shared::{http, requests, App};

pub async fn handle(app: &App, event: Request) -> Response<Body> {
    let body = http::json_body::<requests::CreateBody>(&event);
    http::respond(app, &event, |caller| async move {
        let chat = shared::domain::ObjectId::parse(&body?.chat)
            .map_err(|_| shared::ApiError::InvalidId)?;
        let committed = requests::create(app, caller, chat).await?;
        Ok((
            StatusCode::CREATED,
            serde_json::json!({ "request": committed.value }),
        ))
    })
    .await
}
