//! The SDK configuration every AWS client is built from, and the bounds on every call.

use std::time::Duration;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, SharedCredentialsProvider};
use aws_types::region::Region;
use aws_types::sdk_config::{RetryConfig, TimeoutConfig};
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};
pub use aws_types::SdkConfig;

/// What Lambda hands a function for its AWS clients: the region, the execution role's
/// session, endpoint overrides (`AWS_ENDPOINT_URL_<SERVICE>`, or `AWS_ENDPOINT_URL` for
/// every service) and the bounds on every call. Read by the edge's configuration.
#[derive(Clone)]
pub struct AwsSettings {
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    /// (variable, URL): `AWS_ENDPOINT_URL_DYNAMODB` points DynamoDB's client elsewhere.
    pub endpoints: Vec<(String, String)>,
    pub bounds: CallBounds,
}

impl std::fmt::Debug for AwsSettings {
    // The keys never reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsSettings")
            .field("region", &self.region)
            .field("endpoints", &self.endpoints)
            .field("bounds", &self.bounds)
            .finish_non_exhaustive()
    }
}

/// The bounds on every AWS call: how long to connect, how long one attempt may take,
/// how long the call may take with all its retries, and how many attempts it gets.
/// From `AWS_CONNECT_TIMEOUT_MS`, `AWS_ATTEMPT_TIMEOUT_MS`, `AWS_CALL_TIMEOUT_MS`,
/// `AWS_MAX_ATTEMPTS`. The defaults keep a REST call (at most 3 rounds of calls) well
/// inside the functions' 10 s timeout, so a hung dependency ends in `503`, not in a
/// Lambda timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallBounds {
    pub connect: Duration,
    pub attempt: Duration,
    pub call: Duration,
    pub max_attempts: u32,
}

impl CallBounds {
    pub fn timeout_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.call)
            .build()
    }

    /// The SDK's standard retries (throttling and transient errors, jittered backoff),
    /// bounded by `max_attempts`.
    pub fn retry_config(&self) -> RetryConfig {
        RetryConfig::standard().with_max_attempts(self.max_attempts).with_max_backoff(Duration::from_millis(500))
    }
}

/// The HTTPS client of every SDK client: rustls on `ring`, trusting the system's roots
/// (`SSL_CERT_FILE` / `SSL_CERT_DIR` when set). See the workspace's `Cargo.toml` for
/// why not the SDK's default.
pub fn http_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https()
}

/// The SDK configuration every client is built from: the region, the session's keys,
/// the endpoint overrides and [`CallBounds`] on every call.
///
/// Built by hand rather than by `aws-config`'s loader: Lambda only ever hands credentials
/// over in the environment, and the loader's other sources (profile files, STS web
/// identity, IMDS, ECS) were about 0.7 MB of every binary (docs/performance.md).
pub fn sdk_config(settings: &AwsSettings) -> SdkConfig {
    let credentials = Credentials::new(
        &settings.access_key_id,
        &settings.secret_access_key,
        settings.session_token.clone(),
        None,
        "environment",
    );
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(settings.region.clone()))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .service_config(EndpointUrls(settings.endpoints.clone()))
        .http_client(http_client())
        .timeout_config(settings.bounds.timeout_config())
        .retry_config(settings.bounds.retry_config())
        .build()
}

/// The endpoint overrides, as the SDK clients ask for them when they are built from an
/// [`SdkConfig`]: by the service's id (`DynamoDB` reads `AWS_ENDPOINT_URL_DYNAMODB`),
/// then `AWS_ENDPOINT_URL` for every service.
#[derive(Debug, Default)]
struct EndpointUrls(Vec<(String, String)>);

impl EndpointUrls {
    fn get(&self, name: &str) -> Option<String> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, value)| value.clone())
    }
}

impl LoadServiceConfig for EndpointUrls {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        let service = key.service_id().to_ascii_uppercase().replace(' ', "_");
        self.get(&format!("{}_{service}", key.env())).or_else(|| self.get(key.env()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};

    fn settings(endpoints: &[(&str, &str)]) -> AwsSettings {
        AwsSettings {
            region: "eu-west-1".into(),
            access_key_id: "AKIDLAMBDA".into(),
            secret_access_key: "secret".into(),
            session_token: Some("session-token".into()),
            endpoints: endpoints.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            bounds: CallBounds {
                connect: Duration::from_secs(1),
                attempt: Duration::from_secs(1),
                call: Duration::from_secs(2),
                max_attempts: 2,
            },
        }
    }

    #[test]
    fn a_service_endpoint_wins_over_the_global_one() {
        let urls = EndpointUrls(
            [("AWS_ENDPOINT_URL", "http://all"), ("AWS_ENDPOINT_URL_DYNAMODB", "http://ddb")]
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .to_vec(),
        );
        let key = |service| {
            ServiceConfigKey::builder().service_id(service).env("AWS_ENDPOINT_URL").profile("endpoint_url").build()
        };
        assert_eq!(urls.load_config(key("DynamoDB").unwrap()).as_deref(), Some("http://ddb"));
        assert_eq!(urls.load_config(key("ApiGatewayManagementApi").unwrap()).as_deref(), Some("http://all"));
        assert_eq!(EndpointUrls::default().load_config(key("DynamoDB").unwrap()), None);
    }

    /// What reaches the wire: a DynamoDB client built from the configuration calls the
    /// endpoint from the environment, signed for its region with the session's keys.
    #[tokio::test]
    async fn a_client_built_from_it_signs_with_the_environment_and_calls_its_endpoint() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let head: Vec<String> = BufReader::new(stream.try_clone().unwrap())
                .lines()
                .map_while(Result::ok)
                .take_while(|line| !line.is_empty())
                .collect();
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: 2\r\n\r\n{}",
            );
            head
        });
        let config = sdk_config(&settings(&[("AWS_ENDPOINT_URL_DYNAMODB", &endpoint)]));
        let client = aws_sdk_dynamodb::Client::new(&config);
        client
            .get_item()
            .table_name("t")
            .key("pk", aws_sdk_dynamodb::types::AttributeValue::S("k".into()))
            .send()
            .await
            .unwrap();

        let head = server.join().unwrap();
        let header = |name: &str| {
            head.iter().find_map(|line| line.strip_prefix(name)).map(|value| value.trim_start_matches(':').trim())
        };
        assert_eq!(head[0], "POST / HTTP/1.1");
        let authorization = header("authorization").unwrap();
        assert!(
            authorization.contains("Credential=AKIDLAMBDA/")
                && authorization.contains("/eu-west-1/dynamodb/aws4_request")
        );
        assert_eq!(header("x-amz-security-token"), Some("session-token"));
    }
}
