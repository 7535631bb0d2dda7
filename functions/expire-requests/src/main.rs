use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = shared::app::aws_config().await?;
    let store = shared::App::store_from(&config).await?;
    let publisher = shared::publish::Publisher::from_env(&config)?;
    // `None`: expiry is off (REQUEST_EXPIRY_DAYS=0) and each run does nothing.
    let expiry = shared::app::request_expiry_from_env()?;
    let (store, publisher) = (&store, &publisher);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        match expiry {
            Some(expiry) => {
                expire_requests::handle(store, publisher, expiry, &event.context.request_id).await.map(|_| ())
            }
            None => Ok(()),
        }
        .map_err(Error::from)
    }))
    .await
}
