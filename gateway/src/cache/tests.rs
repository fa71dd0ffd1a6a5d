//! The cache in front of a real embedded store, with a fault-injecting wrapper that can hold
//! back or fail the backend's GetSecretValue.

use std::sync::atomic::AtomicUsize;

use tokio::sync::Semaphore;

use super::*;
use crate::metrics::Metrics;
use crate::store::arn::ArnScope;
use crate::store::embedded::{EmbeddedStore, MasterKey};

/// The embedded store, with GetSecretValue counted, optionally held at a gate, or failing as
/// an unreachable backend would.
struct Backend {
    inner: EmbeddedStore,
    calls: AtomicUsize,
    gate: Semaphore,
    gated: AtomicBool,
    /// Calls waiting at the gate.
    parked: AtomicUsize,
    down: AtomicBool,
}

impl Backend {
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl SecretStore for Backend {
    async fn create_secret(&self, r: CreateSecretRequest) -> StoreResult<CreateSecretResponse> {
        self.inner.create_secret(r).await
    }
    async fn get_secret_value(
        &self,
        r: GetSecretValueRequest,
    ) -> StoreResult<GetSecretValueResponse> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::internal(
                "The Secrets Manager backend is unreachable.",
            ));
        }
        // The answer is read first and held at the gate, as a slow network would hold it.
        let answer = self.inner.get_secret_value(r).await;
        if self.gated.load(Ordering::SeqCst) {
            self.parked.fetch_add(1, Ordering::SeqCst);
            let _permit = self.gate.acquire().await.expect("gate open");
        }
        answer
    }
    async fn batch_get_secret_value(
        &self,
        r: BatchGetSecretValueRequest,
    ) -> StoreResult<BatchGetSecretValueResponse> {
        self.inner.batch_get_secret_value(r).await
    }
    async fn put_secret_value(
        &self,
        r: PutSecretValueRequest,
    ) -> StoreResult<PutSecretValueResponse> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::internal(
                "The Secrets Manager backend is unreachable.",
            ));
        }
        self.inner.put_secret_value(r).await
    }
    async fn update_secret(&self, r: UpdateSecretRequest) -> StoreResult<UpdateSecretResponse> {
        self.inner.update_secret(r).await
    }
    async fn update_secret_version_stage(
        &self,
        r: UpdateSecretVersionStageRequest,
    ) -> StoreResult<SecretRef> {
        self.inner.update_secret_version_stage(r).await
    }
    async fn describe_secret(
        &self,
        r: DescribeSecretRequest,
    ) -> StoreResult<DescribeSecretResponse> {
        self.inner.describe_secret(r).await
    }
    async fn list_secrets(&self, r: ListSecretsRequest) -> StoreResult<ListSecretsResponse> {
        self.inner.list_secrets(r).await
    }
    async fn list_secret_version_ids(
        &self,
        r: ListSecretVersionIdsRequest,
    ) -> StoreResult<ListSecretVersionIdsResponse> {
        self.inner.list_secret_version_ids(r).await
    }
    async fn delete_secret(&self, r: DeleteSecretRequest) -> StoreResult<DeleteSecretResponse> {
        self.inner.delete_secret(r).await
    }
    async fn restore_secret(&self, r: RestoreSecretRequest) -> StoreResult<SecretRef> {
        self.inner.restore_secret(r).await
    }
    async fn get_random_password(
        &self,
        r: GetRandomPasswordRequest,
    ) -> StoreResult<GetRandomPasswordResponse> {
        self.inner.get_random_password(r).await
    }
    async fn tag_resource(&self, r: TagResourceRequest) -> StoreResult<Empty> {
        self.inner.tag_resource(r).await
    }
    async fn untag_resource(&self, r: UntagResourceRequest) -> StoreResult<Empty> {
        self.inner.untag_resource(r).await
    }
    async fn update_rotation(&self, r: UpdateRotationRequest) -> StoreResult<SecretRef> {
        self.inner.update_rotation(r).await
    }

    async fn check_ready(&self) -> StoreResult<()> {
        self.inner.check_ready().await
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    backend: Arc<Backend>,
    cache: Arc<SecretCache>,
}

fn fixture(settings: CacheSettings) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let inner = EmbeddedStore::open_with_key(
        &dir.path().join("s.redb"),
        MasterKey::from_bytes(&[9; 32]),
        ArnScope::default(),
    )
    .unwrap();
    let backend = Arc::new(Backend {
        inner,
        calls: AtomicUsize::new(0),
        gate: Semaphore::new(0),
        gated: AtomicBool::new(false),
        parked: AtomicUsize::new(0),
        down: AtomicBool::new(false),
    });
    let cache = SecretCache::new(backend.clone(), settings, Arc::new(Metrics::new()));
    Fixture {
        _dir: dir,
        backend,
        cache,
    }
}

