//! The plugin host against real components built from `plugins/`: what it refuses at load, how
//! each kind of misbehaviour fails its step, and that a gateway in the same process keeps
//! serving through a thousand of them without growing.

#[path = "support/plugin_fixtures.rs"]
mod plugin_fixtures;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use plugin_fixtures::plugin;
use secrets_gateway::plugins::{
    CompiledFrom, Grant, HostSettings, LoadError, NoSecrets, Plugin, PluginHost, PluginSpec,
    RotationContext, SecretVersion, Step, StepFailure,
};
use secrets_gateway::store::SecretText;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

fn host(cache_dir: Option<&Path>) -> PluginHost {
    PluginHost::new(&HostSettings {
        cache_dir: cache_dir.map(Path::to_owned),
        ..HostSettings::default()
    })
    .expect("the engine starts")
}

/// Everything the probe imports, granted, towards hosts where nothing listens.
fn full_grant() -> Grant {
    Grant {
        sql_hosts: vec!["127.0.0.1:9".parse().unwrap()],
        http_hosts: vec!["127.0.0.1:9".parse().unwrap()],
        master_secrets: vec!["*".into()],
        master_secret_read: true,
    }
}

fn spec(name: &str, settings: &[(&str, &str)]) -> PluginSpec {
    PluginSpec {
        name: name.into(),
        file: plugin(name),
        sha256: None,
        memory_mib: 16,
        step_timeout: Duration::from_millis(200),
        grant: full_grant(),
        settings: settings
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect(),
    }
}

fn context() -> RotationContext {
    let version = |id: &str, stage: &str, password: &str| SecretVersion {
        version_id: id.into(),
        stages: vec![stage.into()],
        secret_string: SecretText::new(format!(
            r#"{{"engine":"postgres","host":"127.0.0.1","port":9,"username":"app","password":"{password}"}}"#
        )),
    };
    RotationContext {
        secret_id: "prod/app/db".into(),
        secret_arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app/db-AbCdEf"
            .into(),
        token: "token-1".into(),
        current: Some(version("v1", "AWSCURRENT", "current-password-1")),
        pending: Some(version("token-1", "AWSPENDING", "pending-password-2")),
        previous: None,
    }
}

async fn run(plugin: &Plugin, step: Step) -> Result<Option<SecretText>, StepFailure> {
    plugin.run(step, &context(), Arc::new(NoSecrets)).await
}

#[test]
fn a_changed_file_is_refused_by_its_pin() {
    let host = host(None);
    let mut pinned = spec("minimal", &[]);
    pinned.sha256 = Some("0".repeat(64));
    let err = host.load(pinned).unwrap_err();
    assert!(matches!(err, LoadError::WrongDigest { .. }), "{err}");
    assert!(err.to_string().contains("pins 0000"), "{err}");

    let digest = host.load(spec("minimal", &[])).unwrap().sha256().to_owned();
    let mut pinned = spec("minimal", &[]);
    pinned.sha256 = Some(digest.to_uppercase());
    host.load(pinned)
        .expect("the right digest, in either case, loads");
}

#[test]
fn an_import_the_host_does_not_offer_is_refused_by_name() {
    let err = host(None).load(spec("foreign-import", &[])).unwrap_err();
    assert!(matches!(err, LoadError::UnknownImport { .. }), "{err}");
    assert!(err.to_string().contains("example:escape/shell"), "{err}");
}

#[test]
fn a_capability_outside_the_grant_is_refused_at_load() {
    let host = host(None);
    for (grant, import, needs) in [
        (
            Grant {
                sql_hosts: vec![],
                ..full_grant()
            },
            "secrets-gateway:rotation/sql",
            "sql_hosts",
        ),
        (
            Grant {
                http_hosts: vec![],
                ..full_grant()
            },
            "wasi:http/outgoing-handler",
            "http_hosts",
        ),
        (
            Grant {
                master_secret_read: false,
                ..full_grant()
            },
            "secrets-gateway:rotation/master-secret",
            "master_secret_read",
        ),
    ] {
        let err = host
            .load(PluginSpec {
                grant,
                ..spec("probe", &[])
            })
            .unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, LoadError::NotGranted { .. }), "{message}");
        assert!(
            message.contains(import) && message.contains(needs),
            "{message}"
        );
    }
    // The minimal plugin imports no capability, so it needs no grant.
    host.load(PluginSpec {
        grant: Grant::default(),
        ..spec("minimal", &[])
    })
    .expect("a plugin without capabilities loads with an empty grant");
}

