//! The one configuration: every environment variable the service reads, its default
//! and its meaning, written once in [`VARIABLES`]; read from one snapshot of the
//! environment at init ([`Env`]); each function reading only the sections it needs
//! ([`Function::sections`]). A test in the dev crate holds [`VARIABLES`], each
//! function's reads, `template.yaml` and docs/configuration.md together.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use app::Rules;
use aws::sdk::{AwsSettings, CallBounds};

use crate::auth::JwtSettings;
use crate::cors::AllowedOrigins;

/// The parts of the configuration, each read as a whole by the functions that take it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Section {
    /// Logs and metrics.
    Logs,
    /// The SDK configuration and the bounds on every AWS call.
    Aws,
    /// The DynamoDB table.
    Table,
    /// Verifying bearer tokens.
    Auth,
    /// Which browsers' origins may read the answers.
    Cors,
    /// What a decision does.
    Decisions,
    /// What a create may do: the hourly limit.
    Creates,
    /// `GET /events`.
    Events,
    /// The event bus the outbox publishes to.
    Bus,
    /// The API Gateway Management API the notifier posts to.
    Push,
    /// The outbox sweeper.
    Sweep,
    /// The request expirer.
    Expiry,
}

/// Who sets a variable in AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetBy {
    /// Lambda's runtime, for every function.
    Lambda,
    /// `template.yaml`, for each function that takes its section.
    Template,
    /// Nobody in AWS: the default holds there; tests and the local stack set it.
    Default,
}

/// One environment variable the service reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variable {
    pub name: &'static str,
    pub section: Section,
    /// The value when it is unset or empty; `None`: required, or optional with no value.
    pub default: Option<&'static str>,
    pub set_by: SetBy,
    pub meaning: &'static str,
}

const fn variable(
    name: &'static str,
    section: Section,
    default: Option<&'static str>,
    set_by: SetBy,
    meaning: &'static str,
) -> Variable {
    Variable { name, section, default, set_by, meaning }
}

use Section::*;
use SetBy::{Default as Unset, Lambda, Template};

/// Every variable, its default and its meaning: the one place each is written.
pub const VARIABLES: &[Variable] = &[
    variable("RUST_LOG", Logs, Some("info"), Template, "log filter: one level, or `target=level,...`"),
    variable("AWS_LAMBDA_FUNCTION_NAME", Logs, None, Lambda, "set in Lambda: logs as JSON, metrics as EMF lines"),
    variable("AWS_REGION", Aws, None, Lambda, "the region (`AWS_DEFAULT_REGION` when unset)"),
    variable("AWS_DEFAULT_REGION", Aws, None, Lambda, "the region, when `AWS_REGION` is unset"),
    variable("AWS_ACCESS_KEY_ID", Aws, None, Lambda, "the execution role's session"),
    variable("AWS_SECRET_ACCESS_KEY", Aws, None, Lambda, "the execution role's session"),
    variable("AWS_SESSION_TOKEN", Aws, None, Lambda, "the execution role's session"),
    variable("AWS_ENDPOINT_URL", Aws, None, Unset, "another endpoint for every AWS service"),
    variable("AWS_ENDPOINT_URL_DYNAMODB", Aws, None, Template, "another DynamoDB endpoint (DynamoDB Local)"),
    variable("AWS_ENDPOINT_URL_EVENTBRIDGE", Aws, None, Unset, "another EventBridge endpoint (the local stand-in)"),
    variable("AWS_CONNECT_TIMEOUT_MS", Aws, Some("1000"), Unset, "bound on connecting to an AWS service"),
    variable("AWS_ATTEMPT_TIMEOUT_MS", Aws, Some("1000"), Unset, "bound on one attempt of an AWS call"),
    variable("AWS_CALL_TIMEOUT_MS", Aws, Some("2500"), Unset, "bound on an AWS call with all its retries"),
    variable("AWS_MAX_ATTEMPTS", Aws, Some("3"), Unset, "attempts of an AWS call, 1 to 10"),
    variable("TABLE_NAME", Table, None, Template, "the table (required)"),
    variable("CONNECT_AT_INIT", Table, Some("true"), Unset, "open the DynamoDB connections during init"),
    variable("JWT_SECRET", Auth, None, Template, "HS256 secret of the tokens"),
    variable("JWT_SECRET_ARN", Auth, None, Template, "Secrets Manager secret holding the HS256 secret"),
    variable("JWT_PUBLIC_KEY", Auth, None, Template, "RS256 public key (PEM) of the tokens"),
    variable("JWT_ISSUER", Auth, None, Template, "required `iss` of the tokens"),
    variable("JWT_AUDIENCE", Auth, None, Template, "required `aud` of the tokens"),
    variable("JWT_LEEWAY_SECONDS", Auth, Some("0"), Template, "clock skew allowed on `exp` and `nbf`"),
    variable(
        "CORS_ALLOWED_ORIGINS",
        Cors,
        Some("*"),
        Template,
        "origins browsers may call from: `*`, or a comma-separated list",
    ),
    variable("JOIN_GROUP_CHAT_POINTS", Decisions, Some("10"), Template, "points of the `join-group-chat` action"),
    variable("REJECTION_COOLDOWN_SECONDS", Decisions, Some("0"), Template, "wait after a rejection (0: off)"),
    variable(
        "CREATE_LIMIT_PER_HOUR",
        Creates,
        Some("30"),
        Template,
        "requests one user may make per clock hour, UTC (0: no limit)",
    ),
    variable(
        "EVENTS_LATE_SECONDS",
        Events,
        Some("5"),
        Unset,
        "how late a kept event may become visible; cursors read that much again",
    ),
    variable("EVENT_BUS_NAME", Bus, None, Template, "the bus the outbox publishes to (required)"),
    variable("WEBSOCKET_ENDPOINT", Push, None, Template, "the Management API endpoint (required)"),
    variable("OUTBOX_MIN_AGE_SECONDS", Sweep, Some("30"), Unset, "age at which the sweeper takes an outbox item"),
    variable("REQUEST_EXPIRY_DAYS", Expiry, Some("30"), Template, "days a request stays pending (0: never)"),
    variable("REQUEST_EXPIRY_SECONDS", Expiry, None, Unset, "the same in seconds; wins over the days"),
];

