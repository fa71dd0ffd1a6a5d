//! A client of the secrets gateway for services, over gRPC and mutual TLS.
//!
//! Reads are served from a local cache. The first read of a secret subscribes to the
//! gateway's `WatchSecret`, which pushes the new value when the secret changes (a rotation
//! finishes, a value is put), so a service sees a rotated credential at once, without polling.
//! The cache also refreshes an entry older than the refresh interval, and while the gateway
//! cannot be reached it keeps serving what it holds and resubscribes in the background.
//!
//! ```no_run
//! use secrets_gateway_client::{Client, ClientConfig};
//!
//! #[derive(serde::Deserialize)]
//! struct DbCreds {
//!     username: String,
//!     password: String,
//! }
//!
//! # async fn example() -> Result<(), secrets_gateway_client::Error> {
//! let client = Client::connect(ClientConfig::new(
//!     "https://secrets.internal:8443",
//!     "/etc/app/tls/client.pem",
//!     "/etc/app/tls/client-key.pem",
//!     "/etc/app/tls/ca.pem",
//! ))?;
//! let creds: DbCreds = client.get_json("prod/app/db").await?;
//! # let _ = (creds.username, creds.password);
//! # Ok(())
//! # }
//! ```

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

pub use secrets_gateway_proto as proto;
use secrets_gateway_proto::secrets_client::SecretsClient;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use zeroize::Zeroizing;

/// Where the gateway is and who this client is.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// `https://host:port` of the gateway's mTLS listener.
    pub endpoint: String,
    /// The client certificate (PEM), its private key (PEM), and the CA that signed the
    /// gateway's certificate (PEM).
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub ca_file: PathBuf,
    /// How old a cached value may get before a read asks the gateway again; keep it shorter
    /// than the gateway's own cache TTL. WatchSecret pushes changes sooner.
    pub refresh_interval: Duration,
}

impl ClientConfig {
    pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

    pub fn new(
        endpoint: impl Into<String>,
        cert_file: impl Into<PathBuf>,
        key_file: impl Into<PathBuf>,
        ca_file: impl Into<PathBuf>,
    ) -> Self {
        Self {
            endpoint: endpoint.into(),
            cert_file: cert_file.into(),
            key_file: key_file.into(),
            ca_file: ca_file.into(),
            refresh_interval: Self::DEFAULT_REFRESH_INTERVAL,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid client configuration: {0}")]
    Config(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("the gateway cannot be reached or refused the connection: {0}")]
    Unavailable(String),
    #[error("{0}")]
    Other(String),
    #[error("the secret is binary, not text")]
    NotText,
    #[error("the secret is not the JSON expected: {0}")]
    Json(#[source] serde_json::Error),
}

impl From<tonic::Status> for Error {
    fn from(status: tonic::Status) -> Self {
        Self::from_status(status)
    }
}

impl Error {
    fn from_status(status: tonic::Status) -> Self {
        use tonic::Code;
        let message = status_message(&status);
        // A status with a source was made here, from the transport's error (the gateway went
        // away, or refused the TLS handshake, which TLS 1.3 reports after it): whatever its
        // code (Unknown, Cancelled), the gateway was not reached. The gateway's own statuses
        // have no source.
        if std::error::Error::source(&status).is_some() {
            return Self::Unavailable(message);
        }
        match status.code() {
            Code::NotFound => Self::NotFound(message),
            Code::PermissionDenied | Code::Unauthenticated => Self::PermissionDenied(message),
            Code::InvalidArgument | Code::FailedPrecondition | Code::AlreadyExists => {
                Self::Invalid(message)
            }
            Code::Unavailable | Code::DeadlineExceeded => Self::Unavailable(message),
            _ => Self::Other(message),
        }
    }
}

/// The status's message and, for a transport failure, the chain of causes (the TLS alert
/// that says the certificate was refused is at the bottom).
fn status_message(status: &tonic::Status) -> String {
    let mut message = status.message().to_owned();
    let mut source = std::error::Error::source(status);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// A secret's value, zeroized when dropped.
#[derive(Clone)]
pub enum Value {
    Text(Arc<Zeroizing<String>>),
    Binary(Arc<Zeroizing<Vec<u8>>>),
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Text(_) => "Text([REDACTED])",
            Self::Binary(_) => "Binary([REDACTED])",
        })
    }
}

/// One version of a secret, as read.
#[derive(Clone, Debug)]
pub struct Secret {
    pub arn: String,
    pub name: String,
    pub version_id: String,
    pub version_stages: Vec<String>,
    pub value: Option<Value>,
}

impl Secret {
    fn from_proto(mut value: proto::SecretValue) -> Self {
        let secret = match value.value.take() {
            Some(proto::secret_value::Value::SecretString(text)) => {
                Some(Value::Text(Arc::new(Zeroizing::new(text))))
            }
            Some(proto::secret_value::Value::SecretBinary(bytes)) => {
                Some(Value::Binary(Arc::new(Zeroizing::new(bytes))))
            }
            None => None,
        };
        Self {
            arn: value.arn,
            name: value.name,
            version_id: value.version_id,
            version_stages: value.version_stages,
            value: secret,
        }
    }