async fn create(f: &Fixture, name: &str, value: &str) {
    f.cache
        .create_secret(CreateSecretRequest {
            name: name.into(),
            secret_string: Some(SecretText::new(value)),
            ..Default::default()
        })
        .await
        .unwrap();
}

async fn get(f: &Fixture, name: &str) -> StoreResult<String> {
    let entry = f
        .cache
        .get(
            GetSecretValueRequest::new(name, VersionSelector::current()),
            Freshness::Cached,
        )
        .await?;
    Ok(entry
        .response
        .secret_string
        .as_ref()
        .unwrap()
        .expose()
        .to_owned())
}

#[tokio::test]
async fn hits_do_not_reach_the_backend() {
    let f = fixture(CacheSettings::default());
    create(&f, "a", "1").await;
    for _ in 0..5 {
        assert_eq!(get(&f, "a").await.unwrap(), "1");
    }
    assert_eq!(f.backend.calls(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_misses_make_one_backend_call() {
    let f = fixture(CacheSettings::default());
    create(&f, "cold", "v").await;
    f.backend.gated.store(true, Ordering::SeqCst);
    let readers: Vec<_> = (0..20)
        .map(|_| {
            let cache = Arc::clone(&f.cache);
            tokio::spawn(async move {
                cache
                    .get(
                        GetSecretValueRequest::new("cold", VersionSelector::current()),
                        Freshness::Cached,
                    )
                    .await
            })
        })
        .collect();
    // Let every reader reach the cache before the backend answers.
    while f.backend.calls() == 0 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    f.backend.gate.add_permits(100);
    for reader in readers {
        assert_eq!(
            reader
                .await
                .unwrap()
                .unwrap()
                .response
                .secret_string
                .as_ref()
                .unwrap()
                .expose(),
            "v"
        );
    }
    assert_eq!(f.backend.calls(), 1);
}

#[tokio::test]
async fn a_write_through_the_cache_is_visible_to_the_next_read() {
    let f = fixture(CacheSettings::default());
    create(&f, "w", "old").await;
    assert_eq!(get(&f, "w").await.unwrap(), "old");
    let arn = f
        .cache
        .get(
            GetSecretValueRequest::new("w", VersionSelector::current()),
            Freshness::Cached,
        )
        .await
        .unwrap()
        .response
        .secret
        .arn
        .clone();
    // Read by ARN too, so two keys hold the secret.
    let by_arn = f
        .cache
        .get(
            GetSecretValueRequest::new(arn.clone(), VersionSelector::current()),
            Freshness::Cached,
        )
        .await
        .unwrap();
    assert_eq!(
        by_arn.response.secret_string.as_ref().unwrap().expose(),
        "old"
    );
    f.cache
        .put_secret_value(PutSecretValueRequest::new(
            "w",
            SecretValue::String(SecretText::new("new")),
        ))
        .await
        .unwrap();
    assert_eq!(get(&f, "w").await.unwrap(), "new");
    assert_eq!(get(&f, &arn).await.unwrap(), "new");
    assert_eq!(get(&f, "w").await.unwrap(), "new");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_that_raced_a_write_is_not_cached() {
    let f = fixture(CacheSettings::default());
    create(&f, "race", "old").await;
    f.backend.gated.store(true, Ordering::SeqCst);
    let cache = Arc::clone(&f.cache);
    let slow_read = tokio::spawn(async move {
        cache
            .get(
                GetSecretValueRequest::new("race", VersionSelector::current()),
                Freshness::Cached,
            )
            .await
    });
    while f.backend.parked.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    // The backend has read the old value but not answered yet; now a write goes through.
    f.cache
        .put_secret_value(PutSecretValueRequest::new(
            "race",
            SecretValue::String(SecretText::new("new")),
        ))
        .await
        .unwrap();
    f.backend.gate.add_permits(1);
    let answered = slow_read.await.unwrap().unwrap();
    assert_eq!(
        answered.response.secret_string.as_ref().unwrap().expose(),
        "old",
        "it started before the write"
    );
    assert_eq!(get(&f, "race").await.unwrap(), "new");
}

#[tokio::test]
async fn refresh_ahead_replaces_a_hot_entry_before_it_expires() {
    let settings = CacheSettings {
        ttl: Duration::from_millis(600),
        refresh_ahead: Duration::from_millis(500),
        ..CacheSettings::default()
    };
    let f = fixture(settings);
    create(&f, "hot", "1").await;
    get(&f, "hot").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Inside the refresh window: a hit, and one background refresh.
    assert_eq!(get(&f, "hot").await.unwrap(), "1");
    for _ in 0..50 {
        if f.backend.calls() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(f.backend.calls(), 2);
    let hits_before = f.cache.metrics.cache_hits.get();
    get(&f, "hot").await.unwrap();
    assert_eq!(f.cache.metrics.cache_hits.get(), hits_before + 1);
}

#[tokio::test]
async fn stale_values_are_served_while_the_backend_fails_but_only_up_to_the_limit() {
    let settings = CacheSettings {
        ttl: Duration::from_millis(100),
        refresh_ahead: Duration::ZERO,
        max_stale: Duration::from_millis(400),
        ..CacheSettings::default()
    };
    let f = fixture(settings);
    create(&f, "s", "kept").await;
    get(&f, "s").await.unwrap();
    f.backend.down.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(get(&f, "s").await.unwrap(), "kept");
    assert_eq!(f.cache.metrics.cache_stale.get(), 1);
    tokio::time::sleep(Duration::from_millis(450)).await;
    let err = get(&f, "s").await.unwrap_err();
    assert_eq!(err.code, ErrorCode::InternalServiceError);
    f.backend.down.store(false, Ordering::SeqCst);
    assert_eq!(get(&f, "s").await.unwrap(), "kept");
}

#[tokio::test]
async fn a_write_that_failed_in_the_backend_leaves_every_entry_to_serve_stale() {
    let f = fixture(CacheSettings::default());
    create(&f, "written", "before").await;
    create(&f, "other", "other value").await;
    get(&f, "written").await.unwrap();
    get(&f, "other").await.unwrap();
    f.backend.down.store(true, Ordering::SeqCst);
    let put = f
        .cache
        .put_secret_value(PutSecretValueRequest::new(
            "written",
            SecretValue::String(SecretText::new("unknown fate")),
        ))
        .await;
    assert_eq!(put.unwrap_err().code, ErrorCode::InternalServiceError);

    let calls = f.backend.calls();
    assert_eq!(get(&f, "written").await.unwrap(), "before");
    assert_eq!(get(&f, "other").await.unwrap(), "other value");
    assert_eq!(f.backend.calls(), calls + 2, "both were asked for again");
    assert_eq!(f.cache.metrics.cache_stale.get(), 2);

    f.backend.down.store(false, Ordering::SeqCst);
    assert_eq!(get(&f, "written").await.unwrap(), "before");
    assert_eq!(
        f.backend.calls(),
        calls + 3,
        "fetched again once the backend is back"
    );
    assert_eq!(get(&f, "written").await.unwrap(), "before");
    assert_eq!(f.backend.calls(), calls + 3, "and fresh again");
}

#[tokio::test]
async fn an_authoritative_error_is_never_covered_by_a_stale_value() {
    let settings = CacheSettings {
        ttl: Duration::from_millis(50),
        refresh_ahead: Duration::ZERO,
        ..CacheSettings::default()
    };
    let f = fixture(settings);
    create(&f, "gone", "x").await;
    get(&f, "gone").await.unwrap();
    // Deleted behind the cache's back (another gateway, say).
    f.backend
        .inner
        .delete_secret(DeleteSecretRequest {
            secret_id: "gone".into(),
            force_delete_without_recovery: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert_eq!(
        get(&f, "gone").await.unwrap_err().code,
        ErrorCode::ResourceNotFound
    );
}

#[tokio::test]
async fn refresh_now_always_asks_the_backend() {
    let f = fixture(CacheSettings::default());
    create(&f, "r", "1").await;
    get(&f, "r").await.unwrap();
    f.cache
        .get(
            GetSecretValueRequest::new("r", VersionSelector::current()),
            Freshness::Refresh,
        )
        .await
        .unwrap();
    assert_eq!(f.backend.calls(), 2);
}

#[tokio::test]
async fn evicted_entries_leave_the_index() {
    let settings = CacheSettings {
        max_entries: 2,
        ..CacheSettings::default()
    };
    let f = fixture(settings);
    for name in ["e1", "e2", "e3", "e4"] {
        create(&f, name, "v").await;
        get(&f, name).await.unwrap();
    }
    f.cache.entries.run_pending_tasks().await;
    assert!(f.cache.entry_count() <= 2);
    let indexed: usize = f
        .cache
        .index
        .lock()
        .unwrap()
        .values()
        .map(HashMap::len)
        .sum();
    assert_eq!(indexed as u64, f.cache.entry_count());
}
