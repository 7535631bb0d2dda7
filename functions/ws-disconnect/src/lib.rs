//! WebSocket `$disconnect`: forgets the connection. API Gateway sends it on a best-effort
//! basis, so the notifier (on `410 Gone`) and the item's TTL also forget connections.

use aws::store::Store;
use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use edge::config::Function;
use lambda_runtime::{service_fn, LambdaEvent};
use tracing::Instrument;

pub async fn handle(store: &Store, event: ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
    let (connection_id, span) = edge::telemetry::websocket_invocation(&event);
    async {
        let mut response = ApiGatewayProxyResponse::default();
        response.status_code = match store.delete_connection(&connection_id).await {
            Ok(()) => 200,
            Err(error) => {
                tracing::error!(%error, "could not forget the connection");
                500
            }
        };
        tracing::info!(status = response.status_code, "disconnected");
        response
    }
    .instrument(span)
    .await
}

/// The function as Lambda runs it, from init on: its `main`, and the bench's one
/// binary for every function (`bench/all`), call this.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    let (config, sdk) = edge::run::init(Function::WsDisconnect)?;
    let store = edge::run::store(&config, &sdk).await?;
    let store = &store;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
        Ok::<_, lambda_runtime::Error>(handle(store, event.payload).await)
    }))
    .await
}
