//! Starts the gateway from a configuration: opens the store, loads the TLS material, binds the
//! listeners and serves until a shutdown signal.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, anyhow};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::api;
use crate::api::agent::AgentState;
use crate::audit::AuditLog;
use crate::authz::Authorizer;
use crate::cache::SecretCache;
use crate::config::{Backend, Config, DEFAULT_AGENT_IDENTITY};
use crate::metrics::Metrics;
use crate::plugins::{Plugin, PluginHost};
use crate::reload::{Reloadable, Reloader};
use crate::rotation::Rotations;
use crate::server::{self, Transport};
use crate::service::SecretsService;
use crate::store::SecretStore;
use crate::store::aws::AwsStore;
use crate::store::embedded::EmbeddedStore;
use crate::tls::{ClientIdentity, IdentityKind, LiveTlsConfig};

/// How often secrets past their recovery window are purged.
const PURGE_INTERVAL: Duration = Duration::from_secs(600);

/// The addresses the gateway listens on, once it does.
#[derive(Clone, Copy, Debug)]
pub struct Listening {
    pub main: SocketAddr,
    pub agent: Option<SocketAddr>,
    pub ops: Option<SocketAddr>,
}

/// Runs the gateway until `shutdown` completes. `on_ready` is called once every listener
/// accepts connections.
pub async fn run(
    config: Config,
    on_ready: impl FnOnce(Listening),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::new());
    let store: Arc<dyn SecretStore> = match config.store.backend {
        Backend::Embedded => {
            let store = EmbeddedStore::open(&config.store.embedded.store_config())
                .context("cannot open the embedded store")?;
            tokio::spawn(purge_expired(store.clone()));
            Arc::new(store)
        }
        Backend::Aws => Arc::new(AwsStore::connect(&config.store.aws.settings()).await),
    };
    let cache = SecretCache::new(store, config.cache.settings(), Arc::clone(&metrics));
    let authz =
        Arc::new(Authorizer::new(config.policy.source()).context("cannot load the policy")?);
    if authz.policy().is_empty() {
        tracing::warn!("the policy has no statements: every request will be denied");
    }
    let audit = Arc::new(AuditLog::open(config.audit.sink()).context("cannot open the audit log")?);
    let plugins = load_plugins(&config).await?;
    let rotations = Rotations::new(
        Arc::clone(&cache) as Arc<dyn SecretStore>,
        plugins,
        Arc::clone(&audit),
        Arc::clone(&metrics),
        config.rotation.retry_policy(),
    );
    let service = SecretsService::new(
        cache,
        Arc::clone(&metrics),
        Arc::clone(&authz),
        Arc::clone(&audit),
    )
    .with_rotations(Arc::clone(&rotations));
    let token = config
        .agent
        .token()
        .map_err(|problem| anyhow!("agent: {problem}"))?;
    let agent = token.map(|token| AgentState {
        service: service.clone(),
        token: Arc::new(token),
    });

    let tls_config =
        Arc::new(LiveTlsConfig::load(config.tls.files()).context("cannot load the TLS material")?);
    let reloader = Reloader::new(
        vec![
            Reloadable::Policy(authz),
            Reloadable::Tls(Arc::clone(&tls_config)),
        ],
        audit,
        metrics,
    );
    tokio::spawn(reloader.run(Duration::from_secs(config.server.reload_interval_seconds)));
    let limits = server::Limits {
        max_connections: config.server.max_connections,
        handshake_timeout: Duration::from_secs(config.server.handshake_timeout_seconds),
        header_read_timeout: Duration::from_secs(config.server.header_read_timeout_seconds),
        body_read_timeout: Duration::from_secs(config.server.body_read_timeout_seconds),
    };
    let (stop, stopping) = watch::channel(false);
    let stopped = move || {
        let mut stopping = stopping.clone();
        async move {
            let _ = stopping.wait_for(|stop| *stop).await;
        }
    };
    let mut servers = tokio::task::JoinSet::new();

    let main = bind(config.server.listen).await?;
    let listening_main = main.local_addr()?;
    servers.spawn(server::serve(
        main,
        Transport::Tls(Arc::new(tls_config)),
        api::router(service.clone(), agent.clone()).await,
        limits.clone(),
        stopped(),
    ));
    let mut listening = Listening {
        main: listening_main,
        agent: None,
        ops: None,
    };
    if let (Some(address), Some(agent)) = (config.agent.listen, agent) {
        let listener = bind(address).await?;
        listening.agent = Some(listener.local_addr()?);
        let identity = ClientIdentity {
            kind: IdentityKind::Configured,
            name: config
                .agent
                .identity
                .clone()
                .unwrap_or_else(|| DEFAULT_AGENT_IDENTITY.into()),
        };
        let transport = Transport::Plain {
            identity: Some(identity),
        };
        servers.spawn(server::serve(
            listener,
            transport,
            api::agent::sidecar(agent),
            limits.clone(),
            stopped(),
        ));
        tracing::info!(agent_listen = %listening.agent.unwrap_or(address), "Agent endpoint listening (plain HTTP)");
    }
    if let Some(address) = config.server.ops_listen {
        let listener = bind(address).await?;
        listening.ops = Some(listener.local_addr()?);
        let transport = Transport::Plain { identity: None };
        servers.spawn(server::serve(
            listener,
            transport,
            api::ops_router(service.clone()),
            limits,
            stopped(),
        ));
        tracing::info!(ops_listen = %listening.ops.unwrap_or(address), "operations endpoints listening (plain HTTP)");
    }

    match rotations.scan(true).await {
        Ok(0) => {}
        Ok(started) => tracing::info!(started, "resumed unfinished rotations and started due ones"),
        Err(err) => tracing::warn!(error = %err, "cannot look for unfinished rotations"),
    }
    tokio::spawn(Arc::clone(&rotations).run_schedule(Duration::from_secs_f64(
        config.rotation.schedule_check_seconds,
    )));
    on_ready(listening);
    tracing::info!(listen = %listening.main, "ready");
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop.send(true);
    });
    while servers.join_next().await.is_some() {}
    tracing::info!("stopped");
    Ok(())
}

/// Loads every configured plugin, refusing to start if one cannot be: a plugin whose pin,
/// imports or limits are wrong would otherwise fail only when its first rotation is due.
async fn load_plugins(config: &Config) -> anyhow::Result<Vec<Plugin>> {
    if config.plugin.is_empty() {
        return Ok(Vec::new());
    }
    let settings = config.plugins.host_settings();
    let entries = config.plugin.clone();
    // Compiling a component is CPU work of up to seconds; keep it off the async threads.
    tokio::task::spawn_blocking(move || {
        let host = PluginHost::new(&settings)?;
        entries
            .iter()
            .map(|entry| {
                let spec = entry
                    .spec()
                    .map_err(|problem| anyhow!("plugin {}: {problem}", entry.name))?;
                Ok(host.load(spec)?)
            })
            .collect()
    })
    .await
    .context("loading the plugins panicked")?
}

async fn bind(address: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))
}

async fn purge_expired(store: EmbeddedStore) {
    let mut ticks = tokio::time::interval(PURGE_INTERVAL);
    loop {
        ticks.tick().await;
        if let Err(err) = store.purge_expired().await {
            tracing::warn!(error = %err, "purging expired secrets failed");
        }
    }
}

/// Completes on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler can be installed");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}
