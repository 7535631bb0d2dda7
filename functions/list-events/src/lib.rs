//! `GET /events`: the caller's events after a given one, to catch up after being offline.

use edge::config::Function;
use edge::views::EventsPageView;
use edge::{http, App};
use lambda_http::{http::StatusCode, Body, Request, Response};

pub async fn handle(app: &App, event: Request) -> Response<Body> {
    let query = http::events_query(&event);
    http::respond(app, &event, |caller| async move {
        let page = app::requests::events(&app.store, &app.rules, caller, query?).await?;
        Ok((StatusCode::OK, EventsPageView::from(page)))
    })
    .await
}

/// The function as Lambda runs it, from init on: its `main`, and the bench's one
/// binary for every function (`bench/all`), call this.
pub async fn run() -> Result<(), lambda_http::Error> {
    edge::run::rest(Function::ListEvents, handle).await
}
