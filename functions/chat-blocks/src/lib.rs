//! `GET /chats/{id}/blocks`, `PUT` and `DELETE /chats/{id}/blocks/{user}`: an active
//! admin lists, adds and lifts the blocks of a chat. One function for the blocks of a
//! chat: the three share their reads and their role.

use app::delivery::deliver_or_defer;
use app::metrics;
use aws::bus::Publisher;
use edge::bodies::BlockBody;
use edge::config::Function;
use edge::{http, App};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;

/// A block that rejects a pending request carries out the rejection's outbox before
/// answering, as a decision does; a failure is left to the outbox sweeper.
pub async fn handle(app: &App, publisher: &Publisher, event: Request) -> Response<Body> {
    let chat = http::path_id(&event);
    let user = http::path_parameter_id(&event, "user");
    match event.method().clone() {
        Method::PUT => {
            let body = http::optional_json_body::<BlockBody>(&event);
            http::respond(app, &event, |caller| async move {
                let reason = body?.unwrap_or_default().parse()?;
                let (block, rejection) =
                    app::moderation::block(&app.store, &app.rules, caller, chat?, user?, reason).await?;
                metrics::count(metrics::USERS_BLOCKED, 1);
                if let Some(outbox) = rejection {
                    metrics::count(metrics::REQUESTS_DECIDED, 1);
                    deliver_or_defer(&app.store, publisher, &outbox).await;
                }
                Ok((StatusCode::OK, json!({ "block": block })))
            })
            .await
        }
        Method::DELETE => {
            http::respond(app, &event, |caller| async move {
                let block = app::moderation::unblock(&app.store, caller, chat?, user?).await?;
                Ok((StatusCode::OK, json!({ "block": block })))
            })
            .await
        }
        _ => {
            let query = http::page_query(&event);
            http::respond(app, &event, |caller| async move {
                let page = app::moderation::blocks(&app.store, caller, chat?, query?).await?;
                Ok((StatusCode::OK, json!({ "blocks": page.blocks, "count": page.count })))
            })
            .await
        }
    }
}

/// The function as Lambda runs it, from init on: its `main`, and the bench's one
/// binary for every function (`bench/all`), call this.
pub async fn run() -> Result<(), lambda_http::Error> {
    edge::run::rest_publishing(Function::ChatBlocks, handle).await
}
