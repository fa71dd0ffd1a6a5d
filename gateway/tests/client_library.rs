//! The client library against the real gateway binary: WatchSecret brings a rotated value
//! into the cache before the refresh interval is up, and across a gateway restart the cache
//! keeps serving while the client reconnects.

#[path = "support/plugin_fixtures.rs"]
mod plugin_fixtures;

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use secrets_gateway::config::Config;
use secrets_gateway::store::embedded::EmbeddedStore;
use secrets_gateway::store::{CreateSecretRequest, SecretStore as _, SecretText};
use secrets_gateway_client::{Client, ClientConfig, Error};

const SECRET: &str = "prod/app/db";

#[derive(serde::Deserialize)]
struct DbCreds {
    username: String,
    password: String,
}

/// A development gateway process on `listen`, loading only the minimal plugin.
struct Gateway {
    child: Child,
    address: SocketAddr,
}

impl Gateway {
    fn start(dir: &Path, listen: &str) -> Self {
        let plugins = dir.join("plugins");
        std::fs::create_dir_all(&plugins).unwrap();
        std::fs::copy(
            plugin_fixtures::plugin("minimal"),
            plugins.join("minimal.wasm"),
        )
        .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_secrets-gateway"))
            .args(["serve", "--dev", "--data-dir"])
            .arg(dir)
            .args(["--listen", listen, "--plugin-dir"])
            .arg(&plugins)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the gateway binary runs");
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let (ready, address) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if let Some((_, rest)) = line.split_once("ready listen=") {
                    let address = rest.split_whitespace().next().unwrap().parse().unwrap();
                    let _ = ready.send(address);
                }
            }
        });
        let address = address
            .recv_timeout(Duration::from_secs(60))
            .expect("the gateway reports ready");
        Self { child, address }
    }

    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Seeds the development store the gateway will open with one database secret.
async fn seed(dir: &Path) {
    secrets_gateway::pki::init(&dir.join("pki")).unwrap();
    let config = Config::dev(dir, "127.0.0.1:0".parse().unwrap());
    let store = EmbeddedStore::open(&config.store.embedded.store_config()).unwrap();
    store
        .create_secret(CreateSecretRequest {
            name: SECRET.into(),
            secret_string: Some(SecretText::new(
                r#"{"engine":"postgres","host":"127.0.0.1","username":"app","password":"first-password-123"}"#,
            )),
            ..CreateSecretRequest::default()
        })
        .await
        .unwrap();
}

fn client(dir: &Path, gateway: &Gateway, refresh_interval: Duration) -> Client {
    let (cert, key) = Config::dev_client(dir);
    let mut config = ClientConfig::new(
        format!("https://localhost:{}", gateway.address.port()),
        cert,
        key,
        dir.join("pki").join("ca.pem"),
    );
    config.refresh_interval = refresh_interval;
    Client::connect(config).unwrap()
}

async fn eventually<T>(what: &str, mut attempt: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(value) = attempt().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_follows_rotations_and_outlives_a_gateway_restart() {
    let dir = tempfile::tempdir().unwrap();
    seed(dir.path()).await;
    let mut gateway = Gateway::start(dir.path(), "127.0.0.1:0");

    // A refresh interval no test waits out: only WatchSecret can change the cached value.
    let watching = client(dir.path(), &gateway, Duration::from_secs(3600));
    let creds: DbCreds = watching.get_json(SECRET).await.unwrap();
    assert_eq!(
        (creds.username.as_str(), creds.password.as_str()),
        ("app", "first-password-123")
    );

    let rotated = watching.rotate(SECRET, Some("minimal")).await.unwrap();
    let after_rotation = eventually("the rotated value in the cache", async || {
        let secret = watching.get(SECRET).await.unwrap();
        (secret.version_id == rotated.version_id).then_some(secret)
    })
    .await;
    let creds: DbCreds = serde_json::from_str(after_rotation.text().unwrap()).unwrap();
    assert_eq!(creds.username, "app");
    assert_ne!(creds.password, "first-password-123");

    // A client that asks the gateway on every read falls back to its cache while the gateway
    // is down, and says so only when it has nothing cached.
    let asking = client(dir.path(), &gateway, Duration::ZERO);
    let before = asking.get(SECRET).await.unwrap();
    let port = gateway.address.port();
    gateway.kill();
    let meanwhile = asking.get(SECRET).await.unwrap();
    assert_eq!(meanwhile.version_id, before.version_id);
    assert_eq!(
        watching.get(SECRET).await.unwrap().version_id,
        rotated.version_id
    );
    assert!(matches!(
        asking.get("never/read").await,
        Err(Error::Unavailable(_))
    ));

    let _restarted = Gateway::start(dir.path(), &format!("127.0.0.1:{port}"));
    // The watching client subscribes again by itself: a value put after the restart reaches
    // its cache.
    let put = eventually("a put to the restarted gateway", async || {
        asking
            .put_string(
                SECRET,
                r#"{"username":"app","password":"after-restart-456"}"#,
            )
            .await
            .ok()
    })
    .await;
    eventually("the put value in the watching client's cache", async || {
        let secret = watching.get(SECRET).await.unwrap();
        (secret.version_id == put.version_id).then_some(())
    })
    .await;
    let creds: DbCreds = watching.get_json(SECRET).await.unwrap();
    assert_eq!(creds.password, "after-restart-456");
}
