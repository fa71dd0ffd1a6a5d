//! The plugin boundary: a rotation context (secret id, ARN, token, the three versions and the
//! plugin's settings) read from the input as JSON, with arbitrary strings everywhere, handed to
//! a real component through the real host, which lowers it into the guest, runs the step with
//! its limits and grant, and lifts and checks what comes back. Proves that no context makes the
//! host panic, and that every step ends in a value only createSecret may return, within the
//! SecretString limits, or in a typed `StepFailure` that is not the host's own failure.
//!
//! The component is `$SG_FUZZ_PLUGIN`, by default the `probe` fixture that `scripts/build-plugins`
//! builds: its settings make a step misbehave in each way the sandbox must survive (loop, hoard
//! memory, panic, log the secret, call SQL, HTTP or the master secret outside its grant).
//! The engine and the compiled component are made once; each input runs in a fresh store.

#![no_main]

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use secrets_gateway::plugins::{
    Grant, HostSettings, NoSecrets, Plugin, PluginHost, PluginSpec, RotationContext, SecretVersion,
    Step, StepFailure,
};
use secrets_gateway::store::SecretText;
use serde::Deserialize;

/// Plugins loaded with the settings of recent inputs: settings are fixed when a plugin loads,
/// so a new set costs a load from the compile cache, not a compilation.
const LOADED: usize = 16;
/// The most a createSecret may return, as the host checks it.
const MAX_SECRET_STRING_BYTES: usize = 65_536;

#[derive(Deserialize)]
struct Input {
    /// `createSecret`, `set-secret`, …; anything else runs createSecret.
    #[serde(default)]
    step: String,
    #[serde(default)]
    secret_id: String,
    #[serde(default)]
    secret_arn: String,
    #[serde(default)]
    token: String,
    current: Option<Version>,
    pending: Option<Version>,
    previous: Option<Version>,
    #[serde(default)]
    settings: Vec<(String, String)>,
}

#[derive(Deserialize)]
struct Version {
    #[serde(default)]
    version_id: String,
    #[serde(default)]
    stages: Vec<String>,
    #[serde(default)]
    secret_string: String,
}

impl From<Version> for SecretVersion {
    fn from(version: Version) -> Self {
        Self {
            version_id: version.version_id,
            stages: version.stages,
            secret_string: SecretText::new(version.secret_string),
        }
    }
}

struct Harness {
    runtime: tokio::runtime::Runtime,
    host: PluginHost,
    file: PathBuf,
    loaded: Mutex<VecDeque<(Vec<(String, String)>, Plugin)>>,
}

impl Harness {
    fn get() -> &'static Self {
        static HARNESS: OnceLock<Harness> = OnceLock::new();
        HARNESS.get_or_init(|| {
            let file = std::env::var_os("SG_FUZZ_PLUGIN")
                .map(PathBuf::from)
                .unwrap_or_else(default_plugin);
            assert!(
                file.exists(),
                "no plugin at {}: run scripts/build-plugins, or set SG_FUZZ_PLUGIN",
                file.display()
            );
            let cache_dir = std::env::var_os("SG_FUZZ_PLUGIN_CACHE")
                .map(PathBuf::from)
                .unwrap_or_else(|| std::env::temp_dir().join("secrets-gateway-fuzz-plugin-cache"));
            let host = PluginHost::new(&HostSettings {
                cache_dir: Some(cache_dir),
                max_memory_mib: 64,
                max_concurrent_steps: 1,
            })
            .expect("the engine starts");
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            Harness {
                runtime,
                host,
                file,
                loaded: Mutex::new(VecDeque::with_capacity(LOADED)),
            }
        })
    }

    /// The plugin loaded with `settings`, from the recently loaded ones or loaded now.
    fn plugin(&self, settings: &[(String, String)]) -> Plugin {
        let mut loaded = self.loaded.lock().expect("not poisoned");
        if let Some((_, plugin)) = loaded.iter().find(|(known, _)| known == settings) {
            return plugin.clone();
        }
        let plugin = self
            .host
            .load(PluginSpec {
                name: "fuzzed".into(),
                file: self.file.clone(),
                sha256: None,
                memory_mib: 16,
                step_timeout: Duration::from_millis(50),
                grant: Grant {
                    // Where nothing listens: a granted connection is refused at once.
                    sql_hosts: vec!["127.0.0.1:9".parse().expect("a host pattern")],
                    http_hosts: vec!["127.0.0.1:9".parse().expect("a host pattern")],
                    master_secrets: vec!["prod/*".into()],
                    master_secret_read: true,
                },
                settings: settings.to_vec(),
            })
            .expect("the plugin loads");
        if loaded.len() == LOADED {
            loaded.pop_front();
        }
        loaded.push_back((settings.to_vec(), plugin.clone()));
        plugin
    }
}

/// The probe fixture where `scripts/build-plugins` puts it by default.
fn default_plugin() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").unwrap_or_default();
            PathBuf::from(home).join(".cache/secrets-gateway/target")
        });
    target.join("plugins/fixtures/probe.wasm")
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = serde_json::from_slice::<Input>(data) else {
        return;
    };
    let harness = Harness::get();
    let step = Step::parse(&input.step).unwrap_or(Step::CreateSecret);
    let plugin = harness.plugin(&input.settings);
    let context = RotationContext {
        secret_id: input.secret_id,
        secret_arn: input.secret_arn,
        token: input.token,
        current: input.current.map(Into::into),
        pending: input.pending.map(Into::into),
        previous: input.previous.map(Into::into),
    };
    let result = harness
        .runtime
        .block_on(plugin.run(step, &context, Arc::new(NoSecrets)));
    match result {
        Ok(None) => {}
        Ok(Some(created)) => {
            assert_eq!(step, Step::CreateSecret, "a value from {step}");
            assert!(
                (1..=MAX_SECRET_STRING_BYTES).contains(&created.len()),
                "createSecret passed a value of {} bytes",
                created.len()
            );
        }
        Err(StepFailure::Host(_)) => panic!("the host could not run {step}"),
        Err(_) => {}
    }
});
