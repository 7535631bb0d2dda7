// The sweep's future nests the use case, the storage trait and the SDK deeply enough
// to pass rustc's default query depth when its layout is computed.
#![recursion_limit = "256"]

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    outbox_sweeper::run().await
}
