//! The rotation engine. For a secret and a ClientRequestToken it drives Secrets Manager's four
//! steps, with the target-specific work done by the secret's plugin and the versions moved with
//! store operations only (PutSecretValue with the AWSPENDING label, UpdateSecretVersionStage):
//!
//! 1. createSecret: unless a version with the token holds AWSPENDING, make it, with the value
//!    the plugin returns or else the current JSON with a new `password`;
//! 2. setSecret and 3. testSecret: the plugin's;
//! 4. finishSecret: AWSCURRENT moves to the token's version (AWSPREVIOUS follows), AWSPENDING
//!    is removed from it, then the plugin's finish hook runs.
//!
//! Each step is idempotent, so a failed attempt is retried whole with the same token, after a
//! doubling delay. When the attempts run out, what happens to the pending version depends on
//! whether the target may hold it:
//!
//! - createSecret failed, or a step failed fatally (the plugin knows the target refused it): the
//!   pending version is discarded (it loses AWSPENDING), so the next rotation makes a new value
//!   instead of replaying one that failed;
//! - setSecret or testSecret kept failing for a passing reason (the database went away, say):
//!   the target may already hold the new value, and discarding it would leave a credential that
//!   nobody knows. The pending version is kept, and this gateway reattempts that rotation at the
//!   next RotateSecret (which answers "A previous rotation isn't complete"), when the postponed
//!   schedule comes due, or at its next start.
//!
//! AWSCURRENT moves only in finishSecret, after testSecret proved the new value.

pub mod schedule;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::audit::{self, AuditLog, Outcome, Record};
use crate::metrics::SharedMetrics;
use crate::plugins::{Plugin, RotationContext, SecretLookup, SecretVersion, Step, StepFailure};
use crate::store::password::PasswordPolicy;
use crate::store::{
    AWSCURRENT, AWSPENDING, AWSPREVIOUS, CancelRotateSecretRequest, DescribeSecretRequest,
    DescribeSecretResponse, ErrorCode, GetSecretValueRequest, ListSecretsRequest,
    PutSecretValueRequest, RotateSecretRequest, RotateSecretResponse, RotationChange,
    SecretListEntry, SecretStore, SecretText, SecretValue, StoreError, StoreResult, Timestamp,
    UpdateRotationRequest, UpdateSecretVersionStageRequest, VersionSelector, VersionStages,
};

use self::schedule::Schedule;

/// The prefix of a RotationLambdaARN that names a plugin directly.
pub const PLUGIN_PREFIX: &str = "plugin:";
/// Who rotation records in the audit trail are by.
const AUDIT_IDENTITY: &str = "secrets-gateway:rotation";
/// What a claim's lease adds to two step timeouts (see `Rotations::claim`).
const CLAIM_LEASE_MARGIN: Duration = Duration::from_secs(10);
/// The label of a claim version while it is written (see `Rotations::claim`).
const CLAIM: &str = "secrets-gateway:claim";
/// Characters the default generator leaves out of database passwords, as the AWS templates do.
const DEFAULT_EXCLUDED: &str = ":/@\"'\\";

/// How failed attempts are retried.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Attempts of one rotation, the first included.
    pub attempts: u32,
    /// The delay before the first retry; it doubles up to `max_delay`.
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 4,
            first_delay: Duration::from_secs(10),
            max_delay: Duration::from_secs(300),
        }
    }
}

/// Starts and runs rotations: for RotateSecret, for the schedule, and for rotations a
/// stopped gateway left unfinished.
pub struct Rotations {
    store: Arc<dyn SecretStore>,
    plugins: HashMap<String, Plugin>,
    audit: Arc<AuditLog>,
    metrics: SharedMetrics,
    retry: RetryPolicy,
    /// Secrets (by ARN) with a rotation running in this process.
    running: Mutex<BTreeMap<String, tokio::task::AbortHandle>>,
    /// Rotations (token by secret ARN) that ran out of attempts here with their pending version
    /// kept: this gateway reattempts them. Another replica does not, as it cannot tell such a
    /// version from one whose rotation is still running here.
    kept: Mutex<HashMap<String, String>>,
}