/// Every function of the template, by the folder of its crate, with the sections it
/// takes. Every function takes [`Section::Logs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    ListRequests,
    GetRequest,
    CreateRequest,
    PatchRequest,
    WithdrawRequest,
    ChatRequests,
    DecideRequests,
    ListEvents,
    WsConnect,
    WsDisconnect,
    Notifier,
    OutboxSweeper,
    ExpireRequests,
    Preflight,
    SyncApp,
    ChatQuestions,
    ChatBlocks,
}

impl Function {
    pub const ALL: [Function; 17] = [
        Self::ListRequests,
        Self::GetRequest,
        Self::CreateRequest,
        Self::PatchRequest,
        Self::WithdrawRequest,
        Self::ChatRequests,
        Self::DecideRequests,
        Self::ListEvents,
        Self::WsConnect,
        Self::WsDisconnect,
        Self::Notifier,
        Self::OutboxSweeper,
        Self::ExpireRequests,
        Self::Preflight,
        Self::SyncApp,
        Self::ChatQuestions,
        Self::ChatBlocks,
    ];

    /// The folder under `functions/`.
    pub fn name(self) -> &'static str {
        match self {
            Self::ListRequests => "list-requests",
            Self::GetRequest => "get-request",
            Self::CreateRequest => "create-request",
            Self::PatchRequest => "patch-request",
            Self::WithdrawRequest => "withdraw-request",
            Self::ChatRequests => "chat-requests",
            Self::DecideRequests => "decide-requests",
            Self::ListEvents => "list-events",
            Self::WsConnect => "ws-connect",
            Self::WsDisconnect => "ws-disconnect",
            Self::Notifier => "notifier",
            Self::OutboxSweeper => "outbox-sweeper",
            Self::ExpireRequests => "expire-requests",
            Self::Preflight => "preflight",
            Self::SyncApp => "sync-app",
            Self::ChatQuestions => "chat-questions",
            Self::ChatBlocks => "chat-blocks",
        }
    }

    /// The sections it takes besides logs.
    pub fn sections(self) -> &'static [Section] {
        match self {
            Self::ListRequests | Self::GetRequest | Self::ChatRequests | Self::ChatQuestions => {
                &[Aws, Table, Auth, Cors]
            }
            Self::WsConnect => &[Aws, Table, Auth],
            Self::CreateRequest => &[Aws, Table, Auth, Cors, Bus, Creates],
            Self::WithdrawRequest | Self::ChatBlocks => &[Aws, Table, Auth, Cors, Bus],
            Self::PatchRequest | Self::DecideRequests => &[Aws, Table, Auth, Cors, Bus, Decisions],
            Self::ListEvents => &[Aws, Table, Auth, Cors, Events],
            Self::WsDisconnect => &[Aws, Table],
            Self::Notifier => &[Aws, Table, Push],
            Self::SyncApp => &[Aws, Table, Bus],
            Self::OutboxSweeper => &[Aws, Table, Bus, Sweep],
            Self::ExpireRequests => &[Aws, Table, Bus, Expiry],
            // No AWS call at all: only the origins.
            Self::Preflight => &[Cors],
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} must be set")]
    Missing(&'static str),
    #[error("{name} is not valid: {value:?} ({meaning})")]
    Invalid { name: &'static str, value: String, meaning: &'static str },
    #[error("set JWT_SECRET or JWT_SECRET_ARN (HS256), or JWT_PUBLIC_KEY (RS256)")]
    NoKey,
    #[error("the secret JWT_SECRET_ARN names cannot be read: {0}")]
    Secret(String),
    #[error("JWT_PUBLIC_KEY is not an RSA public key in PEM: {0}")]
    BadPublicKey(String),
}

