//! The gRPC surface (`secretsgateway.v1.Secrets`, see `proto/`), served on the mTLS listener
//! beside the Secrets Manager protocol: HTTP/2 by ALPN, the caller's identity from its client
//! certificate, every call through the [`SecretsService`] like the other surfaces. Also the
//! standard `grpc.health.v1` and server reflection services.

use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use futures_util::Stream;
use secrets_gateway_proto as proto;
use secrets_gateway_proto::secrets_server::{Secrets, SecretsServer};
use tokio::sync::broadcast::error::RecvError;
use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status};

use crate::cache::Freshness;
use crate::metrics::Surface;
use crate::service::{Operation, RequestContext, SecretsService};
use crate::store::{self, AWSCURRENT, ErrorCode, StoreError, StoreResult, Timestamp};
use crate::tls::SharedPeer;

/// The routes of the gRPC services, to merge into the mTLS listener's router.
pub async fn routes(service: SecretsService) -> Router {
    let (health_reporter, health) = tonic_health::server::health_reporter();
    // The secrets service answers as long as the process does; readiness of the backend is
    // what /readyz reports.
    health_reporter
        .set_serving::<SecretsServer<GrpcSecrets>>()
        .await;
    // Both reflection versions, as grpcurl and older tools each ask one.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let invalid = "the descriptor sets are generated and valid";
    tonic::service::Routes::new(SecretsServer::new(GrpcSecrets { service }))
        .add_service(health)
        .add_service(reflection().build_v1().expect(invalid))
        .add_service(reflection().build_v1alpha().expect(invalid))
        .into_axum_router()
}

#[derive(Clone)]
pub struct GrpcSecrets {
    service: SecretsService,
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<proto::SecretChange, Status>> + Send>>;

#[tonic::async_trait]
impl Secrets for GrpcSecrets {
    async fn get_secret_value(
        &self,
        request: Request<proto::GetSecretValueRequest>,
    ) -> Result<Response<proto::SecretValue>, Status> {
        let (ctx, request) = context(request)?;
        let request = store::GetSecretValueRequest {
            secret_id: request.secret_id,
            version_id: non_empty(request.version_id),
            version_stage: non_empty(request.version_stage),
        };
        let result = self
            .service
            .get_secret_value(&ctx, request, Freshness::Cached)
            .await
            .map(|secret| secret_value(&secret.response));
        self.answer(&ctx, Operation::GetSecretValue, result)
    }

    async fn batch_get_secret_value(
        &self,
        request: Request<proto::BatchGetSecretValueRequest>,
    ) -> Result<Response<proto::BatchGetSecretValueResponse>, Status> {
        let (ctx, request) = context(request)?;
        let request = store::BatchGetSecretValueRequest {
            secret_id_list: Some(request.secret_ids),
            ..store::BatchGetSecretValueRequest::default()
        };
        let result = self
            .service
            .batch_get_secret_value(&ctx, request)
            .await
            .map(|response| proto::BatchGetSecretValueResponse {
                values: response.secret_values.iter().map(secret_value).collect(),
                errors: response
                    .errors
                    .into_iter()
                    .map(|error| proto::SecretError {
                        secret_id: error.secret_id,
                        error_code: error.error_code,
                        message: error.message,
                    })
                    .collect(),
            });
        self.answer(&ctx, Operation::BatchGetSecretValue, result)
    }

    async fn describe_secret(
        &self,
        request: Request<proto::DescribeSecretRequest>,
    ) -> Result<Response<proto::SecretDescription>, Status> {
        let (ctx, request) = context(request)?;
        let request = store::DescribeSecretRequest {
            secret_id: request.secret_id,
        };
        let result = self
            .service
            .describe_secret(&ctx, request)
            .await
            .map(|described| description(described.metadata, described.version_ids_to_stages));
        self.answer(&ctx, Operation::DescribeSecret, result)
    }

    async fn list_secrets(
        &self,
        request: Request<proto::ListSecretsRequest>,
    ) -> Result<Response<proto::ListSecretsResponse>, Status> {
        let (ctx, request) = context(request)?;
        let request = store::ListSecretsRequest {
            max_results: (request.max_results > 0).then_some(i64::from(request.max_results)),
            next_token: non_empty(request.next_token),
            ..store::ListSecretsRequest::default()
        };
        let result = self
            .service
            .list_secrets(&ctx, request)
            .await
            .map(|listed| proto::ListSecretsResponse {
                secrets: listed
                    .secret_list
                    .into_iter()
                    .map(|entry| description(entry.metadata, entry.secret_versions_to_stages))
                    .collect(),
                next_token: listed.next_token.unwrap_or_default(),
            });
        self.answer(&ctx, Operation::ListSecrets, result)
    }

