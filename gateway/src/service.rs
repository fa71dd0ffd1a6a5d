//! The one door every API surface goes through on its way to the store.
//!
//! The Secrets Manager protocol, the Agent endpoint and gRPC all call [`SecretsService`], so a
//! rule enforced here holds on every surface.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

pub use crate::operation::Operation;

use crate::cache::{CachedSecret, Freshness, SecretCache};
use crate::metrics::SharedMetrics;
use crate::store::*;
use crate::tls::SharedPeer;

/// Names one request in responses and logs: UUID-shaped, unique per process (a random
/// prefix drawn at start-up and a counter), and cheap enough to mint for every request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestId(u128);

impl RequestId {
    pub fn next() -> Self {
        static PREFIX: OnceLock<u64> = OnceLock::new();
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let prefix = *PREFIX.get_or_init(rand::random);
        Self(u128::from(prefix) << 64 | u128::from(COUNTER.fetch_add(1, Ordering::Relaxed)))
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (high, low) = ((self.0 >> 64) as u64, self.0 as u64);
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            high >> 32,
            (high >> 16) & 0xffff,
            high & 0xffff,
            low >> 48,
            low & 0xffff_ffff_ffff
        )
    }
}

/// Who is asking, on which connection.
#[derive(Clone, Debug)]
pub struct RequestContext {
    pub peer: SharedPeer,
    pub request_id: RequestId,
}

impl RequestContext {
    pub fn new(peer: SharedPeer) -> Self {
        Self {
            peer,
            request_id: RequestId::next(),
        }
    }
}

/// The secrets operations, as every surface sees them.
#[derive(Clone)]
pub struct SecretsService {
    store: Arc<SecretCache>,
    metrics: SharedMetrics,
}

impl SecretsService {
    pub fn new(store: Arc<SecretCache>, metrics: SharedMetrics) -> Self {
        Self { store, metrics }
    }

    /// The store behind the cache, for callers that are not requests (set-up, rotation).
    pub fn store(&self) -> &Arc<SecretCache> {
        &self.store
    }

    pub fn metrics(&self) -> &SharedMetrics {
        &self.metrics
    }

    /// Whether the backend can answer now.
    pub async fn check_ready(&self) -> StoreResult<()> {
        self.store.check_ready().await
    }

    pub async fn create_secret(
        &self,
        _ctx: &RequestContext,
        request: CreateSecretRequest,
    ) -> StoreResult<CreateSecretResponse> {
        self.store.create_secret(request).await
    }

    pub async fn get_secret_value(
        &self,
        _ctx: &RequestContext,
        request: GetSecretValueRequest,
        freshness: Freshness,
    ) -> StoreResult<Arc<CachedSecret>> {
        self.store.get(request, freshness).await
    }

    pub async fn batch_get_secret_value(
        &self,
        _ctx: &RequestContext,
        request: BatchGetSecretValueRequest,
    ) -> StoreResult<BatchGetSecretValueResponse> {
        self.store.batch_get_secret_value(request).await
    }

    pub async fn put_secret_value(
        &self,
        _ctx: &RequestContext,
        request: PutSecretValueRequest,
    ) -> StoreResult<PutSecretValueResponse> {
        self.store.put_secret_value(request).await
    }

    pub async fn update_secret(
        &self,
        _ctx: &RequestContext,
        request: UpdateSecretRequest,
    ) -> StoreResult<UpdateSecretResponse> {
        self.store.update_secret(request).await
    }

    pub async fn update_secret_version_stage(
        &self,
        _ctx: &RequestContext,
        request: UpdateSecretVersionStageRequest,
    ) -> StoreResult<SecretRef> {
        self.store.update_secret_version_stage(request).await
    }

    pub async fn describe_secret(
        &self,
        _ctx: &RequestContext,
        request: DescribeSecretRequest,
    ) -> StoreResult<DescribeSecretResponse> {
        self.store.describe_secret(request).await
    }

    pub async fn list_secrets(
        &self,
        _ctx: &RequestContext,
        request: ListSecretsRequest,
    ) -> StoreResult<ListSecretsResponse> {
        self.store.list_secrets(request).await
    }

    pub async fn list_secret_version_ids(
        &self,
        _ctx: &RequestContext,
        request: ListSecretVersionIdsRequest,
    ) -> StoreResult<ListSecretVersionIdsResponse> {
        self.store.list_secret_version_ids(request).await
    }

    pub async fn delete_secret(
        &self,
        _ctx: &RequestContext,
        request: DeleteSecretRequest,
    ) -> StoreResult<DeleteSecretResponse> {
        self.store.delete_secret(request).await
    }

    pub async fn restore_secret(
        &self,
        _ctx: &RequestContext,
        request: RestoreSecretRequest,
    ) -> StoreResult<SecretRef> {
        self.store.restore_secret(request).await
    }

    pub async fn get_random_password(
        &self,
        _ctx: &RequestContext,
        request: GetRandomPasswordRequest,
    ) -> StoreResult<GetRandomPasswordResponse> {
        self.store.get_random_password(request).await
    }

    pub async fn tag_resource(
        &self,
        _ctx: &RequestContext,
        request: TagResourceRequest,
    ) -> StoreResult<Empty> {
        self.store.tag_resource(request).await
    }

    pub async fn untag_resource(
        &self,
        _ctx: &RequestContext,
        request: UntagResourceRequest,
    ) -> StoreResult<Empty> {
        self.store.untag_resource(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_distinct_and_uuid_shaped() {
        let (a, b) = (RequestId::next(), RequestId::next());
        assert_ne!(a, b);
        let text = a.to_string();
        assert_eq!(text.len(), 36);
        assert!(uuid::Uuid::parse_str(&text).is_ok());
    }
}
