//! `GET /chats/{id}/requests`: the admins' queue of one chat, with counts.

use edge::config::Function;
use edge::views::QueueView;
use edge::{http, App};
use lambda_http::{http::StatusCode, Body, Request, Response};

pub async fn handle(app: &App, event: Request) -> Response<Body> {
    let chat = http::path_id(&event);
    let query = http::page_query(&event);
    http::respond(app, &event, |caller| async move {
        let queue = app::requests::queue(&app.store, caller, chat?, query?).await?;
        Ok((StatusCode::OK, QueueView::from(queue)))
    })
    .await
}

/// The function as Lambda runs it, from init on: its `main`, and the bench's one
/// binary for every function (`bench/all`), call this.
pub async fn run() -> Result<(), lambda_http::Error> {
    edge::run::rest(Function::ChatRequests, handle).await
}
