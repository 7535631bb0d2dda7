use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use std::io::IsTerminal;

use crate::config::LogSettings;

/// JSON logs in Lambda (CloudWatch parses them), readable ones elsewhere, coloured only
/// on a terminal. The filter is `RUST_LOG`'s (`target=level,...`, or one level), `info`
/// when it does not parse. `Targets` rather than `EnvFilter`: the same syntax without
/// the regex engine, about 200 KB of every binary (docs/performance.md). Metrics go to
/// standard output as EMF in Lambda, to the debug log elsewhere.
pub fn init(settings: &LogSettings) {
    let filter = filter_from(Some(&settings.filter));
    let in_lambda = settings.in_lambda;
    app::metrics::print_to_stdout(in_lambda);
    // `try_init` because tests and the local stack may have installed one already.
    let _ = if in_lambda {
        tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .without_time()
            .with_ansi(false)
            .finish()
            .with(filter)
            .try_init()
    } else {
        let colour = std::io::stdout().is_terminal();
        tracing_subscriber::fmt().with_target(false).with_ansi(colour).finish().with(filter).try_init()
    };
}

fn filter_from(rust_log: Option<&str>) -> Targets {
    rust_log
        .and_then(|directives| directives.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
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

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn rust_log_reads_one_level_or_targets_and_falls_back_to_info() {
        let info = filter_from(None);
        assert!(info.would_enable("aws::store", &Level::INFO) && !info.would_enable("aws", &Level::DEBUG));
        assert!(!filter_from(Some("warn")).would_enable("app", &Level::INFO));
        // The local stack's default (docs/local-stack.md) and a template `LogLevel` with a target.
        let stack = filter_from(Some("warn,stack=info"));
        assert!(stack.would_enable("stack::rest", &Level::INFO) && !stack.would_enable("app", &Level::INFO));
        let debug = filter_from(Some("aws=debug,info"));
        assert!(debug.would_enable("aws::store", &Level::DEBUG) && !debug.would_enable("hyper", &Level::DEBUG));
        assert!(filter_from(Some("aws=loud")).would_enable("aws", &Level::INFO), "unparsable: info");
    }
}
