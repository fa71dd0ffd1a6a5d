//! The aws backend: every operation passed through to AWS Secrets Manager with
//! aws-sdk-secretsmanager, answers and errors mapped back faithfully.
//!
//! Credentials, region and endpoint come from the standard aws-config chain (environment,
//! profile, instance metadata …), optionally overridden by the configuration. The backend's
//! own failures (unreachable, timed out, credentials refused) surface as
//! `InternalServiceError`, which the cache treats as "serve stale if allowed".

use std::time::Duration;

use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_secretsmanager as sdk;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::primitives::Blob;
use aws_smithy_types::DateTime;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::*;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AwsSettings {
    /// Overrides the region of the credential chain.
    pub region: Option<String>,
    /// Overrides the endpoint (e.g. a VPC endpoint, or moto in tests).
    pub endpoint_url: Option<String>,
    /// A named profile of the shared config files.
    pub profile: Option<String>,
    /// Deadline of one backend call, retries included.
    pub timeout: Duration,
}

/// A [`SecretStore`] backed by AWS Secrets Manager.
#[derive(Clone, Debug)]
pub struct AwsStore {
    client: sdk::Client,
}

impl AwsStore {
    pub async fn connect(settings: &AwsSettings) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(RetryConfig::standard().with_max_attempts(2))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(2))
                    .operation_timeout(settings.timeout)
                    .build(),
            );
        if let Some(region) = &settings.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(endpoint) = &settings.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        if let Some(profile) = &settings.profile {
            loader = loader.profile_name(profile);
        }
        let config = loader.load().await;
        Self {
            client: sdk::Client::new(&config),
        }
    }
}

/// Maps an SDK failure to the service's error. Service errors keep their code and message;
/// transport failures become `InternalServiceError` naming the cause, never a request body.
fn backend_error<E>(err: SdkError<E, aws_smithy_runtime_api::http::Response>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            let meta = service.err().meta();
            let message = meta.message().unwrap_or_default().to_owned();
            let code = meta.code().unwrap_or("UnknownError");
            match ErrorCode::parse(code) {
                Some(code) => StoreError::new(code, message),
                None if code.contains("Throttl") || code == "TooManyRequestsException" => {
                    StoreError::new(ErrorCode::Throttling, message)
                }
                None => {
                    tracing::error!(
                        code,
                        message,
                        "Secrets Manager backend refused the gateway's call"
                    );
                    StoreError::internal(format!("The Secrets Manager backend answered {code}."))
                }
            }
        }
        SdkError::TimeoutError(_) => StoreError::internal("The Secrets Manager backend timed out."),
        SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            tracing::warn!(error = %aws_smithy_types::error::display::DisplayErrorContext(&err), "Secrets Manager backend unreachable");
            StoreError::internal("The Secrets Manager backend is unreachable.")
        }
        _ => StoreError::internal("The call to the Secrets Manager backend could not be made."),
    }
}

fn timestamp(value: Option<&DateTime>) -> Option<Timestamp> {
    value
        .and_then(|t| t.to_millis().ok())
        .map(Timestamp::from_millis)
}

fn tags_in(tags: &[Tag]) -> Vec<sdk::types::Tag> {
    tags.iter()
        .map(|t| {
            sdk::types::Tag::builder()
                .key(&t.key)
                .value(&t.value)
                .build()
        })
        .collect()
}

fn tags_out(tags: &[sdk::types::Tag]) -> Vec<Tag> {
    tags.iter()
        .map(|t| Tag {
            key: t.key().unwrap_or_default().into(),
            value: t.value().unwrap_or_default().into(),
        })
        .collect()
}

fn filters_in(filters: &[Filter]) -> Vec<sdk::types::Filter> {
    filters
        .iter()
        .map(|f| {
            sdk::types::Filter::builder()
                .key(sdk::types::FilterNameStringType::from(f.key.as_str()))
                .set_values(Some(f.values.clone()))
                .build()
        })
        .collect()
}

/// The gateway's rotation settings of a secret in AWS live in tags: AWS's own rotation fields
/// would make AWS invoke a Lambda. Tag values allow only letters, digits, spaces and
/// `+ - = . _ : / @`, so the rules are base64url-encoded JSON.
const TAG_ENABLED: &str = "secrets-gateway:rotation-enabled";
const TAG_PLUGIN: &str = "secrets-gateway:rotation-plugin";
const TAG_RULES: &str = "secrets-gateway:rotation-rules";
const TAG_LAST_ROTATED: &str = "secrets-gateway:last-rotated";
const TAG_NEXT_ROTATION: &str = "secrets-gateway:next-rotation";