    /// The SecretString.
    pub fn text(&self) -> Result<&str, Error> {
        match &self.value {
            Some(Value::Text(text)) => Ok(text.as_str()),
            _ => Err(Error::NotText),
        }
    }
}

struct Entry {
    secret: Secret,
    fetched: Instant,
}

struct Inner {
    rpc: SecretsClient<Channel>,
    refresh_interval: Duration,
    entries: Mutex<HashMap<String, Entry>>,
    /// The secrets a background WatchSecret follows: one each, for the client's life.
    watched: Mutex<HashSet<String>>,
}

/// A gateway client; cheap to clone, and every clone shares one connection and one cache.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl Client {
    /// Reads the certificates and prepares the connection, which is made on first use (and
    /// again whenever it breaks), so a service can start while the gateway is away. Must be
    /// called within a Tokio runtime.
    pub fn connect(config: ClientConfig) -> Result<Self, Error> {
        let read = |path: &PathBuf| {
            std::fs::read(path).map_err(|source| Error::ReadFile {
                path: path.clone(),
                source,
            })
        };
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(read(&config.ca_file)?))
            .identity(Identity::from_pem(
                read(&config.cert_file)?,
                read(&config.key_file)?,
            ));
        let channel = Channel::from_shared(config.endpoint.clone())
            .map_err(|err| Error::Config(format!("endpoint {}: {err}", config.endpoint)))?
            .tls_config(tls)
            .map_err(|err| Error::Config(err.to_string()))?
            .connect_timeout(Duration::from_secs(5))
            .connect_lazy();
        Ok(Self {
            inner: Arc::new(Inner {
                rpc: SecretsClient::new(channel),
                refresh_interval: config.refresh_interval,
                entries: Mutex::default(),
                watched: Mutex::default(),
            }),
        })
    }

    /// The generated gRPC client, for calls this type does not wrap.
    pub fn rpc(&self) -> SecretsClient<Channel> {
        self.inner.rpc.clone()
    }

    /// The AWSCURRENT version of a secret: from the cache when it is fresh, else from the
    /// gateway; when the gateway cannot be reached, the cached version however old.
    pub async fn get(&self, secret_id: &str) -> Result<Secret, Error> {
        if let Some(secret) = self.cached(secret_id, true) {
            return Ok(secret);
        }
        let request = proto::GetSecretValueRequest {
            secret_id: secret_id.to_owned(),
            ..Default::default()
        };
        match self.rpc().get_secret_value(request).await {
            Ok(response) => {
                let secret = Secret::from_proto(response.into_inner());
                self.store(secret_id, secret.clone());
                self.watch_in_background(secret_id);
                Ok(secret)
            }
            Err(status) => {
                let err = Error::from_status(status);
                match (&err, self.cached(secret_id, false)) {
                    (Error::Unavailable(reason), Some(stale)) => {
                        tracing::warn!(secret = secret_id, %reason, "serving the cached value: the gateway is unavailable");
                        Ok(stale)
                    }
                    _ => Err(err),
                }
            }
        }
    }

    /// The AWSCURRENT SecretString parsed as JSON into `T`, e.g. database credentials.
    pub async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        secret_id: &str,
    ) -> Result<T, Error> {
        let secret = self.get(secret_id).await?;
        serde_json::from_str(secret.text()?).map_err(Error::Json)
    }

    pub async fn put_string(
        &self,
        secret_id: &str,
        value: &str,
    ) -> Result<proto::PutSecretValueResponse, Error> {
        let request = proto::PutSecretValueRequest {
            secret_id: secret_id.to_owned(),
            value: Some(proto::put_secret_value_request::Value::SecretString(
                value.to_owned(),
            )),
            ..Default::default()
        };
        let response = self.rpc().put_secret_value(request).await;
        self.inner
            .entries
            .lock()
            .expect("cache lock")
            .remove(secret_id);
        response
            .map(tonic::Response::into_inner)
            .map_err(Error::from_status)
    }

    pub async fn describe(&self, secret_id: &str) -> Result<proto::SecretDescription, Error> {
        let request = proto::DescribeSecretRequest {
            secret_id: secret_id.to_owned(),
        };
        self.rpc()
            .describe_secret(request)
            .await
            .map(tonic::Response::into_inner)
            .map_err(Error::from_status)
    }

    /// Every secret the caller may list, all pages.
    pub async fn list(&self) -> Result<Vec<proto::SecretDescription>, Error> {
        let mut secrets = Vec::new();
        let mut next_token = String::new();
        loop {
            let request = proto::ListSecretsRequest {
                max_results: 100,
                next_token,
            };
            let page = self
                .rpc()
                .list_secrets(request)
                .await
                .map_err(Error::from_status)?
                .into_inner();
            secrets.extend(page.secrets);
            if page.next_token.is_empty() {
                return Ok(secrets);
            }
            next_token = page.next_token;
        }
    }

    /// Starts a rotation now, with `plugin` or the one on record.
    pub async fn rotate(
        &self,
        secret_id: &str,
        plugin: Option<&str>,
    ) -> Result<proto::RotateSecretResponse, Error> {
        let request = proto::RotateSecretRequest {
            secret_id: secret_id.to_owned(),
            rotation_lambda_arn: plugin
                .map(|name| format!("plugin:{name}"))
                .unwrap_or_default(),
            rotate_immediately: true,
            ..Default::default()
        };
        self.rpc()
            .rotate_secret(request)
            .await
            .map(tonic::Response::into_inner)
            .map_err(Error::from_status)
    }

    /// The gateway's WatchSecret stream: AWSCURRENT now, then at every change.
    pub async fn watch(
        &self,
        secret_id: &str,
    ) -> Result<tonic::Streaming<proto::SecretChange>, Error> {
        let request = proto::WatchSecretRequest {
            secret_id: secret_id.to_owned(),
        };
        self.rpc()
            .watch_secret(request)
            .await
            .map(tonic::Response::into_inner)
            .map_err(Error::from_status)
    }

    fn cached(&self, secret_id: &str, fresh_only: bool) -> Option<Secret> {
        let entries = self.inner.entries.lock().expect("cache lock");
        let entry = entries.get(secret_id)?;
        (!fresh_only || entry.fetched.elapsed() < self.inner.refresh_interval)
            .then(|| entry.secret.clone())
    }

    fn store(&self, secret_id: &str, secret: Secret) {
        let entry = Entry {
            secret,
            fetched: Instant::now(),
        };
        self.inner
            .entries
            .lock()
            .expect("cache lock")
            .insert(secret_id.to_owned(), entry);
    }

    /// Keeps the cached secret current from WatchSecret for as long as the client lives,
    /// subscribing again after the stream breaks. A secret already followed is left alone:
    /// its entry may come and go (a put, a value withheld), its subscription stays.
    fn watch_in_background(&self, secret_id: &str) {
        let newly_watched = self
            .inner
            .watched
            .lock()
            .expect("watch set lock")
            .insert(secret_id.to_owned());
        if !newly_watched {
            return;
        }
        let client = Arc::downgrade(&self.inner);
        let secret_id = secret_id.to_owned();
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            while let Some(client) = upgrade(&client) {
                match client.follow(&secret_id).await {
                    Ok(()) => backoff = Duration::from_millis(100),
                    Err(err) => {
                        tracing::debug!(secret = %secret_id, error = %err, "WatchSecret broke; subscribing again");
                    }
                }
                drop(client);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        });
    }

    /// Applies one WatchSecret subscription's changes until it ends.
    async fn follow(&self, secret_id: &str) -> Result<(), Error> {
        let mut changes = self.watch(secret_id).await?;
        while let Some(change) = changes.message().await.map_err(Error::from_status)? {
            match change.value {
                Some(value) => {
                    self.store(secret_id, Secret::from_proto(value));
                }
                // Changed, but not readable through the watch: the next read asks.
                None => {
                    self.inner
                        .entries
                        .lock()
                        .expect("cache lock")
                        .remove(secret_id);
                }
            }
        }
        Ok(())
    }
}

fn upgrade(client: &Weak<Inner>) -> Option<Client> {
    client.upgrade().map(|inner| Client { inner })
}
