//! The configuration: one TOML file, every key documented in the README.
//!
//! Unknown keys are errors (a typo must not silently fall back to a default), relative paths are
//! resolved against the file's directory, and every error names the key at fault.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use std::time::Duration;

use zeroize::Zeroizing;

use crate::audit::AuditSink;
use crate::authz::{Effect, PolicySource, StatementSpec};
use crate::cache::CacheSettings;
use crate::pki::{self, DevPki};
use crate::plugins::{Grant, HostPattern, HostSettings, PluginSpec};
use crate::rotation::RetryPolicy;
use crate::store::arn::ArnScope;
use crate::store::aws::AwsSettings;
use crate::store::embedded::{EmbeddedConfig, MasterKeySource};
use crate::tls::TlsFiles;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8443";
pub const MASTER_KEY_ENV: &str = "SECRETS_GATEWAY_MASTER_KEY";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is invalid")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("config file {path}: {key}: {problem}")]
    Invalid {
        path: PathBuf,
        key: &'static str,
        problem: String,
    },
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerSection,
    pub tls: TlsSection,
    #[serde(default)]
    pub store: StoreSection,
    #[serde(default)]
    pub cache: CacheSection,
    #[serde(default)]
    pub agent: AgentSection,
    #[serde(default)]
    pub log: LogSection,
    #[serde(default)]
    pub policy: PolicySection,
    #[serde(default)]
    pub audit: AuditSection,
    #[serde(default)]
    pub plugins: PluginsSection,
    #[serde(default)]
    pub rotation: RotationSection,
    /// The rotation plugins, `[[plugin]]` in the file.
    #[serde(default, rename = "plugin")]
    pub plugin: Vec<PluginEntry>,
}

/// Development mode's plugins: every component in `dir` under its file name, pinned to the
/// file as it is now, granted databases and HTTP services on loopback and any master secret.
pub fn dev_plugins(dir: &Path) -> std::io::Result<Vec<PluginEntry>> {
    let loopback = || vec!["127.0.0.1".into(), "::1".into(), "localhost".into()];
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let file = entry?.path();
        let Some(name) = file.file_stem().and_then(|stem| stem.to_str()) else {
            continue;
        };
        if file.extension().is_none_or(|extension| extension != "wasm") {
            continue;
        }
        entries.push(PluginEntry {
            name: name.to_owned(),
            sha256: crate::plugins::file_sha256(&file)?,
            file,
            memory_mib: default_memory_mib(),
            step_timeout_seconds: default_step_timeout_seconds(),
            sql_hosts: loopback(),
            http_hosts: loopback(),
            master_secrets: vec!["*".into()],
            master_secret_read: false,
            settings: BTreeMap::new(),
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

/// How failed rotations are retried.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RotationSection {
    /// Attempts of one rotation, the first included; after the last, or after a fatal error,
    /// the pending version is discarded.
    pub retry_attempts: u32,
    /// The delay before the first retry, doubling up to five minutes.
    pub retry_delay_seconds: f64,
    /// How often secrets are checked for due rotations.
    pub schedule_check_seconds: f64,
}

impl Default for RotationSection {
    fn default() -> Self {
        let defaults = RetryPolicy::default();
        Self {
            retry_attempts: defaults.attempts,
            retry_delay_seconds: defaults.first_delay.as_secs_f64(),
            schedule_check_seconds: 60.0,
        }
    }
}

impl RotationSection {
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            attempts: self.retry_attempts,
            first_delay: Duration::from_secs_f64(self.retry_delay_seconds),
            ..RetryPolicy::default()
        }
    }
}

/// The plugin host as a whole.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginsSection {
    /// Where compiled components are kept (`secrets-gateway plugin precompile` fills it).
    pub cache_dir: PathBuf,
    /// The most memory any one plugin may be given.
    pub max_memory_mib: u32,
    /// Plugin steps that run at once; more wait their turn.
    pub max_concurrent_steps: u32,
}

impl Default for PluginsSection {
    fn default() -> Self {
        let defaults = HostSettings::default();
        Self {
            cache_dir: PathBuf::from("plugin-cache"),
            max_memory_mib: defaults.max_memory_mib,
            max_concurrent_steps: defaults.max_concurrent_steps,
        }
    }
}