/// The tags to set and the tag keys to remove for a change of the rotation settings.
fn rotation_tags(change: &RotationChange) -> (Vec<Tag>, Vec<&'static str>) {
    let tag = |key: &str, value: String| Tag {
        key: key.into(),
        value,
    };
    let millis = |at: Timestamp| at.as_millis().to_string();
    let mut set = Vec::new();
    let mut remove = Vec::new();
    let next = |next_rotation: Option<Timestamp>, set: &mut Vec<Tag>, remove: &mut Vec<_>| {
        match next_rotation {
            Some(next) => set.push(tag(TAG_NEXT_ROTATION, millis(next))),
            None => remove.push(TAG_NEXT_ROTATION),
        }
    };
    match change {
        RotationChange::Configure {
            lambda_arn,
            rules,
            next_rotation,
        } => {
            set.push(tag(TAG_ENABLED, "true".into()));
            set.push(tag(TAG_PLUGIN, lambda_arn.clone()));
            match rules {
                Some(rules) => {
                    let json = serde_json::to_vec(rules).expect("rules serialize");
                    set.push(tag(TAG_RULES, URL_SAFE_NO_PAD.encode(json)));
                }
                None => remove.push(TAG_RULES),
            }
            next(*next_rotation, &mut set, &mut remove);
        }
        RotationChange::Disable => set.push(tag(TAG_ENABLED, "false".into())),
        RotationChange::Rotated { at, next_rotation } => {
            set.push(tag(TAG_LAST_ROTATED, millis(*at)));
            next(*next_rotation, &mut set, &mut remove);
        }
        RotationChange::Reschedule { next_rotation } => {
            next(Some(*next_rotation), &mut set, &mut remove)
        }
    }
    (set, remove)
}

/// Reads the gateway's rotation settings out of the tags (which it then hides), over what
/// AWS reports of its own rotation.
fn rotation_from_tags(mut metadata: SecretMetadata) -> SecretMetadata {
    let mut ours = std::collections::HashMap::new();
    metadata.tags.retain(|tag| {
        let is_ours = tag.key.starts_with("secrets-gateway:");
        if is_ours {
            ours.insert(tag.key.clone(), tag.value.clone());
        }
        !is_ours
    });
    let Some(plugin) = ours.remove(TAG_PLUGIN) else {
        return metadata;
    };
    let millis = |key: &str| {
        ours.get(key)
            .and_then(|value| value.parse().ok())
            .map(Timestamp::from_millis)
    };
    let enabled = ours.get(TAG_ENABLED).map(|value| value == "true");
    metadata.rotation_enabled = enabled;
    metadata.rotation_lambda_arn = Some(plugin);
    metadata.rotation_rules = ours
        .get(TAG_RULES)
        .and_then(|value| URL_SAFE_NO_PAD.decode(value).ok())
        .and_then(|json| serde_json::from_slice(&json).ok());
    metadata.last_rotated_date = millis(TAG_LAST_ROTATED);
    metadata.next_rotation_date = millis(TAG_NEXT_ROTATION).filter(|_| enabled == Some(true));
    metadata
}

fn rules_out(rules: Option<&sdk::types::RotationRulesType>) -> Option<RotationRules> {
    rules.map(|r| RotationRules {
        automatically_after_days: r.automatically_after_days(),
        duration: r.duration().map(Into::into),
        schedule_expression: r.schedule_expression().map(Into::into),
    })
}

