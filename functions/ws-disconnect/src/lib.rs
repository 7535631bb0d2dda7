//! WebSocket `$disconnect`: forgets the connection. API Gateway sends it on a best-effort
//! basis, so the notifier (on `410 Gone`) and the item's TTL also forget connections.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
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
