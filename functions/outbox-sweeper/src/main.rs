use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = shared::app::aws_config().await?;
    let store = shared::App::store_from(&config).await?;
    let publisher = shared::publish::Publisher::from_env(&config)?;
    let min_age = match std::env::var("OUTBOX_MIN_AGE_SECONDS") {
        Ok(text) => text.parse::<i64>().map_err(|_| format!("OUTBOX_MIN_AGE_SECONDS is not a number: {text:?}"))?,
        Err(_) => shared::publish::SWEEP_MIN_AGE_SECONDS,
    };
    let (store, publisher) = (&store, &publisher);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        outbox_sweeper::handle(store, publisher, min_age, &event.context.request_id).await.map_err(Error::from)
    }))
    .await
}