/// One snapshot of the environment, taken once at init; it remembers which variables
/// were read, so a test can check what each function takes.
#[derive(Debug, Default)]
pub struct Env {
    values: HashMap<String, String>,
    read: RefCell<BTreeSet<&'static str>>,
}

impl Env {
    /// The process's environment, now. Variables that are not UTF-8 are left out: none
    /// of ours can be (`vars` would panic on them).
    pub fn of_process() -> Self {
        let values = std::env::vars_os()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
            .collect();
        Self { values, read: RefCell::default() }
    }

    pub fn of_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let values = pairs.into_iter().map(|(name, value)| (name.to_owned(), value.to_owned())).collect();
        Self { values, read: RefCell::default() }
    }

    /// The variables read so far.
    pub fn read_so_far(&self) -> BTreeSet<&'static str> {
        self.read.borrow().clone()
    }

    fn variable(name: &'static str) -> &'static Variable {
        // A name missing from the table is this file's bug, caught by any test that
        // reads the section.
        VARIABLES.iter().find(|v| v.name == name).unwrap_or_else(|| panic!("{name} is not in VARIABLES"))
    }

    /// The value set (empty counts as unset), else the default.
    fn get(&self, name: &'static str) -> Option<&str> {
        self.read.borrow_mut().insert(name);
        let set = self.values.get(name).map(String::as_str).filter(|value| !value.is_empty());
        set.or(Self::variable(name).default)
    }

    fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.get(name).map(str::to_owned).ok_or(ConfigError::Missing(name))
    }

    fn parsed<T: std::str::FromStr>(&self, name: &'static str, valid: impl Fn(&T) -> bool) -> Result<T, ConfigError> {
        let text = self.required(name)?;
        text.parse().ok().filter(|value| valid(value)).ok_or(ConfigError::Invalid {
            name,
            value: text,
            meaning: Self::variable(name).meaning,
        })
    }

    fn parsed_if_set<T: std::str::FromStr>(&self, name: &'static str) -> Result<Option<T>, ConfigError> {
        match self.get(name) {
            None => Ok(None),
            Some(_) => self.parsed(name, |_| true).map(Some),
        }
    }
}

/// Logs and metrics.
#[derive(Debug, Clone)]
pub struct LogSettings {
    pub filter: String,
    pub in_lambda: bool,
}

/// The table and how to open it.
#[derive(Debug, Clone)]
pub struct TableSettings {
    pub name: String,
    pub connect_at_init: bool,
}

/// The whole configuration of one function: the sections it takes, the rest `None` or
/// at their defaults.
#[derive(Debug)]
pub struct Config {
    pub logs: LogSettings,
    pub aws: Option<AwsSettings>,
    pub table: Option<TableSettings>,
    pub auth: Option<JwtSettings>,
    pub cors: AllowedOrigins,
    pub rules: Rules,
    pub bus: Option<String>,
    pub push: Option<String>,
    pub sweep_min_age_seconds: i64,
    /// `None`: requests never expire.
    pub request_expiry: Option<Duration>,
}

impl Config {
    /// What `function` reads, from `env`.
    pub fn of_function(function: Function, env: &Env) -> Result<Self, ConfigError> {
        Self::of_sections(function.sections(), env)
    }

