//! `DELETE /requests/{id}`: the requester withdraws a pending request.

use lambda_http::{http::StatusCode, Body, Request, Response};
use shared::publish::{deliver_or_defer, Publisher};
use shared::{http, requests, App};

/// Carries out the committed change's outbox (the admins' `chat-join-request-closed`,
/// the dismissals) before answering; a failure is left to the outbox sweeper.
pub async fn handle(app: &App, publisher: &Publisher, event: Request) -> Response<Body> {
    let id = http::path_id(&event);
    http::respond(app, &event, |caller| async move {
        let committed = requests::withdraw(app, caller, id?).await?;
        shared::metrics::count(shared::metrics::REQUESTS_WITHDRAWN, 1);
        deliver_or_defer(&app.store, publisher, &committed.outbox).await;
        Ok((StatusCode::OK, serde_json::json!({ "request": committed.value })))
    })
    .await
}

/// The function as Lambda runs it, from init on: its `main`, and the bench's one
/// binary for every function (`bench/all`), call this.
pub async fn run() -> Result<(), lambda_http::Error> {
    shared::http::run_publishing(handle).await
}
