//! The gateway's own cost per request, without sockets or TLS: the router, the surface, the
//! service and a cache hit, driven in-process. The network benchmark (scripts/bench) shows
//! what a client sees; this one isolates what the code adds.

use std::sync::Arc;

use axum::body::Body;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt as _;
use secrets_gateway::api;
use secrets_gateway::api::agent::AgentState;
use secrets_gateway::audit::{AuditLog, AuditSink};
use secrets_gateway::authz::{Authorizer, PolicySource, StatementSpec};
use secrets_gateway::cache::{CacheSettings, SecretCache};
use secrets_gateway::metrics::Metrics;
use secrets_gateway::service::SecretsService;
use secrets_gateway::store::arn::ArnScope;
use secrets_gateway::store::embedded::{EmbeddedStore, MasterKey};
use secrets_gateway::store::{CreateSecretRequest, SecretStore as _, SecretText};
use secrets_gateway::tls::{ClientIdentity, IdentityKind, Peer};
use tower::ServiceExt as _;
use zeroize::Zeroizing;

/// A policy of realistic size: the caller's statement is the last of several.
const POLICY: &str = r#"
[[statement]]
effect = "allow"
identities = ["spiffe://bench/other-*"]
actions = ["secretsmanager:*"]
secrets = ["other/*"]

[[statement]]
effect = "deny"
identities = ["*"]
actions = ["secretsmanager:DeleteSecret"]
secrets = ["prod/*"]

[[statement]]
effect = "allow"
identities = ["spiffe://bench/client"]
actions = ["secretsmanager:GetSecretValue", "secretsmanager:Describe*"]
secrets = ["bench/*"]
"#;

#[derive(serde::Deserialize)]
struct Policy {
    statement: Vec<StatementSpec>,
}

fn request_path(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open_with_key(
        &dir.path().join("s.redb"),
        MasterKey::from_bytes(&[1; 32]),
        ArnScope::default(),
    )
    .unwrap();
    let metrics = Arc::new(Metrics::new());
    let cache = SecretCache::new(
        Arc::new(store),
        CacheSettings::default(),
        Arc::clone(&metrics),
    );
    let authz = Authorizer::new(PolicySource {
        statements: toml::from_str::<Policy>(POLICY).unwrap().statement,
        file: None,
    })
    .unwrap();
    let audit_file = dir.path().join("audit.log");
    let audit = AuditLog::open(AuditSink::File(audit_file)).unwrap();
    let service = SecretsService::new(cache, metrics, Arc::new(authz), Arc::new(audit));
    runtime.block_on(async {
        service
            .store()
            .create_secret(CreateSecretRequest {
                name: "bench/db".into(),
                secret_string: Some(SecretText::new(
                    r#"{"username":"app","password":"ZCjvMn1Q8x2R7Hv3pLw9sT4kYb6NfA0e"}"#,
                )),
                ..Default::default()
            })
            .await
            .unwrap();
    });
    let agent = AgentState {
        service: service.clone(),
        token: Arc::new(Zeroizing::new("token".to_owned())),
    };
    let router = runtime.block_on(api::router(service, Some(agent)));
    let peer = Arc::new(Peer {
        identity: ClientIdentity {
            kind: IdentityKind::Spiffe,
            name: "spiffe://bench/client".into(),
        },
        address: "127.0.0.1:1".parse().unwrap(),
    });
    let agent_request = || {
        let mut request = axum::http::Request::get("/secretsmanager/get?secretId=bench%2Fdb")
            .header("x-aws-parameters-secrets-token", "token")
            .body(Body::empty())
            .unwrap();
        request.extensions_mut().insert(Arc::clone(&peer));
        request
    };
    let sm_request = || {
        let mut request = axum::http::Request::post("/")
            .header("x-amz-target", "secretsmanager.GetSecretValue")
            .header("content-type", "application/x-amz-json-1.1")
            .body(Body::from(r#"{"SecretId":"bench/db"}"#))
            .unwrap();
        request.extensions_mut().insert(Arc::clone(&peer));
        request
    };
    c.bench_function("agent GET, cache hit", |b| {
        b.to_async(&runtime).iter(|| async {
            let response = router.clone().oneshot(agent_request()).await.unwrap();
            assert!(response.status().is_success());
            response.into_body().collect().await.unwrap()
        })
    });
    c.bench_function("GetSecretValue, cache hit", |b| {
        b.to_async(&runtime).iter(|| async {
            let response = router.clone().oneshot(sm_request()).await.unwrap();
            assert!(response.status().is_success());
            response.into_body().collect().await.unwrap()
        })
    });
}

criterion_group!(benches, request_path);
criterion_main!(benches);
