//! WebSocket `$connect`: checks `?token=` with the same verifier as REST and records the
//! connection under its user. Any other status than 200 makes API Gateway refuse it.

use aws::store::Connection;
use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use domain::time::{epoch_seconds_in, now_timestamp};
use edge::config::Function;
use edge::App;
use lambda_runtime::{service_fn, LambdaEvent};
use tracing::Instrument;

/// API Gateway closes a WebSocket connection after 2 hours at most.
pub const CONNECTION_TTL_SECONDS: i64 = 2 * 3600;

pub async fn handle(app: &App, event: ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
    let (connection_id, span) = edge::telemetry::websocket_invocation(&event);
    async {
        let token = event.query_string_parameters.first("token").unwrap_or_default();
        let user = match app.auth.authenticate_token(token) {
            Ok(user) => user,
            Err(reason) => {
                tracing::info!(%reason, "connection refused");
                return response(401, "UNAUTHORIZED");
            }
        };
        tracing::Span::current().record("user_id", tracing::field::display(user));
        if connection_id.is_empty() {
            tracing::error!("the event carries no connection id");
            return response(500, "INTERNAL");
        }
        let connection = Connection {
            connection_id: connection_id.clone(),
            user,
            connected_at: now_timestamp(),
            ttl: epoch_seconds_in(CONNECTION_TTL_SECONDS),
        };
        match app.store.put_connection(&connection).await {
            Ok(()) => {
                tracing::info!("connected");
                response(200, "CONNECTED")
            }
            Err(error) => {
                tracing::error!(%error, "could not record the connection");
                response(500, "INTERNAL")
            }
        }
    }
    .instrument(span)
    .await
}

fn response(status: i64, code: &str) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = status;
    response.body = Some(Body::Text(serde_json::json!({ "code": code }).to_string()));
    response
}

/// The function as Lambda runs it, from init on: its `main`, and the bench's one
/// binary for every function (`bench/all`), call this.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    let (config, sdk) = edge::run::init(Function::WsConnect)?;
    let app = App::new(&config, &sdk).await?;
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
        Ok::<_, lambda_runtime::Error>(handle(app, event.payload).await)
    }))
    .await
}
