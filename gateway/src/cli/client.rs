//! `secrets-gateway get|put|describe|list|rotate|watch`: a gateway's gRPC service from the
//! command line, with a client certificate, for scripts and people.
//!
//! Exit codes scripts can rely on: 0 done, 3 no such secret, 4 denied by policy, 5 the gateway
//! cannot be reached or refused the TLS handshake, 6 an invalid request, 1 anything else,
//! 2 usage.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;

use clap::{Args, Subcommand};
use secrets_gateway_client::{Client, ClientConfig, Error, Value, proto};
use serde_json::{Value as Json, json};

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Print a secret's AWSCURRENT value (or, with --json, the whole version as JSON).
    Get {
        secret_id: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        connection: ConnectionArgs,
    },
    /// Store a new AWSCURRENT value, read from --value, --value-file or standard input.
    Put {
        secret_id: String,
        #[arg(long, conflicts_with = "value_file")]
        value: Option<String>,
        #[arg(long, value_name = "FILE")]
        value_file: Option<PathBuf>,
        #[command(flatten)]
        connection: ConnectionArgs,
    },
    /// Print a secret's metadata and versions as JSON.
    Describe {
        secret_id: String,
        #[command(flatten)]
        connection: ConnectionArgs,
    },
    /// Print the secrets the caller may list, as JSON.
    List {
        #[command(flatten)]
        connection: ConnectionArgs,
    },
    /// Rotate a secret now, with --plugin NAME or the plugin on record.
    Rotate {
        secret_id: String,
        #[arg(long, value_name = "NAME")]
        plugin: Option<String>,
        #[command(flatten)]
        connection: ConnectionArgs,
    },
    /// Print a JSON line for AWSCURRENT now and for every change after, until interrupted.
    Watch {
        secret_id: String,
        /// Include the value in each line (when the caller may read it).
        #[arg(long)]
        with_value: bool,
        #[command(flatten)]
        connection: ConnectionArgs,
    },
}

#[derive(Debug, Args)]
pub struct ConnectionArgs {
    /// The gateway's mTLS listener.
    #[arg(long, env = "SG_ENDPOINT", default_value = "https://localhost:8443")]
    endpoint: String,
    /// Take the client certificate, key and CA that `serve --dev` created in DIR.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["cert", "key", "ca"])]
    dev_dir: Option<PathBuf>,
    /// The client certificate (PEM).
    #[arg(
        long,
        env = "SG_CERT",
        value_name = "FILE",
        required_unless_present = "dev_dir"
    )]
    cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(
        long,
        env = "SG_KEY",
        value_name = "FILE",
        required_unless_present = "dev_dir"
    )]
    key: Option<PathBuf>,
    /// The CA that signed the gateway's certificate (PEM).
    #[arg(
        long,
        env = "SG_CA",
        value_name = "FILE",
        required_unless_present = "dev_dir"
    )]
    ca: Option<PathBuf>,
}

impl ConnectionArgs {
    fn client(&self) -> Result<Client, Error> {
        let (cert, key, ca) = match &self.dev_dir {
            Some(dir) => {
                let (cert, key) = crate::config::Config::dev_client(dir);
                (cert, key, dir.join("pki").join("ca.pem"))
            }
            None => (
                self.cert.clone().expect("required by clap"),
                self.key.clone().expect("required by clap"),
                self.ca.clone().expect("required by clap"),
            ),
        };
        Client::connect(ClientConfig::new(self.endpoint.clone(), cert, key, ca))
    }
}

/// A failed client command, with the exit code its kind of failure has.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ClientFailed(Error);

impl ClientFailed {
    pub fn exit_code(&self) -> u8 {
        match self.0 {
            Error::NotFound(_) => 3,
            Error::PermissionDenied(_) => 4,
            Error::Unavailable(_) => 5,
            Error::Invalid(_) => 6,
            _ => 1,
        }
    }
}

pub fn run(command: ClientCommand) -> anyhow::Result<()> {
    let runtime = super::runtime(Some(1))?;
    runtime
        .block_on(execute(command))
        .map_err(|err| ClientFailed(err).into())
}