#[test]
fn components_are_compiled_once_then_taken_from_the_cache() {
    let cache = tempfile::tempdir().unwrap();
    let first = host(Some(cache.path())).load(spec("probe", &[])).unwrap();
    assert_eq!(first.compiled_from(), CompiledFrom::Compiler);
    let second = host(Some(cache.path())).load(spec("probe", &[])).unwrap();
    assert_eq!(second.compiled_from(), CompiledFrom::Cache);

    // A damaged entry is compiled again, never loaded.
    for entry in std::fs::read_dir(cache.path()).unwrap() {
        let path = entry.unwrap().path();
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
    }
    let third = host(Some(cache.path())).load(spec("probe", &[])).unwrap();
    assert_eq!(third.compiled_from(), CompiledFrom::Compiler);
}

#[tokio::test]
async fn each_kind_of_misbehaviour_fails_its_step_with_a_clear_error() {
    let host = host(None);
    let probe = |mode: &str| host.load(spec("probe", &[("set-secret", mode)])).unwrap();

    let failure = run(&probe("loop"), Step::SetSecret).await.unwrap_err();
    assert!(matches!(failure, StepFailure::Deadline(_)), "{failure}");

    let failure = run(&probe("alloc"), Step::SetSecret).await.unwrap_err();
    assert!(
        matches!(failure, StepFailure::OutOfMemory { limit_mib: 16 }),
        "{failure}"
    );

    let failure = run(&probe("panic"), Step::SetSecret).await.unwrap_err();
    assert!(matches!(failure, StepFailure::Trapped(_)), "{failure}");
    assert!(
        failure.to_string().contains("the probe panics on purpose"),
        "{failure}"
    );

    // The probe calls the refusal retryable; the host knows a retry is refused again.
    let failure = run(&probe("http"), Step::SetSecret).await.unwrap_err();
    assert!(
        matches!(&failure, StepFailure::Fatal(message)
            if message.contains("HTTP request to 127.0.0.1:1: not in the plugin's http_hosts")),
        "{failure:?}"
    );

    let failure = run(&probe("oversized-error"), Step::SetSecret)
        .await
        .unwrap_err();
    assert!(
        matches!(&failure, StepFailure::Fatal(message) if message.len() <= 4096),
        "a 1 MiB error message must be cut"
    );

    let failure = run(&probe("retryable"), Step::SetSecret).await.unwrap_err();
    assert!(failure.is_retryable(), "{failure}");

    let create = |mode: &str| {
        host.load(spec("probe", &[("create-secret", mode)]))
            .unwrap()
    };
    let failure = run(&create("oversized"), Step::CreateSecret)
        .await
        .unwrap_err();
    assert!(failure.to_string().contains("1048576 bytes"), "{failure}");
    let failure = run(&create("not-json"), Step::CreateSecret)
        .await
        .unwrap_err();
    assert!(
        matches!(failure, StepFailure::InvalidOutput(_)),
        "{failure}"
    );

    let created = run(&create("generate"), Step::CreateSecret)
        .await
        .unwrap()
        .expect("the probe makes a value");
    let created: serde_json::Value = serde_json::from_str(created.expose()).unwrap();
    assert_eq!(created["username"], "app");
    assert_eq!(created["password"].as_str().unwrap().len(), 40);
}

#[tokio::test]
async fn a_guest_waiting_in_a_host_call_is_stopped_at_its_deadline() {
    // A "database" that accepts connections and never says a word: the guest sits in the SQL
    // capability's connect, where epoch interruption cannot reach it.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut connections = Vec::new();
        while let Ok((connection, _)) = silent.accept().await {
            connections.push(connection);
        }
    });
    let mut context = context();
    let current = format!(
        r#"{{"engine":"postgres","host":"127.0.0.1","port":{port},"username":"app","password":"current-password-1"}}"#
    );
    context.current.as_mut().unwrap().secret_string = SecretText::new(current);
    let plugin = host(None)
        .load(PluginSpec {
            grant: Grant {
                sql_hosts: vec![format!("127.0.0.1:{port}").parse().unwrap()],
                ..full_grant()
            },
            ..spec("probe", &[("set-secret", "sql-set")])
        })
        .unwrap();
    let started = std::time::Instant::now();
    let failure = plugin
        .run(Step::SetSecret, &context, Arc::new(NoSecrets))
        .await
        .unwrap_err();
    assert!(matches!(failure, StepFailure::Deadline(_)), "{failure}");
    // Well before the SQL capability's own 10 s connect timeout.
    assert!(started.elapsed() < Duration::from_secs(5));
    held.abort();
}