    async fn put_secret_value(
        &self,
        request: Request<proto::PutSecretValueRequest>,
    ) -> Result<Response<proto::PutSecretValueResponse>, Status> {
        let (ctx, request) = context(request)?;
        let (secret_string, secret_binary) = match request.value {
            Some(proto::put_secret_value_request::Value::SecretString(text)) => {
                (Some(store::SecretText::new(text)), None)
            }
            Some(proto::put_secret_value_request::Value::SecretBinary(bytes)) => {
                (None, Some(store::SecretBytes::new(bytes)))
            }
            None => (None, None),
        };
        let request = store::PutSecretValueRequest {
            secret_id: request.secret_id,
            client_request_token: non_empty(request.client_request_token),
            secret_string,
            secret_binary,
            version_stages: (!request.version_stages.is_empty()).then_some(request.version_stages),
            rotation_token: None,
        };
        let result = self
            .service
            .put_secret_value(&ctx, request)
            .await
            .map(|put| proto::PutSecretValueResponse {
                arn: put.secret.arn,
                name: put.secret.name,
                version_id: put.version_id,
                version_stages: put.version_stages,
            });
        self.answer(&ctx, Operation::PutSecretValue, result)
    }

    async fn rotate_secret(
        &self,
        request: Request<proto::RotateSecretRequest>,
    ) -> Result<Response<proto::RotateSecretResponse>, Status> {
        let (ctx, request) = context(request)?;
        let rules = match (
            request.schedule_expression.is_empty(),
            request.automatically_after_days,
        ) {
            (true, 0) => None,
            (schedule_empty, days) => Some(store::RotationRules {
                automatically_after_days: (days > 0).then_some(i64::from(days)),
                duration: None,
                schedule_expression: (!schedule_empty).then_some(request.schedule_expression),
            }),
        };
        let request = store::RotateSecretRequest {
            secret_id: request.secret_id,
            client_request_token: non_empty(request.client_request_token),
            rotation_lambda_arn: non_empty(request.rotation_lambda_arn),
            rotation_rules: rules,
            rotate_immediately: Some(request.rotate_immediately),
        };
        let result = self
            .service
            .rotate_secret(&ctx, request)
            .await
            .map(|rotated| proto::RotateSecretResponse {
                arn: rotated.arn,
                name: rotated.name,
                version_id: rotated.version_id.unwrap_or_default(),
            });
        self.answer(&ctx, Operation::RotateSecret, result)
    }

    type WatchSecretStream = WatchStream;

    async fn watch_secret(
        &self,
        request: Request<proto::WatchSecretRequest>,
    ) -> Result<Response<WatchStream>, Status> {
        let (ctx, request) = context(request)?;
        let subscribed = self.service.watch_secret(&ctx, request.secret_id).await;
        let (described, changes) = self
            .answer(&ctx, Operation::DescribeSecret, subscribed)?
            .into_inner();
        let watcher = Watcher {
            service: self.service.clone(),
            ctx,
            arn: Arc::from(described.metadata.arn.as_str()),
            name: described.metadata.name,
            pushed: None,
        };
        Ok(Response::new(Box::pin(watcher.run(changes))))
    }
}

impl GrpcSecrets {
    /// Counts the call and turns the service's answer into gRPC's.
    fn answer<T>(
        &self,
        ctx: &RequestContext,
        operation: Operation,
        result: StoreResult<T>,
    ) -> Result<Response<T>, Status> {
        let outcome = result.as_ref().map(drop).map_err(|err| err.code.as_str());
        self.service.metrics().request(
            Surface::Grpc,
            Some(operation),
            outcome,
            ctx.started.elapsed().as_secs_f64(),
        );
        result.map(Response::new).map_err(status)
    }
}

/// One WatchSecret subscription: pushes AWSCURRENT when it is not the version last pushed.
struct Watcher {
    service: SecretsService,
    ctx: RequestContext,
    arn: Arc<str>,
    name: String,
    pushed: Option<String>,
}

impl Watcher {
    fn run(
        mut self,
        mut changes: tokio::sync::broadcast::Receiver<Arc<str>>,
    ) -> impl Stream<Item = Result<proto::SecretChange, Status>> + Send {
        async_stream::try_stream! {
            loop {
                if let Some(change) = self.current().await? {
                    yield change;
                }
                loop {
                    match changes.recv().await {
                        Ok(arn) if arn == self.arn => break,
                        Ok(_) => {}
                        // Fell behind: whatever was missed, look again.
                        Err(RecvError::Lagged(_)) => break,
                        Err(RecvError::Closed) => return,
                    }
                }
            }
        }
    }

