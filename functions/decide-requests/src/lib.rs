//! `POST /chats/{id}/requests/decisions`: an admin decides up to 100 requests of one
//! chat, each on its own.

use futures::future::join_all;
use lambda_http::{http::StatusCode, Body, Request, Response};
use shared::publish::{deliver_or_defer, Publisher};
use shared::{http, requests, App};

/// Carries out every committed decision's outbox, together, before answering; a
/// failure is left to the outbox sweeper.
pub async fn handle(app: &App, publisher: &Publisher, event: Request) -> Response<Body> {
    let chat = http::path_id(&event);
    let body = http::json_body::<requests::DecisionsBody>(&event);
    http::respond(app, &event, |caller| async move {
        let chat = chat?;
        let (decision, ids, reason) = body?.parse()?;
        let (results, outboxes) = requests::decide_many(app, caller, chat, decision, &ids, reason).await?;
        shared::metrics::count(shared::metrics::REQUESTS_DECIDED, outboxes.len());
        join_all(outboxes.iter().map(|outbox| deliver_or_defer(&app.store, publisher, outbox))).await;
        Ok((StatusCode::OK, serde_json::json!({ "results": results })))
    })
    .await
}

/// The function as Lambda runs it, from init on: its `main`, and the bench's one
/// binary for every function (`bench/all`), call this.
pub async fn run() -> Result<(), lambda_http::Error> {
    shared::http::run_publishing(handle).await
}
