use lambda_http::{service_fn, Error, Request};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = shared::app::aws_config().await?;
    let app = shared::App::from_env(&config).await?;
    let publisher = shared::publish::Publisher::from_env(&config)?;
    let (app, publisher) = (&app, &publisher);
    lambda_http::run(service_fn(move |event: Request| async move {
        Ok::<_, std::convert::Infallible>(decide_requests::handle(app, publisher, event).await)
    }))
    .await
}