impl PluginsSection {
    pub fn host_settings(&self) -> HostSettings {
        HostSettings {
            cache_dir: Some(self.cache_dir.clone()),
            max_memory_mib: self.max_memory_mib,
            max_concurrent_steps: self.max_concurrent_steps,
        }
    }
}

/// One rotation plugin: its component, its pin, its limits and its grant.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginEntry {
    pub name: String,
    pub file: PathBuf,
    /// The component's sha256 (`secrets-gateway plugin check FILE` prints it).
    pub sha256: String,
    #[serde(default = "default_memory_mib")]
    pub memory_mib: u32,
    #[serde(default = "default_step_timeout_seconds")]
    pub step_timeout_seconds: u64,
    #[serde(default)]
    pub sql_hosts: Vec<String>,
    #[serde(default)]
    pub http_hosts: Vec<String>,
    #[serde(default)]
    pub master_secrets: Vec<String>,
    #[serde(default)]
    pub master_secret_read: bool,
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
}

fn default_memory_mib() -> u32 {
    PluginSpec::DEFAULT_MEMORY_MIB
}

fn default_step_timeout_seconds() -> u64 {
    PluginSpec::DEFAULT_STEP_TIMEOUT.as_secs()
}

impl PluginEntry {
    /// The plugin host's view of the entry; the host patterns were checked by validation.
    pub fn spec(&self) -> Result<PluginSpec, String> {
        let patterns = |hosts: &[String]| {
            hosts
                .iter()
                .map(|host| host.parse::<HostPattern>())
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(PluginSpec {
            name: self.name.clone(),
            file: self.file.clone(),
            sha256: Some(self.sha256.clone()),
            memory_mib: self.memory_mib,
            step_timeout: Duration::from_secs(self.step_timeout_seconds),
            grant: Grant {
                sql_hosts: patterns(&self.sql_hosts).map_err(|err| format!("sql_hosts: {err}"))?,
                http_hosts: patterns(&self.http_hosts)
                    .map_err(|err| format!("http_hosts: {err}"))?,
                master_secrets: self.master_secrets.clone(),
                master_secret_read: self.master_secret_read,
            },
            settings: self
                .settings
                .iter()
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect(),
        })
    }

    fn validate(&self) -> Result<(), (&'static str, String)> {
        let name = &self.name;
        let plain_name = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !plain_name {
            return Err((
                "plugin.name",
                format!("{name:?}: use lowercase letters, digits, - and _ (at most 64)"),
            ));
        }
        if self.sha256.len() != 64 || !self.sha256.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err((
                "plugin.sha256",
                format!(
                    "plugin {name}: must be 64 hex digits; `secrets-gateway plugin check {}` \
                     prints it",
                    self.file.display()
                ),
            ));
        }
        if self.memory_mib == 0 {
            return Err((
                "plugin.memory_mib",
                format!("plugin {name}: must be at least 1"),
            ));
        }
        if self.step_timeout_seconds == 0 {
            return Err((
                "plugin.step_timeout_seconds",
                format!("plugin {name}: must be at least 1"),
            ));
        }
        if self.master_secret_read && self.master_secrets.is_empty() {
            return Err((
                "plugin.master_secret_read",
                format!("plugin {name}: needs master_secrets to name the secrets it may read"),
            ));
        }
        self.spec()
            .map(drop)
            .map_err(|problem| ("plugin", format!("plugin {name}: {problem}")))
    }
}

/// Who may do what. With neither statements nor a file, every request is denied.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicySection {
    /// A file of `[[statement]]` tables, re-read when it changes and on SIGHUP.
    pub file: Option<PathBuf>,
    /// Statements fixed for the life of the process, evaluated with the file's.
    pub statement: Vec<StatementSpec>,
}

impl PolicySection {
    pub fn source(&self) -> PolicySource {
        PolicySource {
            statements: self.statement.clone(),
            file: self.file.clone(),
        }
    }
}

/// Where the audit trail goes: a file (reopened on SIGHUP, for log rotation), else stdout.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSection {
    pub file: Option<PathBuf>,
}

