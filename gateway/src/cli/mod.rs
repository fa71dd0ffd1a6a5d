//! The `secrets-gateway` command line.

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

use crate::config::{self, Backend, Config, LogFormat};
use crate::{daemon, pki};

mod client;
mod plugin;

#[derive(Debug, Parser)]
#[command(
    name = "secrets-gateway",
    version,
    about = "A Secrets Manager-compatible secrets gateway"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway.
    Serve(ServeArgs),
    /// Manage a development PKI (CA, server and client certificates).
    #[command(subcommand)]
    Pki(PkiCommand),
    /// Check, precompile and try out rotation plugins.
    #[command(subcommand)]
    Plugin(plugin::PluginCommand),
    #[command(flatten)]
    Client(client::ClientCommand),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// The configuration file.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "dev",
        conflicts_with = "dev"
    )]
    config: Option<PathBuf>,
    /// Development mode: no config file; an embedded store and a development PKI under
    /// --data-dir, created on first start and reused afterwards.
    #[arg(long)]
    dev: bool,
    /// Where development mode keeps its store, master key and PKI.
    #[arg(
        long,
        value_name = "DIR",
        requires = "dev",
        default_value = ".secrets-gateway-dev"
    )]
    data_dir: PathBuf,
    /// The listen address (overrides `server.listen`); port 0 picks a free port.
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Development mode's backend. `aws` takes region, credentials and endpoint from the
    /// standard AWS environment (AWS_REGION, AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL, …).
    #[arg(long, value_enum, requires = "dev", default_value = "embedded")]
    backend: Backend,
    /// Development mode: also serve the Agent endpoint on this loopback address, guarded by
    /// the token in AWS_TOKEN (a file://PATH value names a file holding it).
    #[arg(long, value_name = "ADDR", requires = "dev")]
    agent_listen: Option<SocketAddr>,
    /// Development mode: a policy file whose statements are added to the development
    /// client's, re-read when it changes and on SIGHUP.
    #[arg(long, value_name = "FILE", requires = "dev")]
    policy: Option<PathBuf>,
    /// Development mode: load every component in DIR as a plugin named by its file name,
    /// granted databases and HTTP services on loopback and any master secret.
    #[arg(long, value_name = "DIR", requires = "dev")]
    plugin_dir: Option<PathBuf>,
    /// Development mode: keep compiled plugins in DIR instead of DATA_DIR/plugin-cache, so
    /// that development gateways share them (entries are keyed by the component's sha256).
    #[arg(long, value_name = "DIR", requires = "plugin_dir")]
    plugin_cache: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum PkiCommand {
    /// Create a CA, a server certificate for localhost/127.0.0.1/::1 and a client certificate.
    Init {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Issue another client certificate signed by the CA in DIR.
    Issue {
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Names the files (NAME.pem, NAME-key.pem) and the certificate's common name.
        #[arg(long)]
        name: String,
        /// A SPIFFE ID for the URI SAN, e.g. spiffe://corp/ns/checkout/sa/api.
        #[arg(long, value_name = "URI")]
        spiffe_id: Option<String>,
        /// A DNS SAN; repeatable.
        #[arg(long = "dns", value_name = "NAME")]
        dns_names: Vec<String>,
        /// Validity in days.
        #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(i64).range(1..=3650))]
        days: i64,
    },
}

/// Where development mode reads the Agent endpoint's token, as the Agent does.
const DEV_AGENT_TOKEN_ENV: &str = "AWS_TOKEN";

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::Pki(command) => run_pki(command),
        Command::Plugin(command) => plugin::run(command),
        Command::Client(command) => client::run(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("secrets-gateway: {err:#}");
            if let Some(failed) = err.downcast_ref::<client::ClientFailed>() {
                return ExitCode::from(failed.exit_code());
            }
            match err.downcast_ref::<plugin::StepFailed>() {
                Some(_) => ExitCode::from(plugin::STEP_FAILED_EXIT),
                None => ExitCode::FAILURE,
            }
        }
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = match &args.config {
        Some(path) => Config::load(path)?,
        None => {
            let listen = args
                .listen
                .unwrap_or_else(|| config::DEFAULT_LISTEN.parse().expect("valid"));
            let (_, created) = pki::init(&args.data_dir.join("pki"))
                .context("cannot create the development PKI")?;
            if created {
                eprintln!(
                    "created a development PKI in {}",
                    args.data_dir.join("pki").display()
                );
            }
            let mut config = Config::dev(&args.data_dir, listen);
            config.store.backend = args.backend;
            config.policy.file = args.policy.clone();
            if let Some(dir) = &args.plugin_dir {
                config.plugin = config::dev_plugins(dir).with_context(|| {
                    format!("cannot read the plugin directory {}", dir.display())
                })?;
            }
            if let Some(dir) = &args.plugin_cache {
                config.plugins.cache_dir.clone_from(dir);
            }
            if args.agent_listen.is_some() || std::env::var_os(DEV_AGENT_TOKEN_ENV).is_some() {
                config.agent.token_env = Some(DEV_AGENT_TOKEN_ENV.into());
                config.agent.listen = args.agent_listen;
                config.agent.identity = Some(pki::DEV_CLIENT_SPIFFE_ID.into());
            }
            config
                .validate_agent()
                .map_err(|(key, problem)| anyhow::anyhow!("{key}: {problem}"))?;
            config
        }
    };
    if let Some(listen) = args.listen {
        config.server.listen = listen;
    }
    init_logging(config.log.format, &config.log.level);
    let runtime = runtime(config.server.worker_threads)?;
    let dev_dir = args.dev.then_some(args.data_dir);
    let backend = config.store.backend;
    runtime.block_on(daemon::run(
        config,
        |listening| {
            if let Some(dir) = &dev_dir {
                print_dev_banner(dir, backend, listening);
            }
        },
        daemon::shutdown_signal(),
    ))
}