/// One rotation: of which secret, with which token and plugin.
struct Job {
    arn: String,
    name: String,
    token: String,
    plugin: Plugin,
    schedule: Schedule,
    /// For a rotation the scheduler started: the due date it must claim first.
    due: Option<Timestamp>,
}

/// Why one attempt of a rotation stopped.
enum AttemptError {
    /// A store operation failed; retried like a retryable step.
    Store(StoreError),
    Step(Step, StepFailure),
    /// Nothing to do any more: rotation was cancelled, or another rotation owns AWSPENDING.
    Stopped(String),
}

impl AttemptError {
    /// Whether the rotation's target may hold the pending value after this failure, so that
    /// discarding the pending version could lose the only copy of a live credential.
    fn target_may_hold_pending(&self) -> bool {
        match self {
            Self::Step(Step::CreateSecret, _) | Self::Stopped(_) => false,
            Self::Step(_, failure) => failure.is_retryable(),
            Self::Store(_) => true,
        }
    }
}

impl Rotations {
    pub fn new(
        store: Arc<dyn SecretStore>,
        plugins: impl IntoIterator<Item = Plugin>,
        audit: Arc<AuditLog>,
        metrics: SharedMetrics,
        retry: RetryPolicy,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            plugins: plugins
                .into_iter()
                .map(|plugin| (plugin.name().to_owned(), plugin))
                .collect(),
            audit,
            metrics,
            retry,
            running: Mutex::new(BTreeMap::new()),
            kept: Mutex::new(HashMap::new()),
        })
    }

    /// RotateSecret: checks and stores the rotation settings, and with RotateImmediately (the
    /// default) starts a rotation in the background and answers its token.
    pub async fn rotate_secret(
        self: &Arc<Self>,
        request: RotateSecretRequest,
    ) -> StoreResult<RotateSecretResponse> {
        let described = self.describe(&request.secret_id).await?;
        let metadata = &described.metadata;
        if metadata.deleted_date.is_some() {
            return Err(StoreError::invalid_request(
                "You can't perform this operation on the secret because it was marked for deletion.",
            ));
        }
        let lambda_arn = request
            .rotation_lambda_arn
            .clone()
            .or_else(|| metadata.rotation_lambda_arn.clone())
            .ok_or_else(|| {
                StoreError::invalid_request(
                    "No Lambda rotation function ARN is associated with this secret.",
                )
            })?;
        let plugin = self.plugin(&lambda_arn)?.clone();
        let rules = request
            .rotation_rules
            .clone()
            .or_else(|| metadata.rotation_rules.clone());
        let schedule = Schedule::parse(rules.as_ref())?;
        if let Some(pending) = unfinished_pending(&described) {
            if self.is_kept(&metadata.arn, pending) {
                tracing::info!(secret = %metadata.name, token = pending, "reattempting a rotation whose pending version was kept");
                self.start(Job {
                    arn: metadata.arn.clone(),
                    name: metadata.name.clone(),
                    token: pending.to_owned(),
                    plugin,
                    schedule,
                    due: None,
                });
            }
            return Err(StoreError::invalid_request(format!(
                "A previous rotation isn't complete. That rotation will be reattempted. (version {pending} holds AWSPENDING)"
            )));
        }
        let immediately = request.rotate_immediately.unwrap_or(true);
        // A rotation between its start and its pending version holds no AWSPENDING yet.
        let running = || {
            StoreError::invalid_request(
                "A previous rotation isn't complete. That rotation will be reattempted. (it is running)",
            )
        };
        if immediately && self.is_running(&metadata.arn) {
            return Err(running());
        }
        self.refuse_master_as_rotated_user(&metadata.arn).await?;
        self.store
            .update_rotation(UpdateRotationRequest {
                secret_id: metadata.arn.clone(),
                change: RotationChange::Configure {
                    lambda_arn,
                    rules,
                    next_rotation: schedule.next_after(Timestamp::now()),
                },
            })
            .await?;
        let version_id = if immediately {
            let token = request
                .client_request_token
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            let started = self.start(Job {
                arn: metadata.arn.clone(),
                name: metadata.name.clone(),
                token: token.clone(),
                plugin,
                schedule,
                due: None,
            });
            if !started {
                return Err(running());
            }
            Some(token)
        } else {
            None
        };
        Ok(RotateSecretResponse {
            arn: metadata.arn.clone(),
            name: metadata.name.clone(),
            version_id,
        })
    }

    /// CancelRotateSecret: rotation off (plugin and rules stay on record), a running rotation
    /// stopped. AWSPENDING stays where it is, as the service leaves it.
    pub async fn cancel_rotate_secret(
        &self,
        request: CancelRotateSecretRequest,
    ) -> StoreResult<RotateSecretResponse> {
        let described = self.describe(&request.secret_id).await?;
        let metadata = &described.metadata;
        if metadata.rotation_lambda_arn.is_none() {
            return Err(StoreError::invalid_request(
                "Secrets Manager can't cancel rotation because you haven't configured rotation for this secret.",
            ));
        }
        self.store
            .update_rotation(UpdateRotationRequest {
                secret_id: metadata.arn.clone(),
                change: RotationChange::Disable,
            })
            .await?;
        if let Some(running) = self
            .running
            .lock()
            .expect("not poisoned")
            .remove(&metadata.arn)
        {
            running.abort();
        }
        Ok(RotateSecretResponse {
            arn: metadata.arn.clone(),
            name: metadata.name.clone(),
            version_id: unfinished_pending(&described).map(str::to_owned),
        })
    }

    /// Runs due rotations until the process ends: a [`scan`](Self::scan) every `every`.
    pub async fn run_schedule(self: Arc<Self>, every: Duration) {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            if let Err(err) = self.scan(false).await {
                tracing::warn!(error = %err, "cannot look for due rotations");
            }
        }
    }

    /// Looks at every secret with rotation on and a plugin of this gateway, and starts the
    /// rotations that are due: NextRotationDate has passed and none is unfinished. Replicas on
    /// one backend may find the same one due; the one whose [`claim`](Self::claim) lands
    /// first runs it. With `resume` (at start-up), the unfinished rotations a stopped gateway
    /// left behind resume too, with their own tokens. Returns how many it started.
    pub async fn scan(self: &Arc<Self>, resume: bool) -> StoreResult<usize> {
        let mut started = 0;
        if self.plugins.is_empty() {
            return Ok(started);
        }
        let mut next_token = None;
        loop {
            let page = self
                .store
                .list_secrets(ListSecretsRequest {
                    max_results: Some(100),
                    next_token,
                    ..ListSecretsRequest::default()
                })
                .await?;
            for entry in &page.secret_list {
                if let Some(job) = self.due(entry, resume) {
                    if job.due.is_some() {
                        tracing::info!(secret = %job.name, token = %job.token, "starting a scheduled rotation");
                    } else {
                        tracing::info!(secret = %job.name, token = %job.token, "resuming an unfinished rotation");
                    }
                    if self.start(job) {
                        started += 1;
                    }
                }
            }
            next_token = page.next_token;
            if next_token.is_none() {
                return Ok(started);
            }
        }
    }

    /// The rotation `entry` needs now, if any.
    fn due(&self, entry: &SecretListEntry, resume: bool) -> Option<Job> {
        let metadata = &entry.metadata;
        let lambda_arn = metadata.rotation_lambda_arn.as_ref()?;
        if metadata.rotation_enabled != Some(true)
            || metadata.deleted_date.is_some()
            || self
                .running
                .lock()
                .expect("not poisoned")
                .contains_key(&metadata.arn)
        {
            return None;
        }
        let plugin = match self.plugin(lambda_arn) {
            Ok(plugin) => plugin.clone(),
            Err(err) => {
                tracing::debug!(secret = %metadata.name, "not rotated here: {}", err.message);
                return None;
            }
        };
        let schedule =
            Schedule::parse(metadata.rotation_rules.as_ref()).unwrap_or(Schedule::Manual);
        let job = |token: String, due| Job {
            arn: metadata.arn.clone(),
            name: metadata.name.clone(),
            token,
            plugin,
            schedule,
            due,
        };
        let due_now = metadata
            .next_rotation_date
            .is_some_and(|due| due <= Timestamp::now());
        match pending_of(&entry.secret_versions_to_stages) {
            Some(token) if resume || (due_now && self.is_kept(&metadata.arn, token)) => {
                Some(job(token.to_owned(), None))
            }
            Some(_) => None,
            None if due_now => Some(job(
                uuid::Uuid::new_v4().to_string(),
                metadata.next_rotation_date,
            )),
            None => None,
        }
    }

    /// The plugin a RotationLambdaARN names: `plugin:NAME`, or a Lambda function ARN whose
    /// function name is a plugin's.
    fn plugin(&self, lambda_arn: &str) -> StoreResult<&Plugin> {
        let name = match lambda_arn.strip_prefix(PLUGIN_PREFIX) {
            Some(name) => name,
            None => lambda_arn
                .strip_prefix("arn:")
                .and_then(|rest| rest.split(':').nth(5).filter(|_| rest.contains(":lambda:")))
                .unwrap_or(lambda_arn),
        };
        self.plugins.get(name).ok_or_else(|| {
            let mut known: Vec<&str> = self.plugins.keys().map(String::as_str).collect();
            known.sort_unstable();
            StoreError::invalid_parameter(format!(
                "RotationLambdaARN {lambda_arn} names no plugin of this gateway (it has: {}).",
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            ))
        })
    }

    /// A secret whose master secret logs in as the rotated user would rotate the master's own
    /// password with itself: refused before anything starts.
    async fn refuse_master_as_rotated_user(&self, arn: &str) -> StoreResult<()> {
        let current = match self.value(arn, VersionSelector::stage(AWSCURRENT)).await {
            Ok(current) => current,
            Err(err) if err.code == ErrorCode::ResourceNotFound => return Ok(()),
            Err(err) => return Err(err),
        };
        let field = |secret: &SecretText, name: &str| -> Option<String> {
            let fields: serde_json::Value = serde_json::from_str(secret.expose()).ok()?;
            fields.get(name)?.as_str().map(str::to_owned)
        };
        let Some(master_id) = field(&current.secret_string, "masterarn") else {
            return Ok(());
        };
        let master = self
            .value(&master_id, VersionSelector::stage(AWSCURRENT))
            .await
            .map_err(|err| {
                StoreError::invalid_parameter(format!(
                    "The master secret {master_id} named by masterarn cannot be read: {}",
                    err.message
                ))
            })?;
        let (Some(rotated), Some(master_user)) = (
            field(&current.secret_string, "username"),
            field(&master.secret_string, "username"),
        ) else {
            return Ok(());
        };
        // The alternating strategy rotates `user` and `user_clone` in turn.
        let clone = |user: &str| format!("{user}_clone");
        if master_user == rotated
            || master_user == clone(&rotated)
            || rotated == clone(&master_user)
        {
            return Err(StoreError::invalid_parameter(format!(
                "The master secret {master_id} logs in as {master_user}, which is or alternates \
                 with {rotated}, the user this secret rotates; a master user must not be rotated."
            )));
        }
        Ok(())
    }

    fn is_kept(&self, arn: &str, token: &str) -> bool {
        self.kept
            .lock()
            .expect("not poisoned")
            .get(arn)
            .is_some_and(|kept| kept == token)
    }

    fn is_running(&self, arn: &str) -> bool {
        self.running.lock().expect("not poisoned").contains_key(arn)
    }

    /// Starts `job` unless a rotation of its secret already runs here (never two at once, and
    /// a running one is never cut short by a new one); whether it started.
    fn start(self: &Arc<Self>, job: Job) -> bool {
        let mut running = self.running.lock().expect("not poisoned");
        if running.contains_key(&job.arn) {
            return false;
        }
        let rotations = Arc::clone(self);
        let key = job.arn.clone();
        let task = tokio::spawn(async move {
            rotations.run(&job).await;
            rotations
                .running
                .lock()
                .expect("not poisoned")
                .remove(&job.arn);
        });
        running.insert(key, task.abort_handle());
        true
    }

    /// One rotation, retried until it finishes, fails fatally, or runs out of attempts.
    async fn run(&self, job: &Job) {
        let started = Instant::now();
        let Job {
            arn,
            name,
            token,
            plugin,
            schedule,
            ..
        } = job;
        if let Some(due) = job.due {
            match self.claim(job, due).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::info!(secret = %name, "another gateway runs this scheduled rotation");
                    return;
                }
                Err(err) => {
                    tracing::warn!(secret = %name, error = %err, "cannot claim the scheduled rotation");
                    return;
                }
            }
        }
        let mut delay = self.retry.first_delay;
        for attempt in 1..=self.retry.attempts {
            let failure = match self.attempt(job).await {
                Ok(()) => {
                    let now = Timestamp::now();
                    let recorded = self
                        .store
                        .update_rotation(UpdateRotationRequest {
                            secret_id: arn.to_owned(),
                            change: RotationChange::Rotated {
                                at: now,
                                next_rotation: schedule.next_after(now),
                            },
                        })
                        .await;
                    if let Err(err) = recorded {
                        tracing::warn!(secret = %name, error = %err, "rotated, but the rotation date was not recorded");
                    }
                    self.kept.lock().expect("not poisoned").remove(&**arn);
                    self.metrics.rotation(plugin.name(), "succeeded");
                    let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
                    tracing::info!(secret = %name, plugin = %plugin.name(), token, attempt, elapsed_ms, "rotation finished");
                    return;
                }
                Err(AttemptError::Stopped(why)) => {
                    self.kept.lock().expect("not poisoned").remove(&**arn);
                    tracing::info!(secret = %name, token, "rotation stopped: {why}");
                    return;
                }
                Err(failure) => failure,
            };
            let (retryable, message) = match &failure {
                AttemptError::Store(err) => (true, format!("store: {err}")),
                AttemptError::Step(step, failure) => {
                    (failure.is_retryable(), format!("{step}: {failure}"))
                }
                AttemptError::Stopped(_) => unreachable!("returned above"),
            };
            let last = !retryable || attempt == self.retry.attempts;
            tracing::warn!(secret = %name, plugin = %plugin.name(), token, attempt, retryable, "rotation attempt failed: {message}");
            if last {
                self.metrics.rotation(plugin.name(), "failed");
                if failure.target_may_hold_pending() {
                    self.kept
                        .lock()
                        .expect("not poisoned")
                        .insert(arn.clone(), token.clone());
                    tracing::warn!(secret = %name, token, "rotation failed; its pending version is kept, as the target may hold it, and the rotation will be reattempted");
                } else {
                    self.discard_pending(arn, name, token).await;
                }
                self.postpone(job).await;
                return;
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(self.retry.max_delay);
        }
    }

    /// One pass through the four steps; every step first checks whether it is already done.
    async fn attempt(&self, job: &Job) -> Result<(), AttemptError> {
        let (arn, name, token, plugin) = (&*job.arn, &*job.name, &*job.token, &job.plugin);
        let described = self.describe(arn).await.map_err(AttemptError::Store)?;
        if described.metadata.rotation_enabled == Some(false) {
            return Err(AttemptError::Stopped("rotation was cancelled".into()));
        }
        let lookup: Arc<dyn SecretLookup> = Arc::new(StoreLookup(Arc::clone(&self.store)));
        let stages = |version: &str| described.version_ids_to_stages.get(version);
        if stages(token).is_some_and(|stages| stages.iter().any(|s| s == AWSCURRENT)) {
            // AWSCURRENT moved already (a retry after a crash, say): only the end is left.
            return self.finish(arn, name, token, plugin, &lookup).await;
        }
        if let Some(other) = unfinished_pending(&described).filter(|pending| *pending != token) {
            return Err(AttemptError::Stopped(format!(
                "version {other} holds AWSPENDING for another rotation"
            )));
        }
        let mut context = self
            .context(arn, name, token)
            .await
            .map_err(AttemptError::Store)?;
        if let Some(pending) = &context.pending
            && !pending.stages.iter().any(|stage| stage == AWSPENDING)
        {
            return Err(AttemptError::Stopped(
                "the token's version no longer holds AWSPENDING (discarded); a new rotation \
                 needs a new token"
                    .into(),
            ));
        }
        if context.pending.is_none() {
            let made = self
                .step(plugin, Step::CreateSecret, &context, &lookup)
                .await?;
            let value = match made {
                Some(value) => value,
                None => default_pending(&context).map_err(|err| {
                    AttemptError::Step(Step::CreateSecret, StepFailure::Fatal(err))
                })?,
            };
            let mut put = PutSecretValueRequest::new(arn, SecretValue::String(value));
            put.client_request_token = Some(token.to_owned());
            put.version_stages = Some(vec![AWSPENDING.to_owned()]);
            self.store
                .put_secret_value(put)
                .await
                .map_err(AttemptError::Store)?;
            // Only the pending version is new; read back as the store keeps it.
            context.pending = self
                .optional_value(arn, VersionSelector::id(token))
                .await
                .map_err(AttemptError::Store)?;
        }
        self.step(plugin, Step::SetSecret, &context, &lookup)
            .await?;
        self.step(plugin, Step::TestSecret, &context, &lookup)
            .await?;

        let current = context.current.as_ref().map(|v| v.version_id.clone());
        self.store
            .update_secret_version_stage(UpdateSecretVersionStageRequest {
                secret_id: arn.to_owned(),
                version_stage: AWSCURRENT.to_owned(),
                remove_from_version_id: current,
                move_to_version_id: Some(token.to_owned()),
            })
            .await
            .map_err(AttemptError::Store)?;
        self.finish(arn, name, token, plugin, &lookup).await
    }

    /// After AWSCURRENT moved to the token's version: AWSPENDING off it, then the plugin's
    /// finish hook, which sees the new version as both current and pending.
    async fn finish(
        &self,
        arn: &str,
        name: &str,
        token: &str,
        plugin: &Plugin,
        lookup: &Arc<dyn SecretLookup>,
    ) -> Result<(), AttemptError> {
        self.remove_pending_label(arn, token)
            .await
            .map_err(AttemptError::Store)?;
        let finished = self
            .context(arn, name, token)
            .await
            .map_err(AttemptError::Store)?;
        match self
            .step(plugin, Step::FinishSecret, &finished, lookup)
            .await
        {
            Err(AttemptError::Step(step, failure)) => {
                // AWSCURRENT has moved and works (testSecret said so): the hook's failure is
                // reported, not undone.
                tracing::warn!(secret = %name, plugin = %plugin.name(), "{step} hook failed after AWSCURRENT moved: {failure}");
                Ok(())
            }
            other => other.map(drop),
        }
    }

    /// Runs one step and writes its audit record.
    async fn step(
        &self,
        plugin: &Plugin,
        step: Step,
        context: &RotationContext,
        lookup: &Arc<dyn SecretLookup>,
    ) -> Result<Option<SecretText>, AttemptError> {
        let started = Instant::now();
        let outcome = plugin.run(step, context, Arc::clone(lookup)).await;
        let elapsed = started.elapsed();
        self.metrics
            .rotation_step(plugin.name(), step.as_str(), elapsed.as_secs_f64());
        let error = outcome.as_ref().err().map(ToString::to_string);
        let record = Record {
            time: audit::now(),
            request_id: context.token.clone(),
            identity: AUDIT_IDENTITY,
            source: ([127, 0, 0, 1], 0).into(),
            surface: "rotation",
            operation: "RotateSecret",
            secret: Some(&context.secret_id),
            arn: Some(&context.secret_arn),
            version_id: Some(&context.token),
            version_stages: &[],
            outcome: if error.is_some() {
                Outcome::Error
            } else {
                Outcome::Ok
            },
            error: error.as_deref(),
            statement: None,
            step: Some(step.as_str()),
            plugin: Some(plugin.name()),
            latency_ms: elapsed.as_secs_f64() * 1e3,
        };
        if let Err(err) = self.audit.write(&record) {
            // Fail closed: a step that cannot be recorded does not count as done.
            return Err(AttemptError::Store(StoreError::internal(format!(
                "the audit record of {step} cannot be written: {err}"
            ))));
        }
        outcome.map_err(|failure| AttemptError::Step(step, failure))
    }

    /// Claims a due rotation for this gateway. Every gateway that finds it due writes a version
    /// under the same token, derived from the secret and the due date, each with a value of
    /// its own: the backend keeps the first and refuses the others (a token already used with
    /// other data), so exactly one gateway goes on. The claim version holds no secret and is
    /// left unlabelled.
    ///
    /// A claim lapses after a lease: the gateway that won it may have died before createSecret
    /// wrote AWSPENDING, and the rotation, still due, would otherwise never run. Past the lease
    /// the token derives from the lease period too, so the rotation is claimed anew, again by
    /// exactly one gateway. The lease outlasts two createSecret steps, so it does not lapse
    /// under a gateway that is alive: once AWSPENDING is written, the rotation is no longer
    /// claimed but resumed.
    async fn claim(&self, job: &Job, due: Timestamp) -> StoreResult<bool> {
        let lease = (2 * job.plugin.step_timeout() + CLAIM_LEASE_MARGIN).as_millis() as i64;
        let period = (Timestamp::now().as_millis() - due.as_millis()).max(0) / lease;
        let seed = match period {
            0 => format!("{}|{}", job.arn, due.as_millis()),
            period => format!("{}|{}|{period}", job.arn, due.as_millis()),
        };
        if period > 0 {
            tracing::info!(secret = %job.name, period, "claiming a scheduled rotation overdue by more than a claim lease");
        }
        let token = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, seed.as_bytes()).to_string();
        let nonce = SecretText::new(format!("rotation claim by {}", uuid::Uuid::new_v4()));
        let mut put = PutSecretValueRequest::new(&job.arn, SecretValue::String(nonce));
        put.client_request_token = Some(token.clone());
        put.version_stages = Some(vec![CLAIM.to_owned()]);
        let claimed = match self.store.put_secret_value(put).await {
            Ok(_) => true,
            Err(err) if err.code == ErrorCode::ResourceExists => false,
            Err(err) => return Err(err),
        };
        if claimed {
            self.store
                .update_secret_version_stage(UpdateSecretVersionStageRequest {
                    secret_id: job.arn.clone(),
                    version_stage: CLAIM.to_owned(),
                    remove_from_version_id: Some(token),
                    move_to_version_id: None,
                })
                .await?;
        }
        Ok(claimed)
    }

    /// A scheduled secret whose rotation failed is tried again later, with a new token.
    async fn postpone(&self, job: &Job) {
        let now = Timestamp::now();
        let Some(next_rotation) = job.schedule.next_after(now) else {
            return;
        };
        let retry_at =
            Timestamp::from_millis(now.as_millis() + self.retry.max_delay.as_millis() as i64);
        let postponed = self
            .store
            .update_rotation(UpdateRotationRequest {
                secret_id: job.arn.clone(),
                change: RotationChange::Reschedule {
                    next_rotation: next_rotation.min(retry_at),
                },
            })
            .await;
        if let Err(err) = postponed {
            tracing::warn!(secret = %job.name, error = %err, "cannot postpone the failed rotation");
        }
    }

    /// After a fatal failure or the last retry: the pending version loses AWSPENDING, so the
    /// next rotation starts with a new value.
    async fn discard_pending(&self, arn: &str, name: &str, token: &str) {
        match self.remove_pending_label(arn, token).await {
            Ok(()) => {
                tracing::warn!(secret = %name, token, "rotation failed; its pending version was discarded")
            }
            Err(err) => {
                tracing::error!(secret = %name, token, error = %err, "rotation failed and its pending version could not be discarded")
            }
        }
    }

    async fn remove_pending_label(&self, arn: &str, token: &str) -> StoreResult<()> {
        let described = self.describe(arn).await?;
        let holds_pending = described
            .version_ids_to_stages
            .get(token)
            .is_some_and(|stages| stages.iter().any(|stage| stage == AWSPENDING));
        if !holds_pending {
            return Ok(());
        }
        self.store
            .update_secret_version_stage(UpdateSecretVersionStageRequest {
                secret_id: arn.to_owned(),
                version_stage: AWSPENDING.to_owned(),
                remove_from_version_id: Some(token.to_owned()),
                move_to_version_id: None,
            })
            .await
            .map(drop)
    }

    async fn describe(&self, secret_id: &str) -> StoreResult<DescribeSecretResponse> {
        self.store
            .describe_secret(DescribeSecretRequest {
                secret_id: secret_id.to_owned(),
            })
            .await
    }

    async fn value(
        &self,
        secret_id: &str,
        selector: VersionSelector,
    ) -> StoreResult<SecretVersion> {
        let answer = self
            .store
            .get_secret_value(GetSecretValueRequest::new(secret_id, selector))
            .await?;
        Ok(SecretVersion {
            version_id: answer.version_id,
            stages: answer.version_stages,
            secret_string: answer.secret_string.ok_or_else(|| {
                StoreError::invalid_request("A rotated secret must hold a SecretString.")
            })?,
        })
    }

    /// The versions as the steps see them: the token's version is the pending one (also once
    /// it is current, for the finish hook); a missing one is none.
    async fn context(&self, arn: &str, name: &str, token: &str) -> StoreResult<RotationContext> {
        Ok(RotationContext {
            secret_id: name.to_owned(),
            secret_arn: arn.to_owned(),
            token: token.to_owned(),
            current: self
                .optional_value(arn, VersionSelector::stage(AWSCURRENT))
                .await?,
            pending: self.optional_value(arn, VersionSelector::id(token)).await?,
            previous: self
                .optional_value(arn, VersionSelector::stage(AWSPREVIOUS))
                .await?,
        })
    }

    /// A version, or none when the store has no such version.
    async fn optional_value(
        &self,
        arn: &str,
        selector: VersionSelector,
    ) -> StoreResult<Option<SecretVersion>> {
        match self.value(arn, selector).await {
            Ok(version) => Ok(Some(version)),
            Err(err) if err.code == ErrorCode::ResourceNotFound => Ok(None),
            Err(err) => Err(err),
        }
    }
}

