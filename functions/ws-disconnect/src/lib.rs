//! WebSocket `$disconnect`: forgets the connection. API Gateway sends it on a best-effort
//! basis, so the notifier (on `410 Gone`) and the item's TTL also forget connections.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use lambda_runtime::{service_fn, LambdaEvent};
use shared::store::Store;
use tracing::Instrument;

pub async fn handle(store: &Store, event: ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
    let (connection_id, span) = shared::telemetry::websocket_invocation(&event);
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
    shared::telemetry::init();
    let store = shared::App::store_from(&shared::app::sdk_config()?).await?;
    let store = &store;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| async move {
        Ok::<_, lambda_runtime::Error>(handle(store, event.payload).await)
    }))
    .await
}
