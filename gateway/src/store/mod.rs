//! Where secrets live: the Secrets Manager operations as a Rust trait, and its backends.
//!
//! Nothing here knows about HTTP or plugins. A backend answers every operation with the
//! service's semantics and errors, so the layers above never need to know which one runs.

pub mod arn;
pub mod aws;
pub mod embedded;
mod error;
pub mod filter;
mod model;
pub mod password;
pub mod validate;
mod value;

use async_trait::async_trait;

pub use error::{ErrorCode, StoreError, StoreResult};
pub use model::*;
pub use value::{SecretBytes, SecretText, SecretValue, ValueKind};

/// The staging label of the version callers get by default.
pub const AWSCURRENT: &str = "AWSCURRENT";
/// The label the former `AWSCURRENT` version receives when another version takes it.
pub const AWSPREVIOUS: &str = "AWSPREVIOUS";
/// The label of the version a rotation is preparing.
pub const AWSPENDING: &str = "AWSPENDING";

/// The operations of Secrets Manager.
///
/// Each method takes the operation's request and answers its response or the service's error.
/// Implementations validate their input as the service does and keep its invariants: a label
/// sits on at most one version, and a secret with versions has exactly one `AWSCURRENT`.
#[async_trait]
pub trait SecretStore: Send + Sync + 'static {
    async fn create_secret(
        &self,
        request: CreateSecretRequest,
    ) -> StoreResult<CreateSecretResponse>;

    async fn get_secret_value(
        &self,
        request: GetSecretValueRequest,
    ) -> StoreResult<GetSecretValueResponse>;

    async fn batch_get_secret_value(
        &self,
        request: BatchGetSecretValueRequest,
    ) -> StoreResult<BatchGetSecretValueResponse>;

    async fn put_secret_value(
        &self,
        request: PutSecretValueRequest,
    ) -> StoreResult<PutSecretValueResponse>;

    async fn update_secret(
        &self,
        request: UpdateSecretRequest,
    ) -> StoreResult<UpdateSecretResponse>;

    async fn update_secret_version_stage(
        &self,
        request: UpdateSecretVersionStageRequest,
    ) -> StoreResult<SecretRef>;

    async fn describe_secret(
        &self,
        request: DescribeSecretRequest,
    ) -> StoreResult<DescribeSecretResponse>;

    async fn list_secrets(&self, request: ListSecretsRequest) -> StoreResult<ListSecretsResponse>;

    async fn list_secret_version_ids(
        &self,
        request: ListSecretVersionIdsRequest,
    ) -> StoreResult<ListSecretVersionIdsResponse>;

    async fn delete_secret(
        &self,
        request: DeleteSecretRequest,
    ) -> StoreResult<DeleteSecretResponse>;

    async fn restore_secret(&self, request: RestoreSecretRequest) -> StoreResult<SecretRef>;

    async fn get_random_password(
        &self,
        request: GetRandomPasswordRequest,
    ) -> StoreResult<GetRandomPasswordResponse>;

    async fn tag_resource(&self, request: TagResourceRequest) -> StoreResult<Empty>;

    async fn untag_resource(&self, request: UntagResourceRequest) -> StoreResult<Empty>;

    /// Changes the rotation settings DescribeSecret reports (RotationEnabled,
    /// RotationLambdaARN, RotationRules, LastRotatedDate, NextRotationDate).
    async fn update_rotation(&self, request: UpdateRotationRequest) -> StoreResult<SecretRef>;

    /// Whether the backend can answer requests now (for readiness probes).
    async fn check_ready(&self) -> StoreResult<()>;
}
