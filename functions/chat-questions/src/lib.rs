//! `GET` and `PUT /chats/{id}/questions`: a chat's screening questions, read by anyone
//! about to ask, set by its active admins. One function for the one resource: both
//! read the same two items, and the `PUT` adds one transaction.

use edge::bodies::QuestionsBody;
use edge::config::Function;
use edge::{http, App};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;

pub async fn handle(app: &App, event: Request) -> Response<Body> {
    let chat = http::path_id(&event);
    if event.method() == Method::PUT {
        let body = http::json_body::<QuestionsBody>(&event);
        return http::respond(app, &event, |caller| async move {
            let questions = body?.parse()?;
            let set = app::moderation::set_questions(&app.store, caller, chat?, questions).await?;
            Ok((StatusCode::OK, json!({ "questions": set })))
        })
        .await;
    }
    http::respond(app, &event, |_| async move {
        let questions = app::moderation::questions(&app.store, chat?).await?;
        Ok((StatusCode::OK, json!({ "questions": questions })))
    })
    .await
}

/// The function as Lambda runs it, from init on: its `main`, and the bench's one
/// binary for every function (`bench/all`), call this.
pub async fn run() -> Result<(), lambda_http::Error> {
    edge::run::rest(Function::ChatQuestions, handle).await
}