/// The version holding AWSPENDING without AWSCURRENT: a rotation that has not finished.
fn unfinished_pending(described: &DescribeSecretResponse) -> Option<&str> {
    pending_of(&described.version_ids_to_stages)
}

fn pending_of(versions: &VersionStages) -> Option<&str> {
    versions
        .iter()
        .find(|(_, stages)| {
            stages.iter().any(|stage| stage == AWSPENDING)
                && !stages.iter().any(|stage| stage == AWSCURRENT)
        })
        .map(|(version, _)| version.as_str())
}

/// createSecret without the plugin's own value: the current JSON with a new `password` (or,
/// for a secret that is not a JSON object, a new password as the whole value).
fn default_pending(context: &RotationContext) -> Result<SecretText, String> {
    let policy = PasswordPolicy {
        exclude_characters: DEFAULT_EXCLUDED.into(),
        ..PasswordPolicy::default()
    };
    let password = policy.generate().map_err(|err| err.to_string())?;
    let current = context
        .current
        .as_ref()
        .ok_or("the secret has no AWSCURRENT version to rotate")?;
    match serde_json::from_str(current.secret_string.expose()) {
        Ok(serde_json::Value::Object(mut fields)) => {
            fields.insert("password".into(), password.expose().into());
            Ok(SecretText::new(
                serde_json::Value::Object(fields).to_string(),
            ))
        }
        _ => Ok(password),
    }
}

/// Master secrets, read from the store the rotation runs on.
struct StoreLookup(Arc<dyn SecretStore>);

#[async_trait::async_trait]
impl SecretLookup for StoreLookup {
    async fn secret_string(&self, id: &str) -> Result<SecretText, String> {
        let answer = self
            .0
            .get_secret_value(GetSecretValueRequest::new(
                id,
                VersionSelector::stage(AWSCURRENT),
            ))
            .await
            .map_err(|err| err.to_string())?;
        answer
            .secret_string
            .ok_or_else(|| format!("{id} holds no SecretString"))
    }
}