    /// Logs, and `sections`; the local stack, which runs every function in one process,
    /// takes them all.
    pub fn of_sections(sections: &[Section], env: &Env) -> Result<Self, ConfigError> {
        let takes = |section| sections.contains(&section);
        let defaults = Env::default();
        let decisions = if takes(Decisions) { env } else { &defaults };
        let events = if takes(Events) { env } else { &defaults };
        let creates = if takes(Creates) { env } else { &defaults };
        Ok(Self {
            logs: LogSettings {
                filter: env.required("RUST_LOG")?,
                in_lambda: env.get("AWS_LAMBDA_FUNCTION_NAME").is_some(),
            },
            aws: takes(Aws).then(|| aws_settings(env)).transpose()?,
            table: takes(Table).then(|| table_settings(env)).transpose()?,
            auth: takes(Auth).then(|| jwt_settings(env)).transpose()?,
            cors: allowed_origins(if takes(Cors) { env } else { &defaults })?,
            rules: Rules {
                join_group_chat_points: decisions.parsed("JOIN_GROUP_CHAT_POINTS", |_| true)?,
                rejection_cooldown_seconds: decisions.parsed("REJECTION_COOLDOWN_SECONDS", |_| true)?,
                create_limit_per_hour: creates.parsed("CREATE_LIMIT_PER_HOUR", |_| true)?,
                events_late_seconds: events.parsed("EVENTS_LATE_SECONDS", |s: &i64| *s >= 0)?,
            },
            bus: takes(Bus).then(|| env.required("EVENT_BUS_NAME")).transpose()?,
            push: takes(Push).then(|| env.required("WEBSOCKET_ENDPOINT")).transpose()?,
            sweep_min_age_seconds: if takes(Sweep) { env } else { &defaults }
                .parsed("OUTBOX_MIN_AGE_SECONDS", |s: &i64| *s >= 0)?,
            request_expiry: if takes(Expiry) { request_expiry(env)? } else { request_expiry(&defaults)? },
        })
    }
}

fn table_settings(env: &Env) -> Result<TableSettings, ConfigError> {
    Ok(TableSettings {
        name: env.required("TABLE_NAME")?,
        connect_at_init: env.parsed("CONNECT_AT_INIT", |_: &bool| true)?,
    })
}

fn allowed_origins(env: &Env) -> Result<AllowedOrigins, ConfigError> {
    let name = "CORS_ALLOWED_ORIGINS";
    let text = env.required(name)?;
    AllowedOrigins::parse(&text).ok_or(ConfigError::Invalid { name, value: text, meaning: Env::variable(name).meaning })
}

/// `REQUEST_EXPIRY_SECONDS` if set, else `REQUEST_EXPIRY_DAYS`; `None` when it is 0.
fn request_expiry(env: &Env) -> Result<Option<Duration>, ConfigError> {
    let seconds = match env.parsed_if_set::<u64>("REQUEST_EXPIRY_SECONDS")? {
        Some(seconds) => seconds,
        None => env.parsed::<u64>("REQUEST_EXPIRY_DAYS", |_| true)?.saturating_mul(86_400),
    };
    Ok((seconds > 0).then(|| Duration::from_secs(seconds)))
}

/// The functions' bounds on every AWS call when nothing overrides them: the defaults
/// of [`VARIABLES`].
pub fn default_call_bounds() -> CallBounds {
    // The defaults are constants of this file, checked valid by its tests.
    call_bounds(&Env::default()).unwrap_or_else(|error| panic!("the default call bounds are invalid: {error}"))
}

fn call_bounds(env: &Env) -> Result<CallBounds, ConfigError> {
    let millis = |name| env.parsed(name, |ms: &u64| *ms > 0).map(Duration::from_millis);
    Ok(CallBounds {
        connect: millis("AWS_CONNECT_TIMEOUT_MS")?,
        attempt: millis("AWS_ATTEMPT_TIMEOUT_MS")?,
        call: millis("AWS_CALL_TIMEOUT_MS")?,
        max_attempts: env.parsed("AWS_MAX_ATTEMPTS", |n| (1..=10).contains(n))?,
    })
}

