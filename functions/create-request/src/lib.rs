//! `POST /requests`: ask to join a restricted group chat.

use lambda_http::{http::StatusCode, Body, Request, Response};
use shared::publish::{deliver_or_defer, Publisher};
use shared::{http, requests, App};

/// Carries out the committed change's outbox (events, dismissals) before answering;
/// a failure is left to the outbox sweeper and never turns the change into an error.
pub async fn handle(app: &App, publisher: &Publisher, event: Request) -> Response<Body> {
    let body = http::json_body::<requests::CreateBody>(&event);
    http::respond(app, &event, |caller| async move {
        let (chat, message) = body?.parse()?;
        let committed = requests::create(app, caller, chat, message).await?;
        shared::metrics::count(shared::metrics::REQUESTS_CREATED, 1);
        deliver_or_defer(&app.store, publisher, &committed.outbox).await;
        Ok((StatusCode::CREATED, serde_json::json!({ "request": committed.value })))
    })
    .await
}

/// The function as Lambda runs it, from init on: its `main`, and the bench's one
/// binary for every function (`bench/all`), call this.
pub async fn run() -> Result<(), lambda_http::Error> {
    shared::http::run_publishing(handle).await
}