fn stages_out(map: Option<&std::collections::HashMap<String, Vec<String>>>) -> VersionStages {
    map.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

fn blob(bytes: Option<SecretBytes>) -> Option<Blob> {
    bytes.map(|b| Blob::new(b.expose().to_vec()))
}

fn reference(arn: Option<&str>, name: Option<&str>) -> SecretRef {
    SecretRef {
        arn: arn.unwrap_or_default().into(),
        name: name.unwrap_or_default().into(),
    }
}

#[allow(clippy::too_many_arguments)]
fn value_out(
    arn: Option<&str>,
    name: Option<&str>,
    version_id: Option<&str>,
    secret_string: Option<&str>,
    secret_binary: Option<&Blob>,
    version_stages: &[String],
    created: Option<&DateTime>,
) -> GetSecretValueResponse {
    GetSecretValueResponse {
        secret: reference(arn, name),
        version_id: version_id.unwrap_or_default().into(),
        secret_string: secret_string.map(SecretText::new),
        secret_binary: secret_binary.map(|b| SecretBytes::new(b.as_ref().to_vec())),
        version_stages: version_stages.to_vec(),
        created_date: timestamp(created).unwrap_or_else(|| Timestamp::from_millis(0)),
    }
}

macro_rules! metadata_out {
    ($entry:expr) => {
        SecretMetadata {
            arn: $entry.arn().unwrap_or_default().into(),
            name: $entry.name().unwrap_or_default().into(),
            description: $entry.description().map(Into::into),
            kms_key_id: $entry.kms_key_id().map(Into::into),
            rotation_enabled: $entry.rotation_enabled(),
            rotation_lambda_arn: $entry.rotation_lambda_arn().map(Into::into),
            rotation_rules: rules_out($entry.rotation_rules()),
            last_rotated_date: timestamp($entry.last_rotated_date()),
            last_changed_date: timestamp($entry.last_changed_date()),
            last_accessed_date: timestamp($entry.last_accessed_date()),
            deleted_date: timestamp($entry.deleted_date()),
            next_rotation_date: timestamp($entry.next_rotation_date()),
            tags: tags_out($entry.tags()),
            owning_service: $entry.owning_service().map(Into::into),
            created_date: timestamp($entry.created_date()),
            primary_region: $entry.primary_region().map(Into::into),
        }
    };
}

#[async_trait]
impl SecretStore for AwsStore {
    async fn create_secret(&self, r: CreateSecretRequest) -> StoreResult<CreateSecretResponse> {
        let out = self
            .client
            .create_secret()
            .name(r.name)
            .set_client_request_token(r.client_request_token)
            .set_description(r.description)
            .set_kms_key_id(r.kms_key_id)
            .set_secret_string(r.secret_string.map(|s| s.expose().to_owned()))
            .set_secret_binary(blob(r.secret_binary))
            .set_tags(Some(tags_in(&r.tags)).filter(|t| !t.is_empty()))
            .set_force_overwrite_replica_secret(r.force_overwrite_replica_secret)
            .send()
            .await
            .map_err(backend_error)?;
        Ok(CreateSecretResponse {
            secret: reference(out.arn(), out.name()),
            version_id: out.version_id().map(Into::into),
        })
    }

    async fn get_secret_value(
        &self,
        r: GetSecretValueRequest,
    ) -> StoreResult<GetSecretValueResponse> {
        // Said out loud, AWSCURRENT means the same to the service, and to moto it means the
        // version UpdateSecretVersionStage moved the label to (its default does not follow).
        let stage = match (&r.version_id, r.version_stage) {
            (None, None) => Some(AWSCURRENT.to_owned()),
            (_, stage) => stage,
        };
        let out = self
            .client
            .get_secret_value()
            .secret_id(r.secret_id)
            .set_version_id(r.version_id)
            .set_version_stage(stage)
            .send()
            .await
            .map_err(backend_error)?;
        Ok(value_out(
            out.arn(),
            out.name(),
            out.version_id(),
            out.secret_string(),
            out.secret_binary(),
            out.version_stages(),
            out.created_date(),
        ))
    }

    async fn batch_get_secret_value(
        &self,
        r: BatchGetSecretValueRequest,
    ) -> StoreResult<BatchGetSecretValueResponse> {
        let out = self
            .client
            .batch_get_secret_value()
            .set_secret_id_list(r.secret_id_list)
            .set_filters(r.filters.as_deref().map(filters_in))
            .set_max_results(r.max_results.map(|m| m as i32))
            .set_next_token(r.next_token)
            .send()
            .await
            .map_err(backend_error)?;
        Ok(BatchGetSecretValueResponse {
            secret_values: out
                .secret_values()
                .iter()
                .map(|v| {
                    value_out(
                        v.arn(),
                        v.name(),
                        v.version_id(),
                        v.secret_string(),
                        v.secret_binary(),
                        v.version_stages(),
                        v.created_date(),
                    )
                })
                .collect(),
            errors: out
                .errors()
                .iter()
                .map(|e| BatchGetError {
                    secret_id: e.secret_id().unwrap_or_default().into(),
                    error_code: e.error_code().unwrap_or_default().into(),
                    message: e.message().unwrap_or_default().into(),
                })
                .collect(),
            next_token: out.next_token().map(Into::into),
        })
    }

    async fn put_secret_value(
        &self,
        r: PutSecretValueRequest,
    ) -> StoreResult<PutSecretValueResponse> {
        let out = self
            .client
            .put_secret_value()
            .secret_id(r.secret_id)
            .set_client_request_token(r.client_request_token)
            .set_secret_string(r.secret_string.map(|s| s.expose().to_owned()))
            .set_secret_binary(blob(r.secret_binary))
            .set_version_stages(r.version_stages)
            .set_rotation_token(r.rotation_token)
            .send()
            .await
            .map_err(backend_error)?;
        Ok(PutSecretValueResponse {
            secret: reference(out.arn(), out.name()),
            version_id: out.version_id().unwrap_or_default().into(),
            version_stages: out.version_stages().to_vec(),
        })
    }

    async fn update_secret(&self, r: UpdateSecretRequest) -> StoreResult<UpdateSecretResponse> {
        let out = self
            .client
            .update_secret()
            .secret_id(r.secret_id)
            .set_client_request_token(r.client_request_token)
            .set_description(r.description)
            .set_kms_key_id(r.kms_key_id)
            .set_secret_string(r.secret_string.map(|s| s.expose().to_owned()))
            .set_secret_binary(blob(r.secret_binary))
            .send()
            .await
            .map_err(backend_error)?;
        Ok(UpdateSecretResponse {
            secret: reference(out.arn(), out.name()),
            version_id: out.version_id().map(Into::into),
        })
    }

    async fn update_secret_version_stage(
        &self,
        r: UpdateSecretVersionStageRequest,
    ) -> StoreResult<SecretRef> {
        let out = self
            .client
            .update_secret_version_stage()
            .secret_id(r.secret_id)
            .version_stage(r.version_stage)
            .set_remove_from_version_id(r.remove_from_version_id)
            .set_move_to_version_id(r.move_to_version_id)
            .send()
            .await
            .map_err(backend_error)?;
        Ok(reference(out.arn(), out.name()))
    }

    async fn describe_secret(
        &self,
        r: DescribeSecretRequest,
    ) -> StoreResult<DescribeSecretResponse> {
        let out = self
            .client
            .describe_secret()
            .secret_id(r.secret_id)
            .send()
            .await
            .map_err(backend_error)?;
        Ok(DescribeSecretResponse {
            metadata: rotation_from_tags(metadata_out!(out)),
            version_ids_to_stages: stages_out(out.version_ids_to_stages()),
        })
    }

    async fn list_secrets(&self, r: ListSecretsRequest) -> StoreResult<ListSecretsResponse> {
        let out = self
            .client
            .list_secrets()
            .set_include_planned_deletion(r.include_planned_deletion)
            .set_max_results(r.max_results.map(|m| m as i32))
            .set_next_token(r.next_token)
            .set_filters(Some(filters_in(&r.filters)).filter(|f| !f.is_empty()))
            .set_sort_order(r.sort_order.map(|o| match o {
                SortOrder::Asc => sdk::types::SortOrderType::Asc,
                SortOrder::Desc => sdk::types::SortOrderType::Desc,
            }))
            .send()
            .await
            .map_err(backend_error)?;
        Ok(ListSecretsResponse {
            secret_list: out
                .secret_list()
                .iter()
                .map(|entry| SecretListEntry {
                    metadata: rotation_from_tags(metadata_out!(entry)),
                    secret_versions_to_stages: stages_out(entry.secret_versions_to_stages()),
                })
                .collect(),
            next_token: out.next_token().map(Into::into),
        })
    }

    async fn list_secret_version_ids(
        &self,
        r: ListSecretVersionIdsRequest,
    ) -> StoreResult<ListSecretVersionIdsResponse> {
        let out = self
            .client
            .list_secret_version_ids()
            .secret_id(r.secret_id)
            .set_max_results(r.max_results.map(|m| m as i32))
            .set_next_token(r.next_token)
            .set_include_deprecated(r.include_deprecated)
            .send()
            .await
            .map_err(backend_error)?;
        Ok(ListSecretVersionIdsResponse {
            versions: out
                .versions()
                .iter()
                .map(|v| SecretVersionsListEntry {
                    version_id: v.version_id().unwrap_or_default().into(),
                    version_stages: v.version_stages().to_vec(),
                    last_accessed_date: timestamp(v.last_accessed_date()),
                    created_date: timestamp(v.created_date())
                        .unwrap_or_else(|| Timestamp::from_millis(0)),
                    kms_key_ids: v.kms_key_ids().to_vec(),
                })
                .collect(),
            next_token: out.next_token().map(Into::into),
            arn: out.arn().unwrap_or_default().into(),
            name: out.name().unwrap_or_default().into(),
        })
    }

    async fn delete_secret(&self, r: DeleteSecretRequest) -> StoreResult<DeleteSecretResponse> {
        let out = self
            .client
            .delete_secret()
            .secret_id(r.secret_id)
            .set_recovery_window_in_days(r.recovery_window_in_days)
            .set_force_delete_without_recovery(r.force_delete_without_recovery)
            .send()
            .await
            .map_err(backend_error)?;
        Ok(DeleteSecretResponse {
            secret: reference(out.arn(), out.name()),
            deletion_date: timestamp(out.deletion_date()).unwrap_or_else(Timestamp::now),
        })
    }

    async fn restore_secret(&self, r: RestoreSecretRequest) -> StoreResult<SecretRef> {
        let out = self
            .client
            .restore_secret()
            .secret_id(r.secret_id)
            .send()
            .await
            .map_err(backend_error)?;
        Ok(reference(out.arn(), out.name()))
    }

    async fn get_random_password(
        &self,
        r: GetRandomPasswordRequest,
    ) -> StoreResult<GetRandomPasswordResponse> {
        let out = self
            .client
            .get_random_password()
            .set_password_length(r.password_length)
            .set_exclude_characters(r.exclude_characters)
            .set_exclude_numbers(r.exclude_numbers)
            .set_exclude_punctuation(r.exclude_punctuation)
            .set_exclude_uppercase(r.exclude_uppercase)
            .set_exclude_lowercase(r.exclude_lowercase)
            .set_include_space(r.include_space)
            .set_require_each_included_type(r.require_each_included_type)
            .send()
            .await
            .map_err(backend_error)?;
        Ok(GetRandomPasswordResponse {
            random_password: SecretText::new(out.random_password().unwrap_or_default()),
        })
    }

    async fn tag_resource(&self, r: TagResourceRequest) -> StoreResult<Empty> {
        self.client
            .tag_resource()
            .secret_id(r.secret_id)
            .set_tags(Some(tags_in(&r.tags)))
            .send()
            .await
            .map_err(backend_error)?;
        Ok(Empty {})
    }

    async fn update_rotation(&self, request: UpdateRotationRequest) -> StoreResult<SecretRef> {
        let (set, remove) = rotation_tags(&request.change);
        if !set.is_empty() {
            self.tag_resource(TagResourceRequest {
                secret_id: request.secret_id.clone(),
                tags: set,
            })
            .await?;
        }
        if !remove.is_empty() {
            self.untag_resource(UntagResourceRequest {
                secret_id: request.secret_id.clone(),
                tag_keys: remove.iter().map(|key| key.to_string()).collect(),
            })
            .await?;
        }
        let described = self
            .describe_secret(DescribeSecretRequest {
                secret_id: request.secret_id,
            })
            .await?;
        Ok(SecretRef {
            arn: described.metadata.arn,
            name: described.metadata.name,
        })
    }

    async fn untag_resource(&self, r: UntagResourceRequest) -> StoreResult<Empty> {
        self.client
            .untag_resource()
            .secret_id(r.secret_id)
            .set_tag_keys(Some(r.tag_keys))
            .send()
            .await
            .map_err(backend_error)?;
        Ok(Empty {})
    }

    async fn check_ready(&self) -> StoreResult<()> {
        self.client
            .list_secrets()
            .max_results(1)
            .send()
            .await
            .map_err(backend_error)?;
        Ok(())
    }
}