fn aws_settings(env: &Env) -> Result<AwsSettings, ConfigError> {
    let bounds = call_bounds(env)?;
    let region = match env.get("AWS_REGION") {
        Some(region) => region.to_owned(),
        None => env.required("AWS_DEFAULT_REGION").map_err(|_| ConfigError::Missing("AWS_REGION"))?,
    };
    let endpoints = ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_EVENTBRIDGE"]
        .into_iter()
        .filter_map(|name| env.get(name).map(|url| (name.to_owned(), url.to_owned())))
        .collect();
    Ok(AwsSettings {
        region,
        access_key_id: env.required("AWS_ACCESS_KEY_ID")?,
        secret_access_key: env.required("AWS_SECRET_ACCESS_KEY")?,
        session_token: env.get("AWS_SESSION_TOKEN").map(str::to_owned),
        endpoints,
        bounds,
    })
}

fn jwt_settings(env: &Env) -> Result<JwtSettings, ConfigError> {
    let text = |name| env.get(name).map(str::to_owned);
    Ok(JwtSettings {
        secret: text("JWT_SECRET"),
        secret_arn: text("JWT_SECRET_ARN"),
        public_key_pem: text("JWT_PUBLIC_KEY"),
        issuer: text("JWT_ISSUER"),
        audience: text("JWT_AUDIENCE"),
        leeway_seconds: env.parsed("JWT_LEEWAY_SECONDS", |_| true)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAMBDA: [(&str, &str); 5] = [
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDLAMBDA"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("TABLE_NAME", "t"),
        ("JWT_SECRET", "s"),
    ];

    fn read(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::of_function(Function::GetRequest, &Env::of_pairs(pairs.iter().copied()))
    }

    #[test]
    fn the_region_and_both_keys_are_required_and_empty_is_unset() {
        for missing in ["AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
            let without: Vec<_> = LAMBDA.iter().copied().filter(|(name, _)| *name != missing).collect();
            assert!(matches!(read(&without), Err(ConfigError::Missing(name)) if name == missing));
            let empty: Vec<_> =
                LAMBDA.iter().map(|&(name, value)| (name, if name == missing { "" } else { value })).collect();
            assert!(matches!(read(&empty), Err(ConfigError::Missing(name)) if name == missing));
        }
        let mut default_region: Vec<_> = LAMBDA[1..].to_vec();
        default_region.push(("AWS_DEFAULT_REGION", "ap-south-1"));
        assert_eq!(read(&default_region).unwrap().aws.unwrap().region, "ap-south-1");
    }

    #[test]
    fn defaults_come_from_the_table_and_bad_values_are_refused_by_name() {
        let config = read(&LAMBDA).unwrap();
        let bounds = &config.aws.as_ref().unwrap().bounds;
        assert_eq!((bounds.connect, bounds.attempt, bounds.call), (ms(1000), ms(1000), ms(2500)));
        assert_eq!(bounds.max_attempts, 3);
        assert!(config.table.as_ref().unwrap().connect_at_init);
        assert_eq!(config.rules.join_group_chat_points, 10);
        assert_eq!(config.request_expiry, Some(Duration::from_secs(30 * 86_400)));
        for (name, value) in [("AWS_MAX_ATTEMPTS", "11"), ("AWS_CALL_TIMEOUT_MS", "0"), ("CONNECT_AT_INIT", "yes")] {
            let mut pairs = LAMBDA.to_vec();
            pairs.push((name, value));
            assert!(matches!(read(&pairs), Err(ConfigError::Invalid { name: n, .. }) if n == name), "{name}");
        }
    }

    #[test]
    fn a_function_reads_only_its_sections() {
        let env = Env::of_pairs(LAMBDA.iter().copied().chain([("JOIN_GROUP_CHAT_POINTS", "not a number")]));
        let config = Config::of_function(Function::GetRequest, &env).unwrap();
        assert_eq!(config.rules.join_group_chat_points, 10, "not its section: the default");
        assert!(!env.read_so_far().contains("JOIN_GROUP_CHAT_POINTS"));
        assert!(Config::of_function(Function::PatchRequest, &env).is_err(), "its section: refused");
    }

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    #[test]
    fn the_defaults_are_the_ones_the_code_has_always_had() {
        assert_eq!(default_call_bounds(), aws_settings(&Env::of_pairs(LAMBDA.iter().copied())).unwrap().bounds);
        let expiry = request_expiry(&Env::of_pairs([("REQUEST_EXPIRY_DAYS", "0")])).unwrap();
        assert_eq!(expiry, None);
        let seconds = request_expiry(&Env::of_pairs([("REQUEST_EXPIRY_DAYS", "2"), ("REQUEST_EXPIRY_SECONDS", "7")]));
        assert_eq!(seconds.unwrap(), Some(Duration::from_secs(7)));
    }
}