impl AuditSection {
    pub fn sink(&self) -> AuditSink {
        match &self.file {
            Some(path) => AuditSink::File(path.clone()),
            None => AuditSink::Stdout,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSection {
    /// Address of the mTLS listener.
    pub listen: SocketAddr,
    /// Open connections beyond this wait in the accept queue.
    pub max_connections: usize,
    /// A client that has not finished the TLS handshake by then is dropped.
    pub handshake_timeout_seconds: u64,
    /// A client that has not sent a request's headers by then is dropped.
    pub header_read_timeout_seconds: u64,
    /// A request whose body has not fully arrived this long after its headers fails, and its
    /// connection closes.
    pub body_read_timeout_seconds: u64,
    /// An optional plain-HTTP listener for `/healthz`, `/readyz` and `/metrics` only.
    pub ops_listen: Option<SocketAddr>,
    /// Threads serving requests (default: `TOKIO_WORKER_THREADS`, else one per CPU).
    pub worker_threads: Option<usize>,
    /// How often the policy file and the TLS files are checked for changes.
    pub reload_interval_seconds: u64,
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.parse().expect("valid default address"),
            max_connections: 4096,
            handshake_timeout_seconds: 10,
            header_read_timeout_seconds: 10,
            body_read_timeout_seconds: 10,
            ops_listen: None,
            worker_threads: None,
            reload_interval_seconds: 2,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub client_ca_file: PathBuf,
    #[serde(default)]
    pub crl_file: Option<PathBuf>,
}

impl TlsSection {
    pub fn files(&self) -> TlsFiles {
        TlsFiles {
            cert: self.cert_file.clone(),
            key: self.key_file.clone(),
            client_ca: self.client_ca_file.clone(),
            crl: self.crl_file.clone(),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// The local encrypted store.
    #[default]
    Embedded,
    /// AWS Secrets Manager.
    Aws,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    #[serde(default)]
    pub backend: Backend,
    #[serde(default)]
    pub embedded: EmbeddedSection,
    #[serde(default)]
    pub aws: AwsSection,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AwsSection {
    /// Overrides the region of the standard credential chain.
    pub region: Option<String>,
    /// Overrides the Secrets Manager endpoint.
    pub endpoint_url: Option<String>,
    /// A profile of the shared AWS config files.
    pub profile: Option<String>,
    /// Deadline of one backend call, retries included.
    pub timeout_seconds: u64,
}

impl Default for AwsSection {
    fn default() -> Self {
        Self {
            region: None,
            endpoint_url: None,
            profile: None,
            timeout_seconds: 10,
        }
    }
}

impl AwsSection {
    pub fn settings(&self) -> AwsSettings {
        AwsSettings {
            region: self.region.clone(),
            endpoint_url: self.endpoint_url.clone(),
            profile: self.profile.clone(),
            timeout: Duration::from_secs(self.timeout_seconds),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheSection {
    pub enabled: bool,
    /// How long a value is served without asking the backend.
    pub ttl_seconds: u64,
    /// A hit this close to expiry refreshes the entry in the background.
    pub refresh_ahead_seconds: u64,
    /// How long past expiry a value may be served while the backend fails (0: never).
    pub max_stale_seconds: u64,
    pub max_entries: u64,
}

impl Default for CacheSection {
    fn default() -> Self {
        let defaults = CacheSettings::default();
        Self {
            enabled: defaults.enabled,
            ttl_seconds: defaults.ttl.as_secs(),
            refresh_ahead_seconds: defaults.refresh_ahead.as_secs(),
            max_stale_seconds: defaults.max_stale.as_secs(),
            max_entries: defaults.max_entries,
        }
    }
}

impl CacheSection {
    pub fn settings(&self) -> CacheSettings {
        CacheSettings {
            enabled: self.enabled,
            ttl: Duration::from_secs(self.ttl_seconds),
            refresh_ahead: Duration::from_secs(self.refresh_ahead_seconds),
            max_stale: Duration::from_secs(self.max_stale_seconds),
            max_entries: self.max_entries,
        }
    }
}

/// The AWS Secrets Manager Agent-compatible endpoint.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentSection {
    /// An environment variable holding the token, or `file://PATH` naming a file that does
    /// (as the Agent reads `AWS_TOKEN`).
    pub token_env: Option<String>,
    /// A file holding the token.
    pub token_file: Option<PathBuf>,
    /// A plain-HTTP listener for the endpoint, loopback addresses only (sidecar mode).
    pub listen: Option<SocketAddr>,
    /// The identity that callers of the plain listener act as.
    pub identity: Option<String>,
}

pub const DEFAULT_AGENT_IDENTITY: &str = "agent-sidecar";

/// Dev mode's policy: the development client certificate may do everything (and so may the
/// loopback Agent listener, which acts as it); any other identity is denied until a policy
/// file (`serve --dev --policy FILE`) names it.
fn dev_statements() -> Vec<StatementSpec> {
    vec![StatementSpec {
        sid: Some("dev-client".into()),
        effect: Effect::Allow,
        identities: vec![pki::DEV_CLIENT_SPIFFE_ID.into()],
        actions: vec!["secretsmanager:*".into()],
        secrets: vec!["*".into()],
    }]
}

impl AgentSection {
    /// Reads the token, if the endpoint is configured. An empty token is an error: it would
    /// let anyone in.
    pub fn token(&self) -> Result<Option<Zeroizing<String>>, String> {
        let raw = match (&self.token_env, &self.token_file) {
            (Some(_), Some(_)) => return Err("set token_env or token_file, not both".into()),
            (Some(var), None) => match std::env::var(var) {
                Ok(value) => match value.strip_prefix("file://") {
                    Some(path) => read_token(Path::new(path))?,
                    None => Zeroizing::new(value),
                },
                Err(_) => return Err(format!("the environment variable {var} is not set")),
            },
            (None, Some(path)) => read_token(path)?,
            (None, None) => return Ok(None),
        };
        let token = Zeroizing::new(raw.trim().to_owned());
        if token.is_empty() {
            return Err("the token is empty".into());
        }
        Ok(Some(token))
    }
}

fn read_token(path: &Path) -> Result<Zeroizing<String>, String> {
    std::fs::read_to_string(path)
        .map(Zeroizing::new)
        .map_err(|err| format!("cannot read the token file {}: {err}", path.display()))
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmbeddedSection {
    /// The database file.
    pub path: PathBuf,
    /// The master key file, created (mode 0600) when missing.
    pub master_key_file: PathBuf,
    /// An environment variable that, when set, holds the master key instead of the file.
    pub master_key_env: String,
    /// The partition, region and account that the ARNs of this store carry.
    pub partition: String,
    pub region: String,
    pub account_id: String,
}

impl Default for EmbeddedSection {
    fn default() -> Self {
        let scope = ArnScope::default();
        Self {
            path: PathBuf::from("store.redb"),
            master_key_file: PathBuf::from("master.key"),
            master_key_env: MASTER_KEY_ENV.into(),
            partition: scope.partition,
            region: scope.region,
            account_id: scope.account_id,
        }
    }
}

impl EmbeddedSection {
    pub fn store_config(&self) -> EmbeddedConfig {
        EmbeddedConfig {
            path: self.path.clone(),
            master_key: MasterKeySource {
                env_var: Some(self.master_key_env.clone()).filter(|v| !v.is_empty()),
                file: self.master_key_file.clone(),
            },
            scope: ArnScope {
                partition: self.partition.clone(),
                region: self.region.clone(),
                account_id: self.account_id.clone(),
            },
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    /// `text` or `json`.
    pub format: LogFormat,
    /// A tracing filter (`info`, `secrets_gateway=debug`, …); `RUST_LOG` overrides it.
    pub level: String,
}

impl Default for LogSection {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses the text of the file at `path`; relative paths in it are resolved against the
    /// file's directory.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let mut config: Self = toml::from_str(text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source: Box::new(source),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.resolve_paths(base);
        config
            .validate()
            .map_err(|(key, problem)| ConfigError::Invalid {
                path: path.to_owned(),
                key,
                problem,
            })?;
        Ok(config)
    }

    /// The configuration of `serve --dev`: everything under `data_dir`.
    pub fn dev(data_dir: &Path, listen: SocketAddr) -> Self {
        let pki = DevPki {
            dir: data_dir.join("pki"),
        };
        let embedded = EmbeddedSection {
            path: data_dir.join("store.redb"),
            master_key_file: data_dir.join("master.key"),
            ..EmbeddedSection::default()
        };
        Self {
            server: ServerSection {
                listen,
                ..ServerSection::default()
            },
            tls: TlsSection {
                cert_file: pki.server_cert(),
                key_file: pki.server_key(),
                client_ca_file: pki.ca(),
                crl_file: None,
            },
            store: StoreSection {
                backend: Backend::Embedded,
                embedded,
                aws: AwsSection::default(),
            },
            cache: CacheSection::default(),
            agent: AgentSection::default(),
            log: LogSection::default(),
            policy: PolicySection {
                file: None,
                statement: dev_statements(),
            },
            audit: AuditSection {
                file: Some(data_dir.join("audit.log")),
            },
            plugins: PluginsSection {
                cache_dir: data_dir.join("plugin-cache"),
                ..PluginsSection::default()
            },
            plugin: Vec::new(),
            rotation: RotationSection::default(),
        }
    }

    /// The client certificate and key that `serve --dev` creates.
    pub fn dev_client(data_dir: &Path) -> (PathBuf, PathBuf) {
        let pki = DevPki {
            dir: data_dir.join("pki"),
        };
        (
            pki.client_cert(pki::DEV_CLIENT),
            pki.client_key(pki::DEV_CLIENT),
        )
    }

    fn resolve_paths(&mut self, base: &Path) {
        let resolve = |path: &mut PathBuf| {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        };
        resolve(&mut self.tls.cert_file);
        resolve(&mut self.tls.key_file);
        resolve(&mut self.tls.client_ca_file);
        if let Some(crl) = &mut self.tls.crl_file {
            resolve(crl);
        }
        if let Some(token_file) = &mut self.agent.token_file {
            resolve(token_file);
        }
        resolve(&mut self.store.embedded.path);
        resolve(&mut self.store.embedded.master_key_file);
        if let Some(file) = &mut self.policy.file {
            resolve(file);
        }
        if let Some(file) = &mut self.audit.file {
            resolve(file);
        }
        resolve(&mut self.plugins.cache_dir);
        for plugin in &mut self.plugin {
            resolve(&mut plugin.file);
        }
    }

    fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.server.max_connections == 0 {
            return Err(("server.max_connections", "must be at least 1".into()));
        }
        if self.server.worker_threads == Some(0) {
            return Err(("server.worker_threads", "must be at least 1".into()));
        }
        if self.server.reload_interval_seconds == 0 {
            return Err((
                "server.reload_interval_seconds",
                "must be at least 1".into(),
            ));
        }
        if self.server.handshake_timeout_seconds == 0 {
            return Err((
                "server.handshake_timeout_seconds",
                "must be at least 1".into(),
            ));
        }
        if self.server.header_read_timeout_seconds == 0 {
            return Err((
                "server.header_read_timeout_seconds",
                "must be at least 1".into(),
            ));
        }
        if self.server.body_read_timeout_seconds == 0 {
            return Err((
                "server.body_read_timeout_seconds",
                "must be at least 1".into(),
            ));
        }
        let embedded = &self.store.embedded;
        let plain = |value: &str| {
            !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        };
        if !plain(&embedded.partition) {
            return Err((
                "store.embedded.partition",
                "must be a partition name such as aws".into(),
            ));
        }
        if !plain(&embedded.region) {
            return Err((
                "store.embedded.region",
                "must be a region name such as us-east-1".into(),
            ));
        }
        if embedded.account_id.len() != 12
            || !embedded.account_id.chars().all(|c| c.is_ascii_digit())
        {
            return Err(("store.embedded.account_id", "must be 12 digits".into()));
        }
        if let Err(err) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            return Err(("log.level", err.to_string()));
        }
        if self.store.aws.timeout_seconds == 0 {
            return Err(("store.aws.timeout_seconds", "must be at least 1".into()));
        }
        if self.cache.enabled && self.cache.ttl_seconds == 0 {
            return Err((
                "cache.ttl_seconds",
                "must be at least 1 (or set cache.enabled = false)".into(),
            ));
        }
        if self.cache.refresh_ahead_seconds >= self.cache.ttl_seconds && self.cache.enabled {
            return Err((
                "cache.refresh_ahead_seconds",
                "must be less than cache.ttl_seconds".into(),
            ));
        }
        if self.cache.max_entries == 0 {
            return Err(("cache.max_entries", "must be at least 1".into()));
        }
        self.validate_plugins()?;
        if self.rotation.retry_attempts == 0 {
            return Err(("rotation.retry_attempts", "must be at least 1".into()));
        }
        if !(0.1..=3600.0).contains(&self.rotation.schedule_check_seconds) {
            return Err((
                "rotation.schedule_check_seconds",
                "must be between 0.1 and 3600".into(),
            ));
        }
        if !(0.0..=300.0).contains(&self.rotation.retry_delay_seconds) {
            return Err((
                "rotation.retry_delay_seconds",
                "must be between 0 and 300".into(),
            ));
        }
        self.validate_agent()
    }

    fn validate_plugins(&self) -> Result<(), (&'static str, String)> {
        if self.plugins.max_memory_mib == 0 {
            return Err(("plugins.max_memory_mib", "must be at least 1".into()));
        }
        if self.plugins.max_concurrent_steps == 0 {
            return Err(("plugins.max_concurrent_steps", "must be at least 1".into()));
        }
        let mut names = std::collections::HashSet::new();
        for plugin in &self.plugin {
            plugin.validate()?;
            if plugin.memory_mib > self.plugins.max_memory_mib {
                return Err((
                    "plugin.memory_mib",
                    format!(
                        "plugin {}: {} is over plugins.max_memory_mib ({})",
                        plugin.name, plugin.memory_mib, self.plugins.max_memory_mib
                    ),
                ));
            }
            if !names.insert(plugin.name.as_str()) {
                return Err((
                    "plugin.name",
                    format!("{:?} is configured twice", plugin.name),
                ));
            }
        }
        Ok(())
    }

    /// The Agent listener is guarded by its token alone, so it must not leave the host.
    pub fn validate_agent(&self) -> Result<(), (&'static str, String)> {
        if let Some(listen) = self.agent.listen
            && !listen.ip().is_loopback()
        {
            return Err((
                "agent.listen",
                format!("{listen} is not a loopback address"),
            ));
        }
        match self.agent.token() {
            Err(problem) => Err(("agent", problem)),
            Ok(None) if self.agent.listen.is_some() => Err((
                "agent",
                "agent.listen needs a token (agent.token_env or agent.token_file)".into(),
            )),
            Ok(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        [tls]
        cert_file = "server.pem"
        key_file = "/abs/server-key.pem"
        client_ca_file = "ca.pem"
    "#;

    #[test]
    fn minimal_config_gets_defaults_and_resolved_paths() {
        let config = Config::parse(MINIMAL, Path::new("/etc/sg/gateway.toml")).unwrap();
        assert_eq!(config.server.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(config.tls.cert_file, Path::new("/etc/sg/server.pem"));
        assert_eq!(config.tls.key_file, Path::new("/abs/server-key.pem"));
        assert_eq!(config.store.embedded.path, Path::new("/etc/sg/store.redb"));
        assert_eq!(config.store.backend, Backend::Embedded);
    }

    /// The error and its causes, as the command line prints them.
    fn chain(result: Result<Config, ConfigError>) -> String {
        format!("{:#}", anyhow::Error::from(result.unwrap_err()))
    }

    #[test]
    fn errors_name_the_key() {
        let typo = format!("{MINIMAL}\n[server]\nlisen = \"0.0.0.0:1\"\n");
        let err = chain(Config::parse(&typo, Path::new("g.toml")));
        assert!(err.contains("lisen"), "{err}");

        let bad_address = format!("{MINIMAL}\n[server]\nlisten = \"nowhere\"\n");
        let err = chain(Config::parse(&bad_address, Path::new("g.toml")));
        assert!(err.contains("listen"), "{err}");

        let zero = format!("{MINIMAL}\n[server]\nmax_connections = 0\n");
        let err = chain(Config::parse(&zero, Path::new("g.toml")));
        assert!(
            err.contains("server.max_connections: must be at least 1"),
            "{err}"
        );

        let account = format!("{MINIMAL}\n[store.embedded]\naccount_id = \"12\"\n");
        let err = chain(Config::parse(&account, Path::new("g.toml")));
        assert!(err.contains("store.embedded.account_id"), "{err}");

        let unpinned = format!("{MINIMAL}\n[[plugin]]\nname = \"pg\"\nfile = \"pg.wasm\"\n");
        let err = chain(Config::parse(&unpinned, Path::new("g.toml")));
        assert!(err.contains("sha256"), "{err}");

        let digest = "ab".repeat(32);
        let bad_host = format!(
            "{MINIMAL}\n[[plugin]]\nname = \"pg\"\nfile = \"pg.wasm\"\nsha256 = \"{digest}\"\n\
             sql_hosts = [\"db:port\"]\n"
        );
        let err = chain(Config::parse(&bad_host, Path::new("g.toml")));
        assert!(err.contains("plugin pg: sql_hosts"), "{err}");

        let missing = "[server]\n";
        let err = chain(Config::parse(missing, Path::new("g.toml")));
        assert!(err.contains("tls"), "{err}");
    }
}