/// The async runtime: `worker_threads` from the configuration, else `TOKIO_WORKER_THREADS`,
/// else one per CPU. With one thread the current-thread scheduler serves: it has no work
/// stealing to pay for, which is worth about a tenth of the throughput on a pinned core.
fn runtime(configured: Option<usize>) -> anyhow::Result<tokio::runtime::Runtime> {
    let threads = configured
        .or_else(|| std::env::var("TOKIO_WORKER_THREADS").ok()?.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let mut builder = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(threads);
        builder
    };
    builder
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

pub(crate) fn init_logging(format: LogFormat, level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn print_dev_banner(data_dir: &Path, backend: Backend, listening: daemon::Listening) {
    let address = listening.main;
    let dir = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_owned());
    let pki = dir.join("pki");
    let (cert, key, ca) = (
        pki.join("client.pem"),
        pki.join("client-key.pem"),
        pki.join("ca.pem"),
    );
    let host = match address.ip() {
        ip if ip.is_unspecified() => "127.0.0.1".to_owned(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    let url = format!("https://{host}:{}", address.port());
    println!(
        "\nsecrets-gateway development server ({backend:?} backend, development PKI)\n\
         \n  endpoint     {url}  (mutual TLS)\
         \n  data         {data}\
         \n  CA           {ca}\
         \n  client cert  {cert}\
         \n  client key   {key}\n\
         \nWith curl:\n\
         \n  curl --cacert {ca} --cert {cert} --key {key} \\\
         \n    -H 'X-Amz-Target: secretsmanager.CreateSecret' -H 'Content-Type: application/x-amz-json-1.1' \\\
         \n    -d '{{\"Name\":\"demo/db\",\"SecretString\":\"s3cr3t\"}}' {url}/\n\
         \nWith boto3:\n\
         \n  import boto3, botocore.config\
         \n  sm = boto3.client('secretsmanager', region_name='us-east-1', endpoint_url='{url}',\
         \n                    aws_access_key_id='x', aws_secret_access_key='x', verify='{ca}',\
         \n                    config=botocore.config.Config(client_cert=('{cert}', '{key}')))\
         \n  sm.get_secret_value(SecretId='demo/db')['SecretString']\n",
        data = dir.display(),
        ca = ca.display(),
        cert = cert.display(),
        key = key.display(),
    );
    if let Some(agent) = listening.agent {
        println!(
            "Agent endpoint (plain HTTP, loopback, token from ${DEV_AGENT_TOKEN_ENV}):\n\
             \n  curl -H \"X-Aws-Parameters-Secrets-Token: $AWS_TOKEN\" \
             'http://{agent}/secretsmanager/get?secretId=demo/db'\n"
        );
    }
}

fn run_pki(command: PkiCommand) -> anyhow::Result<()> {
    match command {
        PkiCommand::Init { out } => {
            let (pki, created) = pki::init(&out)?;
            let verb = if created {
                "created"
            } else {
                "kept the existing"
            };
            println!("{verb} development PKI in {}", pki.dir.display());
            for file in [
                pki::CA_CERT,
                pki::SERVER_CERT,
                pki::SERVER_KEY,
                "client.pem",
                "client-key.pem",
            ] {
                println!("  {}", pki.path(file).display());
            }
        }
        PkiCommand::Issue {
            out,
            name,
            spiffe_id,
            dns_names,
            days,
        } => {
            let client = pki::ClientCertificate {
                name: name.clone(),
                spiffe_id,
                dns_names,
                days,
            };
            let pki = pki::issue(&out, &client)?;
            println!("{}", pki.client_cert(&name).display());
            println!("{}", pki.client_key(&name).display());
        }
    }
    Ok(())
}