/// A gateway started in this process, with its Agent endpoint on a plain loopback listener.
struct InProcessGateway {
    agent: std::net::SocketAddr,
    token: String,
    _dir: tempfile::TempDir,
}

const SECRET_NAME: &str = "still/served";
const SECRET_VALUE: &str = "the gateway still serves this";

async fn start_gateway() -> InProcessGateway {
    use secrets_gateway::config::Config;
    use secrets_gateway::store::embedded::EmbeddedStore;
    use secrets_gateway::store::{CreateSecretRequest, SecretStore as _};

    let dir = tempfile::tempdir().unwrap();
    secrets_gateway::pki::init(&dir.path().join("pki")).unwrap();
    let mut config = Config::dev(dir.path(), "127.0.0.1:0".parse().unwrap());
    let token = "sandbox-test-token".to_owned();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, &token).unwrap();
    config.agent.token_file = Some(token_file);
    config.agent.listen = Some("127.0.0.1:0".parse().unwrap());
    config.agent.identity = Some(secrets_gateway::pki::DEV_CLIENT_SPIFFE_ID.into());

    let store = EmbeddedStore::open(&config.store.embedded.store_config()).unwrap();
    store
        .create_secret(CreateSecretRequest {
            name: SECRET_NAME.into(),
            secret_string: Some(SecretText::new(SECRET_VALUE)),
            ..CreateSecretRequest::default()
        })
        .await
        .unwrap();
    drop(store);

    let (ready, listening) = tokio::sync::oneshot::channel();
    tokio::spawn(secrets_gateway::daemon::run(
        config,
        move |listening| {
            let _ = ready.send(listening);
        },
        std::future::pending(),
    ));
    let listening = listening.await.expect("the gateway starts");
    InProcessGateway {
        agent: listening.agent.expect("the Agent listener is configured"),
        token,
        _dir: dir,
    }
}

impl InProcessGateway {
    /// GETs the secret through the Agent endpoint; the response's status and body.
    async fn get(&self) -> (u16, String) {
        let mut stream = tokio::net::TcpStream::connect(self.agent).await.unwrap();
        let request = format!(
            "GET /secretsmanager/get?secretId={SECRET_NAME} HTTP/1.1\r\nHost: localhost\r\n\
             X-Aws-Parameters-Secrets-Token: {}\r\nConnection: close\r\n\r\n",
            self.token
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        let status = response[9..12].parse().unwrap();
        let body = response.split_once("\r\n\r\n").unwrap().1.to_owned();
        (status, body)
    }
}

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_hostile_steps_leave_the_gateway_serving_and_the_same_size() {
    let gateway = start_gateway().await;
    let host = host(None);
    let modes = ["loop", "alloc", "panic", "http", "oversized-error"];
    let plugins: Vec<Plugin> = modes
        .iter()
        .map(|mode| {
            host.load(PluginSpec {
                step_timeout: Duration::from_millis(20),
                ..spec("probe", &[("set-secret", mode)])
            })
            .unwrap()
        })
        .collect();
    let hostile_round = |count: usize| {
        let plugins = plugins.clone();
        async move {
            for call in 0..count {
                let failure = run(&plugins[call % plugins.len()], Step::SetSecret).await;
                assert!(failure.is_err(), "a hostile step succeeded");
            }
        }
    };

    // Up to a steady state: the pool's slots used once, the allocators warm.
    hostile_round(100).await;
    let (status, body) = gateway.get().await;
    assert_eq!(status, 200, "{body}");
    let before = resident_bytes();

    for _ in 0..10 {
        hostile_round(100).await;
        let (status, body) = gateway.get().await;
        assert_eq!(status, 200, "{body}");
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value["SecretString"], SECRET_VALUE);
    }
    let after = resident_bytes();
    let growth = after.saturating_sub(before);
    eprintln!(
        "resident: {:.1} MiB before, {:.1} MiB after 1,000 hostile steps (+{:.2} MiB)",
        before as f64 / 1048576.0,
        after as f64 / 1048576.0,
        growth as f64 / 1048576.0
    );
    // One plugin's memory limit is 16 MiB: a leak of even one instance per hundred calls would
    // exceed this.
    assert!(
        growth < 8 * 1024 * 1024,
        "grew by {growth} bytes across 1,000 hostile steps"
    );
}
