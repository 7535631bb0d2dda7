use lambda_http::{service_fn, Error, Request};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let app = shared::App::from_env(&shared::app::aws_config().await?).await?;
    let app = &app;
    lambda_http::run(service_fn(move |event: Request| async move {
        Ok::<_, std::convert::Infallible>(list_events::handle(app, event).await)
    }))
    .await
}
