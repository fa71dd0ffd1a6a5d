//! The one door every API surface goes through on its way to the store.
//!
//! The Secrets Manager protocol, the Agent endpoint and gRPC all call [`SecretsService`], so a
//! rule enforced here holds on every surface.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use tokio::sync::broadcast;

pub use crate::operation::Operation;

use crate::audit::{self, AuditLog, Outcome, Record};
use crate::authz::{Authorizer, Decision, Resource};
use crate::cache::{CachedSecret, Freshness, SecretCache};
use crate::metrics::{SharedMetrics, Surface};
use crate::rotation::Rotations;
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

/// Who is asking, on which connection and surface, since when.
#[derive(Clone, Debug)]
pub struct RequestContext {
    pub peer: SharedPeer,
    pub surface: Surface,
    pub request_id: RequestId,
    pub started: Instant,
}

impl RequestContext {
    pub fn new(peer: SharedPeer, surface: Surface) -> Self {
        Self {
            peer,
            surface,
            request_id: RequestId::next(),
            started: Instant::now(),
        }
    }

    fn identity(&self) -> &str {
        &self.peer.identity.name
    }
}

/// What an audit record says about the secret a request touched.
#[derive(Clone, Copy, Default)]
struct Subject<'a> {
    secret: Option<&'a str>,
    arn: Option<&'a str>,
    version_id: Option<&'a str>,
    version_stages: &'a [String],
}

impl<'a> Subject<'a> {
    fn named(secret: &'a str) -> Self {
        Self {
            secret: Some(secret),
            ..Self::default()
        }
    }

    fn of(secret: &'a SecretRef) -> Self {
        Self::at(&secret.name, &secret.arn)
    }

    fn at(name: &'a str, arn: &'a str) -> Self {
        Self {
            secret: Some(name),
            arn: Some(arn),
            ..Self::default()
        }
    }

    fn version(self, version_id: Option<&'a str>, version_stages: &'a [String]) -> Self {
        Self {
            version_id,
            version_stages,
            ..self
        }
    }

    /// This subject, with `fallback`'s fields where this one has none.
    fn or(self, fallback: Subject<'a>) -> Subject<'a> {
        Subject {
            secret: self.secret.or(fallback.secret),
            arn: self.arn.or(fallback.arn),
            version_id: self.version_id.or(fallback.version_id),
            version_stages: match self.version_stages {
                [] => fallback.version_stages,
                stages => stages,
            },
        }
    }
}

/// What an operation's answer tells the audit trail.
trait Audited {
    fn subject(&self) -> Subject<'_>;
}

impl Audited for SecretRef {
    fn subject(&self) -> Subject<'_> {
        Subject::of(self)
    }
}

impl Audited for CreateSecretResponse {
    fn subject(&self) -> Subject<'_> {
        Subject::of(&self.secret).version(self.version_id.as_deref(), &[])
    }
}

impl Audited for UpdateSecretResponse {
    fn subject(&self) -> Subject<'_> {
        Subject::of(&self.secret).version(self.version_id.as_deref(), &[])
    }
}

impl Audited for PutSecretValueResponse {
    fn subject(&self) -> Subject<'_> {
        Subject::of(&self.secret).version(Some(&self.version_id), &self.version_stages)
    }
}

impl Audited for DescribeSecretResponse {
    fn subject(&self) -> Subject<'_> {
        Subject::at(&self.metadata.name, &self.metadata.arn)
    }
}

impl Audited for ListSecretVersionIdsResponse {
    fn subject(&self) -> Subject<'_> {
        Subject::at(&self.name, &self.arn)
    }
}

impl Audited for DeleteSecretResponse {
    fn subject(&self) -> Subject<'_> {
        Subject::of(&self.secret)
    }
}

impl Audited for RotateSecretResponse {
    fn subject(&self) -> Subject<'_> {
        Subject::at(&self.name, &self.arn).version(self.version_id.as_deref(), &[])
    }
}

impl Audited for Empty {
    fn subject(&self) -> Subject<'_> {
        Subject::default()
    }
}