async fn execute(command: ClientCommand) -> Result<(), Error> {
    match command {
        ClientCommand::Get {
            secret_id,
            json,
            connection,
        } => {
            let secret = connection.client()?.get(&secret_id).await?;
            let mut stdout = std::io::stdout().lock();
            if json {
                let mut object = json!({
                    "ARN": secret.arn,
                    "Name": secret.name,
                    "VersionId": secret.version_id,
                    "VersionStages": secret.version_stages,
                });
                match &secret.value {
                    Some(Value::Text(text)) => object["SecretString"] = json!(text.as_str()),
                    Some(Value::Binary(bytes)) => {
                        object["SecretBinary"] = json!(base64(bytes));
                    }
                    None => {}
                }
                print_json(&object);
            } else {
                let written = match &secret.value {
                    Some(Value::Text(text)) => stdout.write_all(text.as_bytes()),
                    Some(Value::Binary(bytes)) => stdout.write_all(bytes),
                    None => Ok(()),
                };
                written
                    .and_then(|()| stdout.flush())
                    .map_err(|err| Error::Other(format!("cannot write the value: {err}")))?;
            }
        }
        ClientCommand::Put {
            secret_id,
            value,
            value_file,
            connection,
        } => {
            let value = match (value, value_file) {
                (Some(value), _) => value,
                (None, Some(file)) => std::fs::read_to_string(&file)
                    .map_err(|source| Error::ReadFile { path: file, source })?,
                (None, None) => {
                    let mut value = String::new();
                    std::io::stdin().read_to_string(&mut value).map_err(|err| {
                        Error::Other(format!("cannot read standard input: {err}"))
                    })?;
                    value
                }
            };
            let put = connection.client()?.put_string(&secret_id, &value).await?;
            print_json(&json!({
                "ARN": put.arn,
                "Name": put.name,
                "VersionId": put.version_id,
                "VersionStages": put.version_stages,
            }));
        }
        ClientCommand::Describe {
            secret_id,
            connection,
        } => {
            let described = connection.client()?.describe(&secret_id).await?;
            print_json(&description(&described));
        }
        ClientCommand::List { connection } => {
            let secrets = connection.client()?.list().await?;
            print_json(&Json::Array(secrets.iter().map(description).collect()));
        }
        ClientCommand::Rotate {
            secret_id,
            plugin,
            connection,
        } => {
            let rotated = connection
                .client()?
                .rotate(&secret_id, plugin.as_deref())
                .await?;
            print_json(&json!({
                "ARN": rotated.arn,
                "Name": rotated.name,
                "VersionId": rotated.version_id,
            }));
        }
        ClientCommand::Watch {
            secret_id,
            with_value,
            connection,
        } => {
            let mut changes = connection.client()?.watch(&secret_id).await?;
            while let Some(change) = changes.message().await.map_err(Error::from)? {
                let mut line = json!({
                    "ARN": change.arn,
                    "Name": change.name,
                    "VersionId": change.version_id,
                });
                if with_value {
                    match change.value.and_then(|value| value.value) {
                        Some(proto::secret_value::Value::SecretString(text)) => {
                            line["SecretString"] = json!(text);
                        }
                        Some(proto::secret_value::Value::SecretBinary(bytes)) => {
                            line["SecretBinary"] = json!(base64(&bytes));
                        }
                        None => line["ValueWithheld"] = json!(true),
                    }
                }
                println!("{line}");
            }
        }
    }
    Ok(())
}

fn description(described: &proto::SecretDescription) -> Json {
    let millis = |millis: i64| {
        (millis > 0).then(|| {
            chrono::DateTime::from_timestamp_millis(millis)
                .map(|time| time.to_rfc3339())
                .unwrap_or_default()
        })
    };
    json!({
        "ARN": described.arn,
        "Name": described.name,
        "Description": described.description,
        "RotationEnabled": described.rotation_enabled,
        "RotationLambdaARN": described.rotation_lambda_arn,
        "LastChangedDate": millis(described.last_changed_date_unix_millis),
        "LastRotatedDate": millis(described.last_rotated_date_unix_millis),
        "NextRotationDate": millis(described.next_rotation_date_unix_millis),
        "VersionIdsToStages": described
            .version_ids_to_stages
            .iter()
            .map(|(version, stages)| (version.clone(), json!(stages.stages)))
            .collect::<serde_json::Map<_, _>>(),
    })
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn print_json(value: &Json) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("JSON values serialize")
    );
}
