//! `POST /chats/{id}/requests/decisions`: an admin decides up to 100 requests of one
//! chat, each on its own.

use app::delivery::deliver_or_defer;
use app::metrics;
use aws::bus::Publisher;
use edge::bodies::DecisionsBody;
use edge::config::Function;
use edge::views::decision_results;
use edge::{http, App};
use futures::future::join_all;
use lambda_http::{http::StatusCode, Body, Request, Response};

/// Carries out every committed decision's outbox, together, before answering; a
/// failure is left to the outbox sweeper.
pub async fn handle(app: &App, publisher: &Publisher, event: Request) -> Response<Body> {
    let chat = http::path_id(&event);
    let body = http::json_body::<DecisionsBody>(&event);
    http::respond(app, &event, |caller| async move {
        let chat = chat?;
        let (verdict, ids) = body?.parse()?;
        let outcomes = app::requests::decide_many(&app.store, &app.rules, caller, chat, verdict, &ids).await?;
        let (results, outboxes) = decision_results(outcomes);
        metrics::count(metrics::REQUESTS_DECIDED, outboxes.len());
        join_all(outboxes.iter().map(|outbox| deliver_or_defer(&app.store, publisher, outbox))).await;
        Ok((StatusCode::OK, serde_json::json!({ "results": results })))
    })
    .await
}

/// The function as Lambda runs it, from init on: its `main`, and the bench's one
/// binary for every function (`bench/all`), call this.
pub async fn run() -> Result<(), lambda_http::Error> {
    edge::run::rest_publishing(Function::DecideRequests, handle).await
}
