//! `GET /chats/{id}/requests`: the admins' queue of one chat, with counts.

use lambda_http::{http::StatusCode, Body, Request, Response};
use shared::{http, requests, App};

pub async fn handle(app: &App, event: Request) -> Response<Body> {
    let chat = http::path_id(&event);
    let query = http::page_query(&event);
    http::respond(app, &event, |caller| async move {
        let page = requests::queue(app, caller, chat?, query?).await?;
        Ok((StatusCode::OK, page))
    })
    .await
}
