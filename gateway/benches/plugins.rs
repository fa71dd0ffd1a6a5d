//! What a plugin step costs: instantiating the minimal plugin from its pre-instantiated form in
//! a fresh store and calling one step (target: 50 µs median), and what loading a component
//! costs cold (compiled) against a compile-cache hit: the small Rust probe, and the Python and
//! JavaScript API-key plugins, which carry their interpreters.
//!
//! `cargo bench -p secrets-gateway --bench plugins`

#[path = "../tests/support/plugin_fixtures.rs"]
mod plugin_fixtures;

use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use plugin_fixtures::plugin;
use secrets_gateway::plugins::{
    CompiledFrom, Grant, HostSettings, NoSecrets, PluginHost, PluginSpec, RotationContext,
    SecretLookup, SecretVersion, Step,
};
use secrets_gateway::store::SecretText;

fn spec(name: &str) -> PluginSpec {
    PluginSpec {
        name: name.into(),
        file: plugin(name),
        sha256: None,
        memory_mib: PluginSpec::DEFAULT_MEMORY_MIB,
        step_timeout: PluginSpec::DEFAULT_STEP_TIMEOUT,
        grant: Grant {
            sql_hosts: vec!["127.0.0.1".parse().unwrap()],
            http_hosts: vec!["127.0.0.1".parse().unwrap()],
            master_secrets: vec!["*".into()],
            master_secret_read: true,
        },
        settings: Vec::new(),
    }
}

fn step(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let host = PluginHost::new(&HostSettings::default()).unwrap();
    let minimal = host.load(spec("minimal")).unwrap();
    let context = RotationContext {
        secret_id: "bench/db".into(),
        secret_arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:bench/db-AbCdEf".into(),
        token: "token".into(),
        current: Some(SecretVersion {
            version_id: "v1".into(),
            stages: vec!["AWSCURRENT".into()],
            secret_string: SecretText::new(
                r#"{"engine":"postgres","host":"127.0.0.1","username":"app","password":"pw-123456"}"#,
            ),
        }),
        pending: None,
        previous: None,
    };
    let lookup: Arc<dyn SecretLookup> = Arc::new(NoSecrets);
    c.bench_function("plugin step: instantiate + setSecret (minimal)", |b| {
        b.to_async(&runtime).iter(|| async {
            minimal
                .run(Step::SetSecret, &context, Arc::clone(&lookup))
                .await
                .unwrap()
        })
    });
}

fn load(c: &mut Criterion) {
    for name in ["probe", "apikey-python", "apikey-js"] {
        load_one(c, name);
    }
}

fn load_one(c: &mut Criterion, name: &str) {
    let cache = tempfile::tempdir().unwrap();
    let host = PluginHost::new(&HostSettings {
        cache_dir: Some(cache.path().to_owned()),
        ..HostSettings::default()
    })
    .unwrap();
    let clear_cache = || {
        for entry in std::fs::read_dir(cache.path()).unwrap() {
            std::fs::remove_file(entry.unwrap().path()).unwrap();
        }
    };
    let size_kb = std::fs::metadata(plugin(name)).unwrap().len() / 1000;
    let mut group = c.benchmark_group(format!("plugin load ({name}, {size_kb} KB)"));
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("cold: compiled", |b| {
        b.iter_batched(
            clear_cache,
            |()| {
                let plugin = host.load(spec(name)).unwrap();
                assert_eq!(plugin.compiled_from(), CompiledFrom::Compiler);
            },
            BatchSize::PerIteration,
        )
    });
    host.load(spec(name)).unwrap();
    group.bench_function("compile-cache hit", |b| {
        b.iter(|| {
            let plugin = host.load(spec(name)).unwrap();
            assert_eq!(plugin.compiled_from(), CompiledFrom::Cache);
        })
    });
    group.finish();
}

criterion_group!(benches, step, load);
criterion_main!(benches);
