//! Every function in one binary: Lambda sets `_HANDLER` to the function's `Handler`,
//! and this runs the function of that name. The bench measures it against one binary
//! per function (size, init, build time); docs/performance.md says which wins.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    match std::env::var("_HANDLER").unwrap_or_default().as_str() {
        "list-requests" => list_requests::run().await,
        "get-request" => get_request::run().await,
        "create-request" => create_request::run().await,
        "patch-request" => patch_request::run().await,
        "withdraw-request" => withdraw_request::run().await,
        "chat-requests" => chat_requests::run().await,
        "decide-requests" => decide_requests::run().await,
        "expire-requests" => expire_requests::run().await,
        "list-events" => list_events::run().await,
        "ws-connect" => ws_connect::run().await,
        "ws-disconnect" => ws_disconnect::run().await,
        "notifier" => notifier::run().await,
        "outbox-sweeper" => outbox_sweeper::run().await,
        "preflight" => preflight::run().await,
        "sync-app" => sync_app::run().await,
        "chat-questions" => chat_questions::run().await,
        "chat-blocks" => chat_blocks::run().await,
        other => Err(format!("_HANDLER {other:?} names no function").into()),
    }
}