/// The secrets operations, as every surface sees them: each call is authorized against the
/// policy, runs through the cache and the store, and is audited before its answer is
/// returned.
#[derive(Clone)]
pub struct SecretsService {
    store: Arc<SecretCache>,
    metrics: SharedMetrics,
    authz: Arc<Authorizer>,
    audit: Arc<AuditLog>,
    rotations: Option<Arc<Rotations>>,
}

impl SecretsService {
    pub fn new(
        store: Arc<SecretCache>,
        metrics: SharedMetrics,
        authz: Arc<Authorizer>,
        audit: Arc<AuditLog>,
    ) -> Self {
        Self {
            store,
            metrics,
            authz,
            audit,
            rotations: None,
        }
    }

    /// Serves RotateSecret and CancelRotateSecret with `rotations`.
    pub fn with_rotations(mut self, rotations: Arc<Rotations>) -> Self {
        self.rotations = Some(rotations);
        self
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

    /// Audits a request refused before it reached an operation (an unknown operation, a body
    /// that does not decode, a wrong Agent token). An error means the audit record could not
    /// be written and the caller must answer with it instead.
    pub fn audit_refused(
        &self,
        ctx: &RequestContext,
        operation: Option<Operation>,
        code: &str,
    ) -> StoreResult<()> {
        let operation = operation.map_or("Unknown", Operation::as_str);
        self.write_audit(ctx, operation, Subject::default(), Err(code), None)
    }

    pub async fn create_secret(
        &self,
        ctx: &RequestContext,
        request: CreateSecretRequest,
    ) -> StoreResult<CreateSecretResponse> {
        let name = request.name.clone();
        self.on_secret(
            ctx,
            Operation::CreateSecret,
            &name,
            Subject::default(),
            self.store.create_secret(request),
        )
        .await
    }

    /// The hot path. A request by name is authorized before the cache is consulted; one by
    /// ARN after, against the name the store answers with, which saves a lookup per read.
    pub async fn get_secret_value(
        &self,
        ctx: &RequestContext,
        request: GetSecretValueRequest,
        freshness: Freshness,
    ) -> StoreResult<Arc<CachedSecret>> {
        let operation = Operation::GetSecretValue;
        let secret_id = request.secret_id.clone();
        let by_arn = is_arn(&secret_id);
        let early = match by_arn {
            false => Some(self.authorize(ctx, operation, Resource::Secret(&secret_id))?),
            true => None,
        };
        let result = self.store.get(request, freshness).await;
        let statement = match (early, &result) {
            (Some(statement), _) => statement,
            (None, Ok(secret)) => self.authorize(
                ctx,
                operation,
                Resource::Secret(&secret.response.secret.name),
            )?,
            (None, Err(_)) => {
                self.authorize(ctx, operation, Resource::Secret(name_in_arn(&secret_id)))?
            }
        };
        let subject = match &result {
            Ok(secret) => {
                let response = &secret.response;
                Subject::of(&response.secret)
                    .version(Some(&response.version_id), &response.version_stages)
            }
            Err(_) => Subject::named(&secret_id),
        };
        self.audit_result(ctx, operation, subject, &result, &statement)?;
        result
    }

    /// Each returned secret is authorized for GetSecretValue and audited on its own line;
    /// a secret the caller may not read comes back in `Errors` as AccessDeniedException.
    pub async fn batch_get_secret_value(
        &self,
        ctx: &RequestContext,
        request: BatchGetSecretValueRequest,
    ) -> StoreResult<BatchGetSecretValueResponse> {
        let operation = Operation::BatchGetSecretValue;
        let mut response = self
            .filtered(ctx, operation, self.store.batch_get_secret_value(request))
            .await?;
        let policy = self.authz.policy();
        let read = Operation::GetSecretValue;
        let mut values = Vec::with_capacity(response.secret_values.len());
        for value in std::mem::take(&mut response.secret_values) {
            let subject =
                Subject::of(&value.secret).version(Some(&value.version_id), &value.version_stages);
            match policy.decide(ctx.identity(), read, Resource::Secret(&value.secret.name)) {
                Decision::Allow { sid } => {
                    self.write_audit(ctx, operation.as_str(), subject, Ok(()), Some(&sid))?;
                    values.push(value);
                }
                decision => {
                    let sid = decision_sid(&decision);
                    self.write_audit_denied(ctx, operation.as_str(), subject, sid)?;
                    response.errors.push(BatchGetError {
                        message: denied_message(ctx, read, &value.secret.name),
                        error_code: ErrorCode::AccessDenied.as_str().into(),
                        secret_id: value.secret.name.clone(),
                    });
                }
            }
        }
        for error in &mut response.errors {
            let name = name_in_arn(&error.secret_id);
            let allowed = policy
                .decide(ctx.identity(), read, Resource::Secret(name))
                .is_allowed();
            if !allowed && error.error_code != ErrorCode::AccessDenied.as_str() {
                // Not being allowed to read a secret must not tell whether it exists.
                self.write_audit_denied(ctx, operation.as_str(), Subject::named(name), None)?;
                error.error_code = ErrorCode::AccessDenied.as_str().into();
                error.message = denied_message(ctx, read, &error.secret_id);
            }
        }
        if values.is_empty() && response.errors.is_empty() {
            self.write_audit(ctx, operation.as_str(), Subject::default(), Ok(()), None)?;
        }
        response.secret_values = values;
        Ok(response)
    }

    pub async fn put_secret_value(
        &self,
        ctx: &RequestContext,
        request: PutSecretValueRequest,
    ) -> StoreResult<PutSecretValueResponse> {
        let secret_id = request.secret_id.clone();
        self.on_secret(
            ctx,
            Operation::PutSecretValue,
            &secret_id,
            Subject::default(),
            self.store.put_secret_value(request),
        )
        .await
    }

    pub async fn update_secret(
        &self,
        ctx: &RequestContext,
        request: UpdateSecretRequest,
    ) -> StoreResult<UpdateSecretResponse> {
        let secret_id = request.secret_id.clone();
        self.on_secret(
            ctx,
            Operation::UpdateSecret,
            &secret_id,
            Subject::default(),
            self.store.update_secret(request),
        )
        .await
    }

    pub async fn update_secret_version_stage(
        &self,
        ctx: &RequestContext,
        request: UpdateSecretVersionStageRequest,
    ) -> StoreResult<SecretRef> {
        let secret_id = request.secret_id.clone();
        let version_id = request.move_to_version_id.clone();
        let stage = [request.version_stage.clone()];
        self.on_secret(
            ctx,
            Operation::UpdateSecretVersionStage,
            &secret_id,
            Subject::default().version(version_id.as_deref(), &stage),
            self.store.update_secret_version_stage(request),
        )
        .await
    }

    pub async fn describe_secret(
        &self,
        ctx: &RequestContext,
        request: DescribeSecretRequest,
    ) -> StoreResult<DescribeSecretResponse> {
        let secret_id = request.secret_id.clone();
        self.on_secret(
            ctx,
            Operation::DescribeSecret,
            &secret_id,
            Subject::default(),
            self.store.describe_secret(request),
        )
        .await
    }

    /// Lists only the secrets the caller may list, each audited on its own line.
    pub async fn list_secrets(
        &self,
        ctx: &RequestContext,
        request: ListSecretsRequest,
    ) -> StoreResult<ListSecretsResponse> {
        let operation = Operation::ListSecrets;
        let mut response = self
            .filtered(ctx, operation, self.store.list_secrets(request))
            .await?;
        let policy = self.authz.policy();
        let mut listed = Vec::with_capacity(response.secret_list.len());
        for entry in std::mem::take(&mut response.secret_list) {
            let name = &entry.metadata.name;
            if let Decision::Allow { sid } =
                policy.decide(ctx.identity(), operation, Resource::Secret(name))
            {
                let subject = Subject::at(name, &entry.metadata.arn);
                self.write_audit(ctx, operation.as_str(), subject, Ok(()), Some(&sid))?;
                listed.push(entry);
            }
        }
        if listed.is_empty() {
            self.write_audit(ctx, operation.as_str(), Subject::default(), Ok(()), None)?;
        }
        response.secret_list = listed;
        Ok(response)
    }

    pub async fn list_secret_version_ids(
        &self,
        ctx: &RequestContext,
        request: ListSecretVersionIdsRequest,
    ) -> StoreResult<ListSecretVersionIdsResponse> {
        let secret_id = request.secret_id.clone();
        self.on_secret(
            ctx,
            Operation::ListSecretVersionIds,
            &secret_id,
            Subject::default(),
            self.store.list_secret_version_ids(request),
        )
        .await
    }

    pub async fn delete_secret(
        &self,
        ctx: &RequestContext,
        request: DeleteSecretRequest,
    ) -> StoreResult<DeleteSecretResponse> {
        let secret_id = request.secret_id.clone();
        self.on_secret(
            ctx,
            Operation::DeleteSecret,
            &secret_id,
            Subject::default(),
            self.store.delete_secret(request),
        )
        .await
    }

    pub async fn restore_secret(
        &self,
        ctx: &RequestContext,
        request: RestoreSecretRequest,
    ) -> StoreResult<SecretRef> {
        let secret_id = request.secret_id.clone();
        self.on_secret(
            ctx,
            Operation::RestoreSecret,
            &secret_id,
            Subject::default(),
            self.store.restore_secret(request),
        )
        .await
    }

    pub async fn get_random_password(
        &self,
        ctx: &RequestContext,
        request: GetRandomPasswordRequest,
    ) -> StoreResult<GetRandomPasswordResponse> {
        let operation = Operation::GetRandomPassword;
        let statement = self.authorize(ctx, operation, Resource::Account)?;
        let result = self.store.get_random_password(request).await;
        self.audit_result(ctx, operation, Subject::default(), &result, &statement)?;
        result
    }

    pub async fn tag_resource(
        &self,
        ctx: &RequestContext,
        request: TagResourceRequest,
    ) -> StoreResult<Empty> {
        let secret_id = request.secret_id.clone();
        self.on_secret(
            ctx,
            Operation::TagResource,
            &secret_id,
            Subject::default(),
            self.store.tag_resource(request),
        )
        .await
    }

    pub async fn rotate_secret(
        &self,
        ctx: &RequestContext,
        request: RotateSecretRequest,
    ) -> StoreResult<RotateSecretResponse> {
        let secret_id = request.secret_id.clone();
        let rotations = self.rotations()?;
        self.on_secret(
            ctx,
            Operation::RotateSecret,
            &secret_id,
            Subject::default(),
            rotations.rotate_secret(request),
        )
        .await
    }

    pub async fn cancel_rotate_secret(
        &self,
        ctx: &RequestContext,
        request: CancelRotateSecretRequest,
    ) -> StoreResult<RotateSecretResponse> {
        let secret_id = request.secret_id.clone();
        let rotations = self.rotations()?;
        self.on_secret(
            ctx,
            Operation::CancelRotateSecret,
            &secret_id,
            Subject::default(),
            rotations.cancel_rotate_secret(request),
        )
        .await
    }

    /// What WatchSecret follows: the secret as the caller may describe it (authorized and
    /// audited as DescribeSecret), and the feed of changes, subscribed before the secret was
    /// read so that none is missed in between.
    pub async fn watch_secret(
        &self,
        ctx: &RequestContext,
        secret_id: String,
    ) -> StoreResult<(DescribeSecretResponse, broadcast::Receiver<Arc<str>>)> {
        let changes = self.store.changes();
        let described = self
            .describe_secret(ctx, DescribeSecretRequest { secret_id })
            .await?;
        Ok((described, changes))
    }

    /// The secret's versions now, for a watcher that was authorized when it subscribed; not
    /// audited, as it reveals nothing the subscription did not.
    pub async fn versions_of(&self, arn: &str) -> StoreResult<DescribeSecretResponse> {
        self.store
            .describe_secret(DescribeSecretRequest {
                secret_id: arn.to_owned(),
            })
            .await
    }

    /// Whether the policy lets the caller do `operation` on the secret named `name`, with no
    /// audit record: for deciding what an answer may include, not for refusing it.
    pub fn allows(&self, ctx: &RequestContext, operation: Operation, name: &str) -> bool {
        matches!(
            self.authz
                .policy()
                .decide(ctx.identity(), operation, Resource::Secret(name)),
            Decision::Allow { .. }
        )
    }

    fn rotations(&self) -> StoreResult<&Arc<Rotations>> {
        self.rotations
            .as_ref()
            .ok_or_else(|| StoreError::invalid_request("This gateway does not run rotations."))
    }

    pub async fn untag_resource(
        &self,
        ctx: &RequestContext,
        request: UntagResourceRequest,
    ) -> StoreResult<Empty> {
        let secret_id = request.secret_id.clone();
        self.on_secret(
            ctx,
            Operation::UntagResource,
            &secret_id,
            Subject::default(),
            self.store.untag_resource(request),
        )
        .await
    }

    /// Authorizes an operation on one secret, runs it and audits it.
    /// `requested` is what the request itself says about versions, for the audit record
    /// when the answer does not.
    async fn on_secret<T: Audited>(
        &self,
        ctx: &RequestContext,
        operation: Operation,
        secret_id: &str,
        requested: Subject<'_>,
        run: impl Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        let name = self.resolve(secret_id).await;
        let statement = self.authorize(ctx, operation, Resource::Secret(&name))?;
        let requested = Subject {
            secret: Some(&name),
            ..requested
        };
        if operation.is_change() && self.audit.is_failing() {
            // Its refusal is written as the probe: once the trail takes records again, the
            // next change goes through.
            self.write_audit(
                ctx,
                operation.as_str(),
                requested,
                Err(AUDIT_UNAVAILABLE),
                Some(&statement),
            )?;
            return Err(StoreError::internal(AUDIT_REFUSAL));
        }
        let result = run.await;
        let audited = match &result {
            Ok(answer) => answer.subject().or(requested),
            Err(_) => requested,
        };
        self.audit_result(ctx, operation, audited, &result, &statement)?;
        result
    }

    /// The name a policy judges a `SecretId` by: the id itself when it is a name, else the
    /// name of the secret its ARN points to, else (no such secret) what follows `:secret:`.
    async fn resolve<'a>(&self, secret_id: &'a str) -> Cow<'a, str> {
        if !is_arn(secret_id) {
            return Cow::Borrowed(secret_id);
        }
        let request = DescribeSecretRequest {
            secret_id: secret_id.to_owned(),
        };
        match self.store.describe_secret(request).await {
            Ok(described) => Cow::Owned(described.metadata.name),
            Err(_) => Cow::Borrowed(name_in_arn(secret_id)),
        }
    }

    /// The allowing statement, or AccessDeniedException (audited).
    fn authorize(
        &self,
        ctx: &RequestContext,
        operation: Operation,
        resource: Resource<'_>,
    ) -> StoreResult<Arc<str>> {
        let decision = self
            .authz
            .policy()
            .decide(ctx.identity(), operation, resource);
        if let Decision::Allow { sid } = decision {
            return Ok(sid);
        }
        let secret = match resource {
            Resource::Secret(name) => Some(name),
            Resource::Account => None,
        };
        let subject = Subject {
            secret,
            ..Subject::default()
        };
        self.write_audit_denied(ctx, operation.as_str(), subject, decision_sid(&decision))?;
        Err(StoreError::new(
            ErrorCode::AccessDenied,
            denied_message(ctx, operation, secret.unwrap_or("*")),
        ))
    }

    /// Runs an operation whose answer is then filtered secret by secret (ListSecrets,
    /// BatchGetSecretValue): refused when no statement could allow any secret, audited here
    /// only when it fails, since its caller audits each secret it returns.
    async fn filtered<T>(
        &self,
        ctx: &RequestContext,
        operation: Operation,
        run: impl Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        self.authorize_some(ctx, operation)?;
        let result = run.await;
        if let Err(err) = &result {
            self.write_audit(
                ctx,
                operation.as_str(),
                Subject::default(),
                Err(err.code.as_str()),
                None,
            )?;
        }
        result
    }

    /// Refuses an operation filtered secret by secret when no statement could allow any.
    fn authorize_some(&self, ctx: &RequestContext, operation: Operation) -> StoreResult<()> {
        if self.authz.policy().allows_some(ctx.identity(), operation) {
            return Ok(());
        }
        self.write_audit_denied(ctx, operation.as_str(), Subject::default(), None)?;
        Err(StoreError::new(
            ErrorCode::AccessDenied,
            denied_message(ctx, operation, "*"),
        ))
    }

    fn audit_result<T>(
        &self,
        ctx: &RequestContext,
        operation: Operation,
        subject: Subject<'_>,
        result: &StoreResult<T>,
        statement: &str,
    ) -> StoreResult<()> {
        let outcome = result.as_ref().map(|_| ()).map_err(|err| err.code.as_str());
        self.write_audit(ctx, operation.as_str(), subject, outcome, Some(statement))
    }

    fn write_audit_denied(
        &self,
        ctx: &RequestContext,
        operation: &'static str,
        subject: Subject<'_>,
        statement: Option<&str>,
    ) -> StoreResult<()> {
        self.write(
            ctx,
            operation,
            subject,
            Outcome::Denied,
            Some(ErrorCode::AccessDenied.as_str()),
            statement,
        )
    }

    fn write_audit(
        &self,
        ctx: &RequestContext,
        operation: &'static str,
        subject: Subject<'_>,
        outcome: Result<(), &str>,
        statement: Option<&str>,
    ) -> StoreResult<()> {
        match outcome {
            Ok(()) => self.write(ctx, operation, subject, Outcome::Ok, None, statement),
            Err(code) => self.write(
                ctx,
                operation,
                subject,
                Outcome::Error,
                Some(code),
                statement,
            ),
        }
    }

    /// Writes the audit record; when it cannot be written the request is refused.
    fn write(
        &self,
        ctx: &RequestContext,
        operation: &'static str,
        subject: Subject<'_>,
        outcome: Outcome,
        error: Option<&str>,
        statement: Option<&str>,
    ) -> StoreResult<()> {
        let record = Record {
            time: audit::now(),
            request_id: ctx.request_id.to_string(),
            identity: ctx.identity(),
            source: ctx.peer.address,
            surface: ctx.surface.as_str(),
            operation,
            secret: subject.secret,
            arn: subject.arn,
            version_id: subject.version_id,
            version_stages: subject.version_stages,
            outcome,
            error,
            statement,
            step: None,
            plugin: None,
            latency_ms: ctx.started.elapsed().as_secs_f64() * 1e3,
        };
        self.audit.write(&record).map_err(|err| {
            self.metrics.audit_failures.inc();
            tracing::error!(error = %crate::error_chain(&err), "audit record not written: request refused");
            StoreError::internal(AUDIT_REFUSAL)
        })
    }
}

const AUDIT_REFUSAL: &str = "The request was refused because it could not be audited.";
const AUDIT_UNAVAILABLE: &str = "AuditUnavailable";

fn is_arn(secret_id: &str) -> bool {
    secret_id.starts_with("arn:")
}

/// What follows `:secret:` in an ARN (the name, with its suffix in a full ARN).
fn name_in_arn(secret_id: &str) -> &str {
    secret_id
        .split_once(":secret:")
        .map_or(secret_id, |(_, name)| name)
}

fn decision_sid(decision: &Decision) -> Option<&str> {
    match decision {
        Decision::Allow { sid } | Decision::Deny { sid } => Some(sid),
        Decision::NoMatch => None,
    }
}

/// Worded as Secrets Manager words it, naming the caller, the action and the secret id the
/// caller gave.
fn denied_message(ctx: &RequestContext, operation: Operation, resource: &str) -> String {
    format!(
        "User: {} is not authorized to perform: secretsmanager:{} on resource: {}",
        ctx.identity(),
        operation,
        resource
    )
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
