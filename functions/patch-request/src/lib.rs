//! `PATCH /requests/{id}`: an admin accepts or rejects a pending request.

use app::delivery::deliver_or_defer;
use app::metrics;
use aws::bus::Publisher;
use edge::bodies::DecisionBody;
use edge::config::Function;
use edge::{http, App};
use lambda_http::{http::StatusCode, Body, Request, Response};

/// Carries out the committed change's outbox (events, dismissals) before answering;
/// a failure is left to the outbox sweeper and never turns the change into an error.
pub async fn handle(app: &App, publisher: &Publisher, event: Request) -> Response<Body> {
    let id = http::path_id(&event);
    let body = http::json_body::<DecisionBody>(&event);
    http::respond_change(app, &event, StatusCode::OK, |caller, idempotency| async move {
        let id = id?;
        let verdict = body?.parse()?;
        let committed =
            app::requests::decide(&app.store, &app.rules, caller, id, verdict, None, idempotency.as_ref()).await?;
        metrics::count(metrics::REQUESTS_DECIDED, 1);
        deliver_or_defer(&app.store, publisher, &committed.outbox).await;
        Ok(committed.value)
    })
    .await
}

/// The function as Lambda runs it, from init on: its `main`, and the bench's one
/// binary for every function (`bench/all`), call this.
pub async fn run() -> Result<(), lambda_http::Error> {
    edge::run::rest_publishing(Function::PatchRequest, handle).await
}
