//! The read cache in front of any store.
//!
//! - **Single flight**: concurrent misses for one key share one backend call.
//! - **Refresh ahead**: a hit in the last part of an entry's life starts one background refresh,
//!   so a hot secret never takes a miss.
//! - **Stale if error**: when the backend fails (not when it answers "not found"), an expired
//!   value is served for at most `max_stale` past its expiry; after that the error is returned.
//! - **Coherence**: every write through the gateway invalidates the secret's entries before it
//!   returns, and a fetch that raced with a write is not cached, so a read after one's own
//!   write never sees the old value.
//! - **Hygiene**: values and their memoized encodings are zeroized when the last reference to an
//!   evicted entry goes.
//! - **Change feed**: every write through the gateway is announced, by the secret's ARN, to the
//!   subscribers of [`SecretCache::changes`] (WatchSecret), once the cache no longer holds the
//!   old value.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Shared};
use moka::notification::RemovalCause;

use crate::metrics::SharedMetrics;
use crate::store::*;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheSettings {
    /// Serve from the cache at all.
    pub enabled: bool,
    /// How long a fetched value is served without asking the backend.
    pub ttl: Duration,
    /// A hit this close to expiry starts a background refresh.
    pub refresh_ahead: Duration,
    /// How long past expiry a value may be served while the backend fails.
    pub max_stale: Duration,
    /// The most entries kept; the least useful are evicted beyond it.
    pub max_entries: u64,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            ttl: Duration::from_secs(60),
            refresh_ahead: Duration::from_secs(15),
            max_stale: Duration::from_secs(900),
            max_entries: 10_000,
        }
    }
}

/// Whether a read may be answered from the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    Cached,
    /// Ask the backend now (the Agent's `refreshNow=true`); the answer refreshes the cache.
    Refresh,
}

/// Wire encodings of a value that surfaces memoize in the entry, so a hit costs no encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    SecretsManagerJson,
    AgentJson,
}

/// One cached GetSecretValue answer.
pub struct CachedSecret {
    pub response: GetSecretValueResponse,
    fetched: Instant,
    /// The cache's generation when the fetch started (see `SecretCache::expired_below`).
    generation: u64,
    /// Unique among the cache's entries (see `Index`).
    id: u64,
    refreshing: AtomicBool,
    encodings: [OnceLock<Bytes>; 2],
}

impl CachedSecret {
    fn new(response: GetSecretValueResponse, generation: u64, id: u64) -> Self {
        Self {
            response,
            fetched: Instant::now(),
            generation,
            id,
            refreshing: AtomicBool::new(false),
            encodings: Default::default(),
        }
    }

