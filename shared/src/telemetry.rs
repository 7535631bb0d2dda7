use tracing_subscriber::EnvFilter;

/// JSON logs in Lambda (CloudWatch parses them), readable ones on a terminal. The level
/// comes from `RUST_LOG`, `info` by default.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let in_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // `try_init` because tests and the local stack may have installed one already.
    let _ = if in_lambda {
        builder.json().with_current_span(true).with_span_list(false).without_time().with_ansi(false).try_init()
    } else {
        builder.with_target(false).try_init()
    };
}

/// The connection id of a WebSocket route event and its invocation span (request id,
/// connection id, and `user_id` for the handler to record once it is known).
pub fn websocket_invocation(
    event: &aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest,
) -> (String, tracing::Span) {
    let context = &event.request_context;
    let connection_id = context.connection_id.clone().unwrap_or_default();
    let span = tracing::info_span!(
        "invocation",
        request_id = context.request_id.as_deref().unwrap_or_default(),
        connection_id = %connection_id,
        user_id = tracing::field::Empty,
    );
    (connection_id, span)
}