    /// AWSCURRENT as a change to push, or none when it is the version already pushed.
    async fn current(&mut self) -> Result<Option<proto::SecretChange>, Status> {
        let versions = self.service.versions_of(&self.arn).await.map_err(status)?;
        let Some(current) = versions
            .version_ids_to_stages
            .iter()
            .find(|(_, stages)| stages.iter().any(|stage| stage == AWSCURRENT))
            .map(|(version_id, _)| version_id.clone())
        else {
            return Ok(None);
        };
        if self.pushed.as_deref() == Some(current.as_str()) {
            return Ok(None);
        }
        let mut change = proto::SecretChange {
            arn: self.arn.to_string(),
            name: self.name.clone(),
            version_id: current.clone(),
            value: None,
            value_withheld: true,
        };
        if self
            .service
            .allows(&self.ctx, Operation::GetSecretValue, &self.name)
        {
            let request = store::GetSecretValueRequest {
                secret_id: self.arn.to_string(),
                version_id: Some(current.clone()),
                version_stage: None,
            };
            let ctx = RequestContext::new(Arc::clone(&self.ctx.peer), Surface::Grpc);
            let secret = self
                .service
                .get_secret_value(&ctx, request, Freshness::Cached)
                .await
                .map_err(status)?;
            change.value = Some(secret_value(&secret.response));
            change.value_withheld = false;
        }
        self.pushed = Some(current);
        Ok(Some(change))
    }
}

/// The caller, from its connection, and the request's message.
fn context<T>(request: Request<T>) -> Result<(RequestContext, T), Status> {
    let peer = request
        .extensions()
        .get::<SharedPeer>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("No caller identity."))?;
    Ok((
        RequestContext::new(peer, Surface::Grpc),
        request.into_inner(),
    ))
}

fn non_empty(value: String) -> Option<String> {
    (!value.is_empty()).then_some(value)
}

fn millis(timestamp: Option<Timestamp>) -> i64 {
    timestamp.map_or(0, Timestamp::as_millis)
}

fn secret_value(response: &store::GetSecretValueResponse) -> proto::SecretValue {
    let value = match (&response.secret_string, &response.secret_binary) {
        (Some(text), _) => Some(proto::secret_value::Value::SecretString(
            text.expose().to_owned(),
        )),
        (None, Some(bytes)) => Some(proto::secret_value::Value::SecretBinary(
            bytes.expose().to_vec(),
        )),
        (None, None) => None,
    };
    proto::SecretValue {
        arn: response.secret.arn.clone(),
        name: response.secret.name.clone(),
        version_id: response.version_id.clone(),
        version_stages: response.version_stages.clone(),
        value,
        created_date_unix_millis: response.created_date.as_millis(),
    }
}

fn description(
    metadata: store::SecretMetadata,
    versions: store::VersionStages,
) -> proto::SecretDescription {
    proto::SecretDescription {
        arn: metadata.arn,
        name: metadata.name,
        description: metadata.description.unwrap_or_default(),
        version_ids_to_stages: versions
            .into_iter()
            .map(|(version_id, stages)| (version_id, proto::StageList { stages }))
            .collect(),
        rotation_enabled: metadata.rotation_enabled.unwrap_or(false),
        rotation_lambda_arn: metadata.rotation_lambda_arn.unwrap_or_default(),
        last_changed_date_unix_millis: millis(metadata.last_changed_date),
        last_rotated_date_unix_millis: millis(metadata.last_rotated_date),
        next_rotation_date_unix_millis: millis(metadata.next_rotation_date),
    }
}

/// A Secrets Manager error as a gRPC status, its name in the `x-sm-error` metadata.
fn status(err: StoreError) -> Status {
    use tonic::Code;
    let code = match err.code {
        ErrorCode::ResourceNotFound => Code::NotFound,
        ErrorCode::AccessDenied => Code::PermissionDenied,
        ErrorCode::InvalidParameter
        | ErrorCode::Validation
        | ErrorCode::InvalidNextToken
        | ErrorCode::MalformedPolicyDocument => Code::InvalidArgument,
        ErrorCode::InvalidRequest | ErrorCode::PreconditionNotMet => Code::FailedPrecondition,
        ErrorCode::ResourceExists => Code::AlreadyExists,
        ErrorCode::LimitExceeded | ErrorCode::Throttling => Code::ResourceExhausted,
        // The backend failed (the aws backend unreachable, the audit trail refusing): retry.
        ErrorCode::InternalServiceError => Code::Unavailable,
        ErrorCode::EncryptionFailure | ErrorCode::DecryptionFailure => Code::Internal,
    };
    let mut status = Status::new(code, err.message);
    status
        .metadata_mut()
        .insert("x-sm-error", MetadataValue::from_static(err.code.as_str()));
    status
}
