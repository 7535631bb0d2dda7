//! Everything the local stack serves, given its listeners and the same clients the
//! functions build in AWS (pointed here by endpoint overrides).

pub mod console;
mod docs;
pub mod events;
mod rest;
mod websocket;

use std::sync::Arc;
use std::time::Duration;

use aws::bus::Publisher;
use aws::push::Pusher;
use edge::App;
use tokio::net::TcpListener;

pub use events::RULE_DETAIL_TYPES;
pub use websocket::Connections;

pub struct Listeners {
    pub rest: TcpListener,
    pub websocket: TcpListener,
    pub events: TcpListener,
}

pub struct Services {
    pub app: App,
    pub publisher: Publisher,
    pub pusher: Pusher,
    /// How often the outbox sweeper runs (every minute in AWS).
    pub sweep_every: Duration,
    pub sweep_min_age_seconds: i64,
    /// How often expiry runs (every 15 minutes in AWS), and after how long a pending
    /// request expires (`None`: never).
    pub expire_every: Duration,
    pub request_expiry: Option<Duration>,
    /// The source of the app's events the sync function's rule matches.
    pub app_event_source: String,
    /// Where the requests' changes are posted (`APP_WEBHOOK_URL`), if anywhere.
    pub webhook: Option<hyper::Uri>,
    /// What the console page starts from: the demo users, their tokens and chats.
    pub console: serde_json::Value,
}

/// Serves REST, WebSocket + Management API, and EventBridge, and runs the sweeper,
/// until the returned future is dropped.
pub async fn serve(listeners: Listeners, services: Services) {
    let services = Arc::new(services);
    let connections = Arc::new(Connections::default());
    let sweeper = {
        let services = services.clone();
        async move {
            let mut every = tokio::time::interval(services.sweep_every);
            loop {
                every.tick().await;
                let result = outbox_sweeper::handle(
                    &services.app.store,
                    &services.publisher,
                    services.sweep_min_age_seconds,
                    app::delivery::DELIVERY_BUDGET,
                    "local-sweeper",
                )
                .await;
                match result {
                    Ok(report) if report.published + report.failed > 0 => {
                        tracing::info!(target: "stack", published = report.published, failed = report.failed, "outbox swept");
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(target: "stack", %error, "outbox sweep failed"),
                }
            }
        }
    };
    let expirer = {
        let services = services.clone();
        async move {
            let Some(expiry) = services.request_expiry else { return };
            let mut every = tokio::time::interval(services.expire_every);
            loop {
                every.tick().await;
                let result =
                    expire_requests::handle(&services.app.store, &services.publisher, expiry, "local-expirer").await;
                match result {
                    Ok(report) if report.expired + report.failed > 0 => {
                        tracing::info!(target: "stack", expired = report.expired, failed = report.failed, "requests expired");
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(target: "stack", %error, "expiry failed"),
                }
            }
        }
    };
    tokio::join!(
        rest::serve(listeners.rest, services.clone()),
        websocket::serve(listeners.websocket, services.clone(), connections),
        events::serve(listeners.events, services.clone()),
        sweeper,
        expirer,
    );
}
