//! `GET /requests`: the caller's requests, newest first, a page at a time.

use edge::config::Function;
use edge::views::RequestPageView;
use edge::{http, App};
use lambda_http::{http::StatusCode, Body, Request, Response};

pub async fn handle(app: &App, event: Request) -> Response<Body> {
    let query = http::page_query(&event);
    http::respond(app, &event, |caller| async move {
        let page = app::requests::list(&app.store, caller, query?).await?;
        Ok((StatusCode::OK, RequestPageView::from(page)))
    })
    .await
}

/// The function as Lambda runs it, from init on: its `main`, and the bench's one
/// binary for every function (`bench/all`), call this.
pub async fn run() -> Result<(), lambda_http::Error> {
    edge::run::rest(Function::ListRequests, handle).await
}
