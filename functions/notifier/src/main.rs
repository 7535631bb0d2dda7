use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use shared::domain::OutboundEvent;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = shared::app::aws_config().await?;
    let store = shared::App::store_from(&config).await?;
    let pusher = shared::push::Pusher::from_env(&config)?;
    let (store, pusher) = (&store, &pusher);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<EventBridgeEvent<OutboundEvent>>| async move {
        notifier::handle(store, pusher, &event.context.request_id, event.payload).await.map_err(Error::from)
    }))
    .await
}