    /// The value encoded by `encode`, computed once per entry.
    pub fn encoded(
        &self,
        encoding: Encoding,
        encode: impl FnOnce(&GetSecretValueResponse) -> Bytes,
    ) -> Bytes {
        self.encodings[encoding as usize]
            .get_or_init(|| encode(&self.response))
            .clone()
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct Key {
    secret_id: String,
    version_id: Option<String>,
    version_stage: Option<String>,
}

impl Key {
    fn request(&self) -> GetSecretValueRequest {
        GetSecretValueRequest {
            secret_id: self.secret_id.clone(),
            version_id: self.version_id.clone(),
            version_stage: self.version_stage.clone(),
        }
    }
}

type Fetch = Shared<BoxFuture<'static, StoreResult<Arc<CachedSecret>>>>;
/// ARN → the keys whose entries hold a version of that secret.
/// The cached keys of each secret (by ARN), each with the id of the entry cached under it, so
/// that a removal notice about an entry the key no longer holds leaves the key indexed: moka
/// delivers notices late, after a newer entry may have taken the key, and unindexed, that
/// entry would outlive the next write of its secret.
type Index = Arc<Mutex<HashMap<String, HashMap<Key, u64>>>>;

/// A [`SecretStore`] that caches GetSecretValue and passes everything else through,
/// invalidating what a write changes.
pub struct SecretCache {
    store: Arc<dyn SecretStore>,
    settings: CacheSettings,
    metrics: SharedMetrics,
    entries: moka::future::Cache<Key, Arc<CachedSecret>, ahash::RandomState>,
    index: Index,
    in_flight: Mutex<HashMap<(Key, u64), Fetch>>,
    /// Bumped by every invalidation; a fetch that started under an older generation is
    /// answered but not cached.
    generation: AtomicU64,
    /// Entries fetched under an older generation count as expired: they are fetched again
    /// before they are served as fresh, and served stale while the backend fails.
    expired_below: AtomicU64,
    next_id: AtomicU64,
    changes: tokio::sync::broadcast::Sender<Arc<str>>,
}

/// How many changes a slow subscriber may fall behind before it is told it lagged (and looks
/// again at what it follows).
const CHANGE_FEED_CAPACITY: usize = 1024;

impl SecretCache {
    pub fn new(
        store: Arc<dyn SecretStore>,
        settings: CacheSettings,
        metrics: SharedMetrics,
    ) -> Arc<Self> {
        let index: Index = Arc::default();
        let listener_index = Arc::clone(&index);
        let entries = moka::future::Cache::builder()
            .max_capacity(settings.max_entries)
            .time_to_live(settings.ttl + settings.max_stale)
            .eviction_listener(move |key: Arc<Key>, value: Arc<CachedSecret>, cause| {
                if cause == RemovalCause::Replaced {
                    return;
                }
                let mut index = listener_index.lock().expect("cache index lock");
                if let Some(keys) = index.get_mut(&value.response.secret.arn) {
                    if keys.get(&*key) == Some(&value.id) {
                        keys.remove(&*key);
                    }
                    if keys.is_empty() {
                        index.remove(&value.response.secret.arn);
                    }
                }
            })
            .build_with_hasher(ahash::RandomState::new());
        Arc::new(Self {
            store,
            settings,
            metrics,
            entries,
            index,
            in_flight: Mutex::default(),
            generation: AtomicU64::new(0),
            expired_below: AtomicU64::new(0),
            next_id: AtomicU64::new(0),
            changes: tokio::sync::broadcast::Sender::new(CHANGE_FEED_CAPACITY),
        })
    }

    /// The ARNs of secrets written through this gateway from now on.
    pub fn changes(&self) -> tokio::sync::broadcast::Receiver<Arc<str>> {
        self.changes.subscribe()
    }

    /// GetSecretValue through the cache.
    pub async fn get(
        self: &Arc<Self>,
        request: GetSecretValueRequest,
        freshness: Freshness,
    ) -> StoreResult<Arc<CachedSecret>> {
        let key = Key {
            secret_id: request.secret_id,
            version_id: request.version_id,
            version_stage: request.version_stage,
        };
        if !self.settings.enabled {
            self.metrics.cache_misses.inc();
            return self.load(key, None).await;
        }
        let cached = match freshness {
            Freshness::Cached => self.entries.get(&key).await,
            Freshness::Refresh => None,
        };
        let Some(entry) = cached else {
            self.metrics.cache_misses.inc();
            return self.fetch(key).await;
        };
        let age = entry.fetched.elapsed();
        let expired = entry.generation < self.expired_below.load(Ordering::Acquire);
        if age < self.settings.ttl && !expired {
            self.metrics.cache_hits.inc();
            if age + self.settings.refresh_ahead >= self.settings.ttl
                && !entry.refreshing.swap(true, Ordering::AcqRel)
            {
                self.refresh_in_background(key, Arc::clone(&entry));
            }
            return Ok(entry);
        }
        self.metrics.cache_misses.inc();
        match self.fetch(key).await {
            Ok(fresh) => Ok(fresh),
            Err(err)
                if is_backend_failure(&err)
                    && age < self.settings.ttl + self.settings.max_stale =>
            {
                self.metrics.cache_stale.inc();
                tracing::warn!(
                    secret = %entry.response.secret.name,
                    stale_seconds = (age - self.settings.ttl).as_secs(),
                    error = %err.code,
                    "backend failed; serving the cached value past its expiry"
                );
                Ok(entry)
            }
            Err(err) => Err(err),
        }
    }

    fn refresh_in_background(self: &Arc<Self>, key: Key, entry: Arc<CachedSecret>) {
        self.metrics.cache_refreshes.inc();
        let cache = Arc::clone(self);
        tokio::spawn(async move {
            if let Err(err) = cache.fetch(key).await {
                tracing::debug!(secret = %entry.response.secret.name, error = %err.code, "refresh ahead failed");
                entry.refreshing.store(false, Ordering::Release);
            }
        });
    }

    /// Fetches `key` from the backend, sharing the call with concurrent fetches of it.
    async fn fetch(self: &Arc<Self>, key: Key) -> StoreResult<Arc<CachedSecret>> {
        let generation = self.generation.load(Ordering::Acquire);
        let flight = (key.clone(), generation);
        let shared = {
            let mut in_flight = self.in_flight.lock().expect("in-flight lock");
            in_flight
                .entry(flight.clone())
                .or_insert_with(|| {
                    let cache = Arc::clone(self);
                    async move { cache.load(key, Some(generation)).await }
                        .boxed()
                        .shared()
                })
                .clone()
        };
        let result = shared.await;
        self.in_flight
            .lock()
            .expect("in-flight lock")
            .remove(&flight);
        result
    }

    /// One backend call; the answer is cached when no invalidation happened since
    /// `generation` (and never when `generation` is `None`).
    async fn load(&self, key: Key, generation: Option<u64>) -> StoreResult<Arc<CachedSecret>> {
        self.metrics.backend_call("GetSecretValue");
        let result = self.store.get_secret_value(key.request()).await;
        let entry = match result {
            Ok(response) => Arc::new(CachedSecret::new(
                response,
                generation.unwrap_or(0),
                self.next_id.fetch_add(1, Ordering::Relaxed),
            )),
            Err(err) => {
                if !is_backend_failure(&err) {
                    // The backend's authoritative answer replaces whatever was cached.
                    self.entries.invalidate(&key).await;
                }
                return Err(err);
            }
        };
        let Some(generation) = generation else {
            return Ok(entry);
        };
        if self.generation.load(Ordering::Acquire) == generation {
            self.index
                .lock()
                .expect("cache index lock")
                .entry(entry.response.secret.arn.clone())
                .or_default()
                .insert(key.clone(), entry.id);
            self.entries.insert(key.clone(), Arc::clone(&entry)).await;
            if self.generation.load(Ordering::Acquire) != generation {
                self.entries.invalidate(&key).await;
            }
        }
        Ok(entry)
    }

    /// Drops every entry of the secret with this ARN.
    pub async fn invalidate_secret(&self, arn: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        let keys = self
            .index
            .lock()
            .expect("cache index lock")
            .remove(arn)
            .unwrap_or_default();
        for key in keys.into_keys() {
            self.entries.invalidate(&key).await;
        }
    }

    /// After a write whose effect is unknown: every entry is fetched again before it is served
    /// as fresh, but it is not dropped. Such a write most likely failed because the backend is
    /// failing, and then the entries are what readers are served, stale, until it is back.
    fn expire_all(&self) {
        let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        self.expired_below.fetch_max(generation, Ordering::AcqRel);
    }

    /// Passes a write through and invalidates what it may have changed.
    async fn write<T>(
        &self,
        result: StoreResult<T>,
        arn: impl FnOnce(&T) -> &str,
    ) -> StoreResult<T> {
        match &result {
            Ok(answer) => {
                let arn = arn(answer);
                self.invalidate_secret(arn).await;
                // No subscriber is no error.
                let _ = self.changes.send(Arc::from(arn));
            }
            Err(err) if err.code.is_server_fault() => self.expire_all(),
            Err(_) => {}
        }
        result
    }

    pub fn entry_count(&self) -> u64 {
        self.entries.entry_count()
    }
}

/// A failure of the backend itself, as opposed to its answer about a secret.
fn is_backend_failure(err: &StoreError) -> bool {
    matches!(
        err.code,
        ErrorCode::InternalServiceError | ErrorCode::Throttling
    )
}

#[async_trait]
impl SecretStore for SecretCache {
    async fn create_secret(
        &self,
        request: CreateSecretRequest,
    ) -> StoreResult<CreateSecretResponse> {
        self.metrics.backend_call("CreateSecret");
        let result = self.store.create_secret(request).await;
        self.write(result, |r| &r.secret.arn).await
    }

    async fn get_secret_value(
        &self,
        request: GetSecretValueRequest,
    ) -> StoreResult<GetSecretValueResponse> {
        self.metrics.backend_call("GetSecretValue");
        self.store.get_secret_value(request).await
    }

    async fn batch_get_secret_value(
        &self,
        request: BatchGetSecretValueRequest,
    ) -> StoreResult<BatchGetSecretValueResponse> {
        self.metrics.backend_call("BatchGetSecretValue");
        self.store.batch_get_secret_value(request).await
    }

    async fn put_secret_value(
        &self,
        request: PutSecretValueRequest,
    ) -> StoreResult<PutSecretValueResponse> {
        self.metrics.backend_call("PutSecretValue");
        let result = self.store.put_secret_value(request).await;
        self.write(result, |r| &r.secret.arn).await
    }

    async fn update_secret(
        &self,
        request: UpdateSecretRequest,
    ) -> StoreResult<UpdateSecretResponse> {
        self.metrics.backend_call("UpdateSecret");
        let result = self.store.update_secret(request).await;
        self.write(result, |r| &r.secret.arn).await
    }

    async fn update_secret_version_stage(
        &self,
        request: UpdateSecretVersionStageRequest,
    ) -> StoreResult<SecretRef> {
        self.metrics.backend_call("UpdateSecretVersionStage");
        let result = self.store.update_secret_version_stage(request).await;
        self.write(result, |r| &r.arn).await
    }

    async fn describe_secret(
        &self,
        request: DescribeSecretRequest,
    ) -> StoreResult<DescribeSecretResponse> {
        self.metrics.backend_call("DescribeSecret");
        self.store.describe_secret(request).await
    }

    async fn list_secrets(&self, request: ListSecretsRequest) -> StoreResult<ListSecretsResponse> {
        self.metrics.backend_call("ListSecrets");
        self.store.list_secrets(request).await
    }

    async fn list_secret_version_ids(
        &self,
        request: ListSecretVersionIdsRequest,
    ) -> StoreResult<ListSecretVersionIdsResponse> {
        self.metrics.backend_call("ListSecretVersionIds");
        self.store.list_secret_version_ids(request).await
    }

    async fn delete_secret(
        &self,
        request: DeleteSecretRequest,
    ) -> StoreResult<DeleteSecretResponse> {
        self.metrics.backend_call("DeleteSecret");
        let result = self.store.delete_secret(request).await;
        self.write(result, |r| &r.secret.arn).await
    }

    async fn restore_secret(&self, request: RestoreSecretRequest) -> StoreResult<SecretRef> {
        self.metrics.backend_call("RestoreSecret");
        let result = self.store.restore_secret(request).await;
        self.write(result, |r| &r.arn).await
    }

    async fn get_random_password(
        &self,
        request: GetRandomPasswordRequest,
    ) -> StoreResult<GetRandomPasswordResponse> {
        self.metrics.backend_call("GetRandomPassword");
        self.store.get_random_password(request).await
    }

    async fn tag_resource(&self, request: TagResourceRequest) -> StoreResult<Empty> {
        self.metrics.backend_call("TagResource");
        self.store.tag_resource(request).await
    }

    async fn untag_resource(&self, request: UntagResourceRequest) -> StoreResult<Empty> {
        self.metrics.backend_call("UntagResource");
        self.store.untag_resource(request).await
    }

    async fn update_rotation(&self, request: UpdateRotationRequest) -> StoreResult<SecretRef> {
        self.metrics.backend_call("UpdateRotation");
        self.store.update_rotation(request).await
    }

    async fn check_ready(&self) -> StoreResult<()> {
        self.store.check_ready().await
    }
}

#[cfg(test)]
mod tests;
