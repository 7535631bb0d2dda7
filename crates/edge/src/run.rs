//! What every function's `main` calls: logs, the configuration read once from the
//! environment, the SDK configuration and the clients, built once per cold start and
//! kept for the life of the process; then every invocation handed to the handler.

use std::future::Future;

use aws::bus::Publisher;
use aws::push::Pusher;
use aws::sdk::{sdk_config, SdkConfig};
use aws::store::Store;
use lambda_http::{Body, Request, Response};

use crate::auth::JwtVerifier;
use crate::config::{Config, ConfigError, Env, Function};

/// What a REST or `$connect` function builds once at cold start and hands to every
/// invocation.
pub struct App {
    pub store: Store,
    pub auth: JwtVerifier,
    pub rules: app::Rules,
    /// The origins whose browsers may read the answers.
    pub cors: crate::cors::AllowedOrigins,
}

/// A function's configuration, with its logs set up: the first thing every function
/// does at init.
pub fn configure(function: Function) -> Result<Config, ConfigError> {
    let config = Config::of_function(function, &Env::of_process())?;
    crate::telemetry::init(&config.logs);
    Ok(config)
}

/// [`configure`], and the SDK configuration of a function that calls AWS.
pub fn init(function: Function) -> Result<(Config, SdkConfig), ConfigError> {
    let config = configure(function)?;
    let sdk = sdk_config(config.aws.as_ref().ok_or(ConfigError::Missing("AWS_REGION"))?);
    Ok((config, sdk))
}

/// The store of `config`'s table. Opens its connections during init
/// ([`Store::open_connections`]) unless `CONNECT_AT_INIT` is `false`; a failure there is
/// only logged, as the first call connects on its own.
pub async fn store(config: &Config, sdk: &SdkConfig) -> Result<Store, ConfigError> {
    let table = config.table.as_ref().ok_or(ConfigError::Missing("TABLE_NAME"))?;
    let store = Store::from_config(sdk, &table.name);
    if table.connect_at_init {
        if let Err(error) = store.open_connections().await {
            tracing::warn!(%error, "could not open the DynamoDB connections during init");
        }
    }
    Ok(store)
}

/// The publisher to `config`'s bus.
pub fn publisher(config: &Config, sdk: &SdkConfig) -> Result<Publisher, ConfigError> {
    let bus = config.bus.as_deref().ok_or(ConfigError::Missing("EVENT_BUS_NAME"))?;
    Ok(Publisher::from_config(sdk, bus))
}

/// The pusher to `config`'s Management API.
pub fn pusher(config: &Config, sdk: &SdkConfig) -> Result<Pusher, ConfigError> {
    let endpoint = config.push.as_deref().ok_or(ConfigError::Missing("WEBSOCKET_ENDPOINT"))?;
    Ok(Pusher::from_config(sdk, endpoint))
}

impl App {
    /// Everything a REST or `$connect` function needs. Reads the JWT secret from
    /// Secrets Manager when `JWT_SECRET_ARN` is how it is configured.
    pub async fn new(config: &Config, sdk: &SdkConfig) -> Result<Self, ConfigError> {
        let jwt = config.auth.clone().ok_or(ConfigError::NoKey)?.resolve_secret(sdk).await?;
        let auth = JwtVerifier::new(&jwt)?;
        Ok(Self { store: store(config, sdk).await?, auth, rules: config.rules.clone(), cors: config.cors.clone() })
    }
}

/// The whole `main` of a REST function.
pub async fn rest<F, Fut>(function: Function, handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(&'static App, Request) -> Fut,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    let (config, sdk) = init(function)?;
    serve(App::new(&config, &sdk).await?, handler).await
}

/// [`rest`] for a function that also publishes the events of the changes it commits.
pub async fn rest_publishing<F, Fut>(function: Function, handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(&'static App, &'static Publisher, Request) -> Fut,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    let (config, sdk) = init(function)?;
    let publisher: &'static Publisher = Box::leak(Box::new(publisher(&config, &sdk)?));
    serve(App::new(&config, &sdk).await?, move |app, event| handler(app, publisher, event)).await
}

async fn serve<F, Fut>(app: App, handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(&'static App, Request) -> Fut,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    let app: &'static App = Box::leak(Box::new(app));
    lambda_http::run(lambda_http::service_fn(move |event: Request| {
        let call = handler(app, event);
        async move { Ok::<_, std::convert::Infallible>(call.await) }
    }))
    .await
}
