//! `POST /requests`: ask to join a restricted group chat.

use app::delivery::deliver_or_defer;
use app::metrics;
use aws::bus::Publisher;
use edge::bodies::CreateBody;
use edge::config::Function;
use edge::{http, App};
use lambda_http::{http::StatusCode, Body, Request, Response};

/// Carries out the committed change's outbox (events, dismissals) before answering;
/// a failure is left to the outbox sweeper and never turns the change into an error.
/// With an `Idempotency-Key`, a call made before answers as it did then.
pub async fn handle(app: &App, publisher: &Publisher, event: Request) -> Response<Body> {
    let body = http::json_body::<CreateBody>(&event);
    http::respond_change(app, &event, StatusCode::CREATED, |caller, idempotency| async move {
        let (chat, ask) = body?.parse()?;
        let created = app::requests::create(&app.store, &app.rules, caller, chat, ask, idempotency.as_ref()).await;
        if let Err(app::AppError::RateLimited { .. }) = &created {
            metrics::count(metrics::REQUESTS_RATE_LIMITED, 1);
        }
        let committed = created?;
        metrics::count(metrics::REQUESTS_CREATED, 1);
        deliver_or_defer(&app.store, publisher, &committed.outbox).await;
        Ok(committed.value)
    })
    .await
}

/// The function as Lambda runs it, from init on: its `main`, and the bench's one
/// binary for every function (`bench/all`), call this.
pub async fn run() -> Result<(), lambda_http::Error> {
    edge::run::rest_publishing(Function::CreateRequest, handle).await
}
