//! The embedded backend: Secrets Manager semantics on a local redb database.
//!
//! Every value is sealed with AES-256-GCM under its secret's data key, which is itself sealed by
//! the master key, so the database file holds no secret in clear. Every write is one ACID
//! transaction, durable when the call returns; a failed call changes nothing.

mod crypto;
mod paging;
mod record;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use redb::{
    Database, ReadTransaction, ReadableDatabase as _, ReadableTable, ReadableTableMetadata as _,
    TableDefinition, WriteTransaction,
};

use crypto::{DataKeyBytes, SealingKey};
pub use crypto::{KeyError, MasterKey, MasterKeySource};
use paging::{Cursor, PageTokens};
use record::{RotationSettings, SecretRecord, VersionRecord};

use super::arn::{ArnScope, SecretReference};
use super::password::PasswordPolicy;
use super::validate::{self, MAX_LABELS_PER_VERSION, MAX_TAGS};
use super::*;

/// name → ARN of the secret holding that name (live or scheduled for deletion).
const NAMES: TableDefinition<&str, &str> = TableDefinition::new("names");
/// ARN → JSON [`SecretRecord`].
const SECRETS: TableDefinition<&str, &[u8]> = TableDefinition::new("secrets");
/// (ARN, version id) → sealed value.
const VALUES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("values");
/// (creation time in ms, ARN): the order of ListSecrets.
const BY_CREATED: TableDefinition<(i64, &str), ()> = TableDefinition::new("by_created");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

const KEY_CHECK: &str = "master_key_check";
const KEY_CHECK_PLAINTEXT: &[u8] = b"secrets-gateway embedded store v1";
/// The service keeps at most 100 versions, purging unlabeled ones older than a day.
const MAX_VERSIONS: usize = 100;
const VERSION_PURGE_AGE_DAYS: i64 = 1;

#[derive(Clone, Debug)]
pub struct EmbeddedConfig {
    pub path: PathBuf,
    pub master_key: MasterKeySource,
    pub scope: ArnScope,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("cannot open the embedded store {path}")]
    Database {
        path: PathBuf,
        source: redb::DatabaseError,
    },
    #[error(
        "the master key does not match the one the embedded store {path} was created with; \
         refusing to start (check the key file or the environment variable)"
    )]
    WrongMasterKey { path: PathBuf },
    #[error("cannot initialise the embedded store {path}")]
    Storage { path: PathBuf, source: redb::Error },
}

/// A [`SecretStore`] on a local, encrypted redb database.
#[derive(Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

struct Inner {
    db: RwLock<Opened>,
    path: PathBuf,
    master: MasterKey,
    scope: ArnScope,
}

/// The database as last opened. redb refuses every transaction after an I/O error (a full
/// disk, say) until the file is opened again, which `Inner::reopen` does.
struct Opened {
    /// Counts the openings, so that callers who met the same error reopen only once.
    epoch: u64,
    /// `None` after a reopening failed; the next transaction tries again.
    db: Option<Database>,
}

fn open_database(path: &Path) -> Result<Database, redb::DatabaseError> {
    Database::builder().set_cache_size(32 << 20).create(path)
}

impl EmbeddedStore {
    /// Opens (or creates) the store, loading (or creating) the master key.
    ///
    /// # Errors
    /// A master key that does not open this store's key check is refused with
    /// [`OpenError::WrongMasterKey`]; the store never decrypts with a wrong key.
    pub fn open(config: &EmbeddedConfig) -> Result<Self, OpenError> {
        let master = MasterKey::load_or_create(&config.master_key)?;
        Self::open_with_key(&config.path, master, config.scope.clone())
    }

    pub fn open_with_key(
        path: &Path,
        master: MasterKey,
        scope: ArnScope,
    ) -> Result<Self, OpenError> {
        let db_err = |source| OpenError::Database {
            path: path.to_owned(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| db_err(redb::DatabaseError::Storage(e.into())))?;
        }
        let db = open_database(path).map_err(db_err)?;
        let storage_err = |source: redb::Error| OpenError::Storage {
            path: path.to_owned(),
            source,
        };
        let txn = db.begin_write().map_err(|e| storage_err(e.into()))?;
        let check = {
            // Opening each table in the first transaction creates it, so readers never meet a
            // missing table.
            txn.open_table(NAMES).map_err(|e| storage_err(e.into()))?;
            txn.open_table(SECRETS).map_err(|e| storage_err(e.into()))?;
            txn.open_table(VALUES).map_err(|e| storage_err(e.into()))?;
            txn.open_table(BY_CREATED)
                .map_err(|e| storage_err(e.into()))?;
            let mut meta = txn.open_table(META).map_err(|e| storage_err(e.into()))?;
            let existing = meta
                .get(KEY_CHECK)
                .map_err(|e| storage_err(e.into()))?
                .map(|guard| guard.value().to_vec());
            match existing {
                Some(sealed) => Some(sealed),
                None => {
                    let sealed = master.seal(KEY_CHECK.as_bytes(), KEY_CHECK_PLAINTEXT);
                    meta.insert(KEY_CHECK, sealed.as_slice())
                        .map_err(|e| storage_err(e.into()))?;
                    None
                }
            }
        };
        if let Some(sealed) = check {
            let opened = master.open(KEY_CHECK.as_bytes(), &sealed);
            if opened.as_deref().map(Vec::as_slice) != Some(KEY_CHECK_PLAINTEXT) {
                txn.abort().map_err(|e| storage_err(e.into()))?;
                return Err(OpenError::WrongMasterKey {
                    path: path.to_owned(),
                });
            }
        }
        txn.commit().map_err(|e| storage_err(e.into()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                db: RwLock::new(Opened {
                    epoch: 0,
                    db: Some(db),
                }),
                path: path.to_owned(),
                master,
                scope,
            }),
        })
    }

    pub fn scope(&self) -> &ArnScope {
        &self.inner.scope
    }

    /// Purges the secrets whose recovery window has ended. Returns how many were purged.
    pub async fn purge_expired(&self) -> StoreResult<usize> {
        self.blocking(|inner| inner.purge_expired(Timestamp::now()))
            .await
    }

    async fn blocking<T, F>(&self, operation: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> StoreResult<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || operation(&inner))
            .await
            .map_err(|_| StoreError::internal("the embedded store operation was interrupted"))?
    }
}

/// Maps a storage failure to an `InternalServiceError`. redb's messages name files and I/O
/// conditions, never stored values.
fn storage(err: impl Into<redb::Error>) -> StoreError {
    let err = err.into();
    tracing::error!(error = %err, "embedded store failure");
    StoreError::internal(format!("The embedded store failed: {err}"))
}

fn corrupt(arn: &str) -> StoreError {
    tracing::error!(arn, "embedded store record cannot be decoded");
    StoreError::internal("The embedded store holds a record it cannot decode.")
}

fn new_token() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn data_key_aad(arn: &str) -> Vec<u8> {
    [b"data-key\0".as_slice(), arn.as_bytes()].concat()
}

fn value_aad(arn: &str, version_id: &str, kind: ValueKind) -> Vec<u8> {
    let kind = match kind {
        ValueKind::String => b"string".as_slice(),
        ValueKind::Binary => b"binary".as_slice(),
    };
    [arn.as_bytes(), b"\0", version_id.as_bytes(), b"\0", kind].concat()
}

/// Reads a record by ARN from any readable view of the secrets table.
fn load<T: ReadableTable<&'static str, &'static [u8]>>(
    secrets: &T,
    arn: &str,
) -> StoreResult<Option<SecretRecord>> {
    let Some(guard) = secrets.get(arn).map_err(storage)? else {
        return Ok(None);
    };
    serde_json::from_slice(guard.value())
        .map(Some)
        .map_err(|_| corrupt(arn))
}

impl Inner {
    fn tokens(&self) -> PageTokens<'_> {
        PageTokens::new(&self.master)
    }

    fn read_txn(&self) -> StoreResult<ReadTransaction> {
        self.begin(|db| db.begin_read())
    }

    /// Begins a transaction, first opening the database again if an earlier I/O error left it
    /// refusing transactions: once the disk has room again, the store works again without a
    /// restart.
    fn begin<T>(
        &self,
        begin: impl Fn(&Database) -> Result<T, redb::TransactionError>,
    ) -> StoreResult<T> {
        let epoch = {
            let opened = self.db.read().expect("not poisoned");
            if let Some(db) = &opened.db {
                match begin(db).map_err(redb::Error::from) {
                    Err(redb::Error::PreviousIo) => {}
                    other => return other.map_err(storage),
                }
            }
            opened.epoch
        };
        self.reopen(epoch)?;
        let opened = self.db.read().expect("not poisoned");
        let db = opened.db.as_ref().ok_or_else(|| {
            StoreError::internal("The embedded store failed: it cannot be opened again.")
        })?;
        begin(db).map_err(storage)
    }

    fn reopen(&self, failed_epoch: u64) -> StoreResult<()> {
        let mut opened = self.db.write().expect("not poisoned");
        if opened.epoch != failed_epoch && opened.db.is_some() {
            return Ok(());
        }
        // The old handle goes first: it holds the file's lock.
        opened.db = None;
        opened.epoch += 1;
        let db = open_database(&self.path).map_err(storage)?;
        tracing::warn!(path = %self.path.display(), "opened the embedded store again after an I/O error");
        opened.db = Some(db);
        Ok(())
    }

    /// Runs `operation` in one write transaction: committed (durably) when it succeeds,
    /// rolled back when it fails.
    fn write<T>(
        &self,
        operation: impl FnOnce(&WriteTransaction) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let txn = self.begin(|db| db.begin_write())?;
        let written = match operation(&txn) {
            Ok(value) => txn.commit().map(|()| value).map_err(storage),
            Err(err) => txn.abort().map_err(storage).and(Err(err)),
        };
        if written
            .as_ref()
            .is_err_and(|err| err.code.is_server_fault())
        {
            self.recover();
        }
        written
    }

    /// After a write that failed in the store: if it left redb refusing transactions (an I/O
    /// error does), opens the database again now, so that reads, which redb refuses only
    /// later in the transaction, work again at once.
    fn recover(&self) {
        let epoch = {
            let opened = self.db.read().expect("not poisoned");
            let Some(db) = &opened.db else { return };
            match db.begin_write().map_err(redb::Error::from) {
                Err(redb::Error::PreviousIo) => {}
                Ok(txn) => return drop(txn.abort()),
                Err(_) => return,
            }
            opened.epoch
        };
        if let Err(err) = self.reopen(epoch) {
            tracing::warn!(error = %err.message, "the embedded store cannot be opened again yet");
        }
    }

    /// Finds the secret a `SecretId` names: a full ARN, a partial ARN (without the random
    /// suffix) or a name. Secrets past their recovery window count as gone.
    fn resolve<N, S>(&self, names: &N, secrets: &S, secret_id: &str) -> StoreResult<SecretRecord>
    where
        N: ReadableTable<&'static str, &'static str>,
        S: ReadableTable<&'static str, &'static [u8]>,
    {
        let by_name = |name: &str| -> StoreResult<Option<SecretRecord>> {
            let arn = names
                .get(name)
                .map_err(storage)?
                .map(|g| g.value().to_owned());
            match arn {
                Some(arn) => load(secrets, &arn),
                None => Ok(None),
            }
        };
        let found = match self.scope.classify(secret_id) {
            SecretReference::Name(name) => by_name(name)?,
            SecretReference::Arn { full, resource } => match load(secrets, full)? {
                Some(record) => Some(record),
                None => by_name(resource)?,
            },
            SecretReference::Foreign => None,
        };
        let now = Timestamp::now();
        found
            .filter(|record| record.deletion_date.is_none_or(|date| date > now))
            .ok_or_else(StoreError::secret_not_found)
    }

    fn resolve_in_write(
        &self,
        txn: &WriteTransaction,
        secret_id: &str,
    ) -> StoreResult<SecretRecord> {
        let names = txn.open_table(NAMES).map_err(storage)?;
        let secrets = txn.open_table(SECRETS).map_err(storage)?;
        self.resolve(&names, &secrets, secret_id)
    }

    fn resolve_in_read(&self, txn: &ReadTransaction, secret_id: &str) -> StoreResult<SecretRecord> {
        let names = txn.open_table(NAMES).map_err(storage)?;
        let secrets = txn.open_table(SECRETS).map_err(storage)?;
        self.resolve(&names, &secrets, secret_id)
    }

    /// Resolves a secret that must not be scheduled for deletion.
    fn resolve_live(&self, txn: &WriteTransaction, secret_id: &str) -> StoreResult<SecretRecord> {
        let record = self.resolve_in_write(txn, secret_id)?;
        if record.is_scheduled_for_deletion() {
            return Err(StoreError::marked_for_deletion());
        }
        Ok(record)
    }

    fn save(&self, txn: &WriteTransaction, record: &SecretRecord) -> StoreResult<()> {
        let json = serde_json::to_vec(record).map_err(|_| corrupt(&record.arn))?;
        txn.open_table(SECRETS)
            .map_err(storage)?
            .insert(record.arn.as_str(), json.as_slice())
            .map_err(storage)?;
        Ok(())
    }

    fn data_key(&self, record: &SecretRecord) -> StoreResult<SealingKey> {
        self.master
            .unwrap(&data_key_aad(&record.arn), &record.wrapped_key)
            .map(|bytes| bytes.key())
            .ok_or_else(|| {
                StoreError::new(
                    ErrorCode::DecryptionFailure,
                    "Secrets Manager can't decrypt the protected secret text using the provided \
                     KMS key.",
                )
            })
    }

    fn read_value(
        &self,
        values: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
        record: &SecretRecord,
        version: &VersionRecord,
    ) -> StoreResult<Option<SecretValue>> {
        let Some(kind) = version.kind else {
            return Ok(None);
        };
        let sealed = values
            .get((record.arn.as_str(), version.id.as_str()))
            .map_err(storage)?
            .map(|g| g.value().to_vec())
            .ok_or_else(|| corrupt(&record.arn))?;
        let key = self.data_key(record)?;
        let plaintext = key
            .open(&value_aad(&record.arn, &version.id, kind), &sealed)
            .ok_or_else(|| {
                StoreError::new(
                    ErrorCode::DecryptionFailure,
                    "Secrets Manager can't decrypt the protected secret text.",
                )
            })?;
        SecretValue::from_bytes(kind, plaintext)
            .map(Some)
            .ok_or_else(|| corrupt(&record.arn))
    }

    fn write_value(
        &self,
        txn: &WriteTransaction,
        record: &SecretRecord,
        version_id: &str,
        value: &SecretValue,
    ) -> StoreResult<()> {
        let key = self.data_key(record)?;
        let sealed = key.seal(
            &value_aad(&record.arn, version_id, value.kind()),
            value.as_bytes(),
        );
        txn.open_table(VALUES)
            .map_err(storage)?
            .insert((record.arn.as_str(), version_id), sealed.as_slice())
            .map_err(storage)?;
        Ok(())
    }

    /// Adds a version holding `value` under id `token`, or recognises a retry of the same
    /// request. Returns the version id and whether anything changed.
    ///
    /// `stages` of `None` means "make it AWSCURRENT", as PutSecretValue without VersionStages.
    fn add_version(
        &self,
        txn: &WriteTransaction,
        record: &mut SecretRecord,
        token: &str,
        value: &SecretValue,
        stages: Option<&[String]>,
    ) -> StoreResult<()> {
        let now = Timestamp::now();
        match record.version(token) {
            Some(existing) if existing.kind.is_some() => {
                let values = txn.open_table(VALUES).map_err(storage)?;
                let stored = self.read_value(&values, record, existing)?;
                return if stored.as_ref() == Some(value) {
                    Ok(())
                } else {
                    Err(StoreError::token_in_use(token, &record.arn))
                };
            }
            // A placeholder made by RotateSecret: this write fills it.
            Some(_) => {}
            None => record.versions.push(VersionRecord {
                id: token.to_owned(),
                stages: Vec::new(),
                created: now,
                last_accessed: None,
                kind: None,
            }),
        }
        self.write_value(txn, record, token, value)?;
        if let Some(version) = record.version_mut(token) {
            version.kind = Some(value.kind());
        }
        let default_stages = [AWSCURRENT.to_owned()];
        for label in stages.unwrap_or(&default_stages) {
            record.move_label(label, token);
        }
        if record.holder(AWSCURRENT).is_none() {
            record.move_label(AWSCURRENT, token);
        }
        check_label_count(record, token)?;
        self.purge_old_versions(txn, record, now)?;
        record.last_changed = now;
        Ok(())
    }

    /// Keeps at most [`MAX_VERSIONS`] versions by dropping the oldest unlabeled ones that are
    /// more than a day old.
    fn purge_old_versions(
        &self,
        txn: &WriteTransaction,
        record: &mut SecretRecord,
        now: Timestamp,
    ) -> StoreResult<()> {
        if record.versions.len() <= MAX_VERSIONS {
            return Ok(());
        }
        let cutoff = now.plus_days(-VERSION_PURGE_AGE_DAYS);
        let mut values = txn.open_table(VALUES).map_err(storage)?;
        while record.versions.len() > MAX_VERSIONS {
            let Some(index) = record
                .versions
                .iter()
                .position(|v| v.stages.is_empty() && v.created < cutoff)
            else {
                return Err(StoreError::new(
                    ErrorCode::LimitExceeded,
                    format!(
                        "You can't create more versions of {}: it has {MAX_VERSIONS} and none of \
                         its unlabeled versions is older than 24 hours.",
                        record.name
                    ),
                ));
            };
            let removed = record.versions.remove(index);
            values
                .remove((record.arn.as_str(), removed.id.as_str()))
                .map_err(storage)?;
        }
        Ok(())
    }

    fn remove_secret(&self, txn: &WriteTransaction, record: &SecretRecord) -> StoreResult<()> {
        txn.open_table(NAMES)
            .map_err(storage)?
            .remove(record.name.as_str())
            .map_err(storage)?;
        txn.open_table(SECRETS)
            .map_err(storage)?
            .remove(record.arn.as_str())
            .map_err(storage)?;
        txn.open_table(BY_CREATED)
            .map_err(storage)?
            .remove((record.created.as_millis(), record.arn.as_str()))
            .map_err(storage)?;
        let mut values = txn.open_table(VALUES).map_err(storage)?;
        for version in &record.versions {
            values
                .remove((record.arn.as_str(), version.id.as_str()))
                .map_err(storage)?;
        }
        Ok(())
    }

    fn purge_expired(&self, now: Timestamp) -> StoreResult<usize> {
        let expired: Vec<String> = {
            let txn = self.read_txn()?;
            let secrets = txn.open_table(SECRETS).map_err(storage)?;
            let mut expired = Vec::new();
            for entry in secrets.iter().map_err(storage)? {
                let (arn, json) = entry.map_err(storage)?;
                let arn = arn.value();
                let record: SecretRecord =
                    serde_json::from_slice(json.value()).map_err(|_| corrupt(arn))?;
                if record.deletion_date.is_some_and(|date| date <= now) {
                    expired.push(arn.to_owned());
                }
            }
            expired
        };
        if expired.is_empty() {
            return Ok(0);
        }
        self.write(|txn| {
            for arn in &expired {
                let record = load(&txn.open_table(SECRETS).map_err(storage)?, arn)?;
                if let Some(record) = record.filter(|r| r.deletion_date.is_some_and(|d| d <= now)) {
                    self.remove_secret(txn, &record)?;
                    tracing::info!(arn = %record.arn, "purged secret after its recovery window");
                }
            }
            Ok(expired.len())
        })
    }

    // -----------------------------------------------------------------------------------------
    // Operations

    fn create_secret(&self, request: CreateSecretRequest) -> StoreResult<CreateSecretResponse> {
        validate::name(&request.name)?;
        validate::client_request_token(request.client_request_token.as_deref())?;
        validate::description(request.description.as_deref())?;
        validate::kms_key_id(request.kms_key_id.as_deref())?;
        validate::tags(&request.tags)?;
        check_tag_count(request.tags.len())?;
        if !request.add_replica_regions.is_empty() {
            return Err(StoreError::invalid_request(
                "This gateway serves a single region: replica regions are not supported.",
            ));
        }
        let value = validate::value(request.secret_string, request.secret_binary)?;
        let token = request
            .client_request_token
            .clone()
            .unwrap_or_else(new_token);
        let name = request.name;

        self.write(|txn| {
            let existing = match self.resolve_in_write(txn, &name) {
                Ok(record) => Some(record),
                Err(err) if err.is(ErrorCode::ResourceNotFound) => None,
                Err(err) => return Err(err),
            };
            if let Some(record) = existing {
                return self.retried_create(
                    txn,
                    record,
                    request.client_request_token.as_deref(),
                    value.as_ref(),
                );
            }
            // A secret past its recovery window may still hold the name until the next sweep.
            self.purge_name(txn, &name)?;

            let arn = self.unique_arn(txn, &name)?;
            let now = Timestamp::now();
            let data_key = DataKeyBytes::generate();
            let mut record = SecretRecord {
                wrapped_key: self.master.wrap(&data_key_aad(&arn), &data_key),
                arn,
                name: name.clone(),
                description: request.description,
                kms_key_id: request.kms_key_id,
                created: now,
                last_changed: now,
                last_accessed: None,
                deletion_date: None,
                tags: dedup_tags(request.tags),
                versions: Vec::new(),
                creation_token: request.client_request_token,
                rotation: RotationSettings::default(),
            };
            let version_id = match &value {
                Some(value) => {
                    self.add_version(txn, &mut record, &token, value, None)?;
                    Some(token)
                }
                None => None,
            };
            txn.open_table(NAMES)
                .map_err(storage)?
                .insert(name.as_str(), record.arn.as_str())
                .map_err(storage)?;
            txn.open_table(BY_CREATED)
                .map_err(storage)?
                .insert((record.created.as_millis(), record.arn.as_str()), ())
                .map_err(storage)?;
            self.save(txn, &record)?;
            Ok(CreateSecretResponse {
                secret: record.reference(),
                version_id,
            })
        })
    }

    /// CreateSecret on a name that exists: success only for a retry of the same request.
    fn retried_create(
        &self,
        txn: &WriteTransaction,
        record: SecretRecord,
        token: Option<&str>,
        value: Option<&SecretValue>,
    ) -> StoreResult<CreateSecretResponse> {
        if record.is_scheduled_for_deletion() {
            return Err(StoreError::invalid_request(
                "You can't create this secret because a secret with this name is already \
                 scheduled for deletion.",
            ));
        }
        let exists = || {
            StoreError::new(
                ErrorCode::ResourceExists,
                format!(
                    "The operation failed because the secret {} already exists.",
                    record.name
                ),
            )
        };
        let Some(token) = token else {
            return Err(exists());
        };
        match (record.version(token), value) {
            (Some(version), Some(value)) => {
                let values = txn.open_table(VALUES).map_err(storage)?;
                if self.read_value(&values, &record, version)?.as_ref() == Some(value) {
                    Ok(CreateSecretResponse {
                        secret: record.reference(),
                        version_id: Some(token.to_owned()),
                    })
                } else {
                    Err(StoreError::token_in_use(token, &record.arn))
                }
            }
            (None, None) if record.creation_token.as_deref() == Some(token) => {
                Ok(CreateSecretResponse {
                    secret: record.reference(),
                    version_id: None,
                })
            }
            _ => Err(exists()),
        }
    }

    fn purge_name(&self, txn: &WriteTransaction, name: &str) -> StoreResult<()> {
        let arn = txn
            .open_table(NAMES)
            .map_err(storage)?
            .get(name)
            .map_err(storage)?
            .map(|g| g.value().to_owned());
        if let Some(arn) = arn
            && let Some(record) = load(&txn.open_table(SECRETS).map_err(storage)?, &arn)?
        {
            self.remove_secret(txn, &record)?;
        }
        Ok(())
    }

    fn unique_arn(&self, txn: &WriteTransaction, name: &str) -> StoreResult<String> {
        let secrets = txn.open_table(SECRETS).map_err(storage)?;
        loop {
            let arn = self.scope.new_secret_arn(name);
            if secrets.get(arn.as_str()).map_err(storage)?.is_none() {
                return Ok(arn);
            }
        }
    }

    fn get_secret_value(
        &self,
        request: GetSecretValueRequest,
    ) -> StoreResult<GetSecretValueResponse> {
        validate::secret_id(&request.secret_id)?;
        validate::version_id("versionId", request.version_id.as_deref())?;
        if let Some(stage) = &request.version_stage {
            validate::version_stage("versionStage", stage)?;
        }
        let txn = self.read_txn()?;
        let record = self.resolve_in_read(&txn, &request.secret_id)?;
        let values = txn.open_table(VALUES).map_err(storage)?;
        let response = self.read_version(&values, &record, &request.selector())?;
        drop(values);
        drop(txn);
        self.record_access(&record, &response.version_id);
        Ok(response)
    }

    fn read_version(
        &self,
        values: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
        record: &SecretRecord,
        selector: &VersionSelector,
    ) -> StoreResult<GetSecretValueResponse> {
        if record.is_scheduled_for_deletion() {
            return Err(StoreError::marked_for_deletion());
        }
        let not_found = |what: String| {
            StoreError::new(
                ErrorCode::ResourceNotFound,
                format!("Secrets Manager can't find the specified secret value for {what}"),
            )
        };
        let version = match (&selector.version_id, &selector.version_stage) {
            (Some(id), stage) => {
                let version = record
                    .version(id)
                    .ok_or_else(|| not_found(format!("VersionId: {id}")))?;
                if let Some(stage) = stage
                    && !version.has(stage)
                {
                    return Err(StoreError::invalid_request(
                        "You provided a VersionStage that is not associated to the provided \
                         VersionId.",
                    ));
                }
                version
            }
            (None, stage) => {
                let stage = stage.as_deref().unwrap_or(AWSCURRENT);
                record
                    .holder(stage)
                    .and_then(|id| record.version(id))
                    .ok_or_else(|| not_found(format!("staging label: {stage}")))?
            }
        };
        let value = self.read_value(values, record, version)?.ok_or_else(|| {
            match &selector.version_id {
                Some(id) => not_found(format!("VersionId: {id}")),
                None => not_found(format!(
                    "staging label: {}",
                    selector.version_stage.as_deref().unwrap_or(AWSCURRENT)
                )),
            }
        })?;
        let (secret_string, secret_binary) = value.into_members();
        Ok(GetSecretValueResponse {
            secret: record.reference(),
            version_id: version.id.clone(),
            secret_string,
            secret_binary,
            version_stages: version.stages.clone(),
            created_date: version.created,
        })
    }

    /// Moves `LastAccessedDate` (day resolution) when the day changed. Best effort: a read
    /// succeeds even when this bookkeeping cannot be written (a full disk, say).
    fn record_access(&self, record: &SecretRecord, version_id: &str) {
        let today = Timestamp::now().day();
        let version_seen = record.version(version_id).and_then(|v| v.last_accessed);
        if record.last_accessed == Some(today) && version_seen == Some(today) {
            return;
        }
        let result = self.write(|txn| {
            let mut fresh = match load(&txn.open_table(SECRETS).map_err(storage)?, &record.arn)? {
                Some(fresh) => fresh,
                None => return Ok(()),
            };
            fresh.last_accessed = Some(today);
            if let Some(version) = fresh.version_mut(version_id) {
                version.last_accessed = Some(today);
            }
            self.save(txn, &fresh)
        });
        if let Err(err) = result {
            tracing::warn!(arn = %record.arn, error = %err, "could not record LastAccessedDate");
        }
    }

    fn batch_get_secret_value(
        &self,
        request: BatchGetSecretValueRequest,
    ) -> StoreResult<BatchGetSecretValueResponse> {
        validate::next_token(request.next_token.as_deref())?;
        match (request.secret_id_list, request.filters) {
            (Some(_), Some(_)) => Err(StoreError::invalid_parameter(
                "Either SecretIdList or Filters must be provided, but not both.",
            )),
            (None, None) => Err(StoreError::invalid_parameter(
                "Either SecretIdList or Filters must be provided.",
            )),
            (Some(ids), None) => {
                if request.max_results.is_some() {
                    return Err(StoreError::invalid_parameter(
                        "MaxResults can only be used together with Filters.",
                    ));
                }
                if ids.is_empty() || ids.len() > 20 {
                    return Err(StoreError::validation(
                        "secretIdList",
                        "Member must have length between 1 and 20",
                    ));
                }
                ids.iter().try_for_each(|id| validate::secret_id(id))?;
                let mut response = BatchGetSecretValueResponse::default();
                for id in ids {
                    let request =
                        GetSecretValueRequest::new(id.clone(), VersionSelector::current());
                    match self.get_secret_value(request) {
                        Ok(value) => response.secret_values.push(value),
                        Err(err) if err.code.is_server_fault() => return Err(err),
                        Err(err) => response.errors.push(BatchGetError {
                            secret_id: id,
                            error_code: err.code.as_str().to_owned(),
                            message: err.message,
                        }),
                    }
                }
                Ok(response)
            }
            (None, Some(filters)) => {
                let max = request.max_results.unwrap_or(20);
                validate::range("maxResults", max, 1, 20)?;
                let page = self.list_page(
                    &filters,
                    false,
                    SortOrder::Desc,
                    max as usize,
                    request.next_token.as_deref(),
                    "BatchGetSecretValue",
                )?;
                let mut response = BatchGetSecretValueResponse {
                    next_token: page.next_token,
                    ..Default::default()
                };
                let txn = self.read_txn()?;
                let values = txn.open_table(VALUES).map_err(storage)?;
                let mut read = Vec::new();
                for record in page.records {
                    match self.read_version(&values, &record, &VersionSelector::current()) {
                        Ok(value) => read.push((record, value)),
                        Err(err) if err.code.is_server_fault() => return Err(err),
                        Err(err) => response.errors.push(BatchGetError {
                            secret_id: record.arn.clone(),
                            error_code: err.code.as_str().to_owned(),
                            message: err.message,
                        }),
                    }
                }
                drop(values);
                drop(txn);
                for (record, value) in read {
                    self.record_access(&record, &value.version_id);
                    response.secret_values.push(value);
                }
                Ok(response)
            }
        }
    }

    fn put_secret_value(
        &self,
        request: PutSecretValueRequest,
    ) -> StoreResult<PutSecretValueResponse> {
        validate::secret_id(&request.secret_id)?;
        validate::client_request_token(request.client_request_token.as_deref())?;
        if let Some(stages) = &request.version_stages {
            validate::version_stages(stages)?;
        }
        let value =
            validate::value(request.secret_string, request.secret_binary)?.ok_or_else(|| {
                StoreError::invalid_request("You must provide either SecretString or SecretBinary.")
            })?;
        let token = request.client_request_token.unwrap_or_else(new_token);
        self.write(|txn| {
            let mut record = self.resolve_live(txn, &request.secret_id)?;
            self.add_version(
                txn,
                &mut record,
                &token,
                &value,
                request.version_stages.as_deref(),
            )?;
            self.save(txn, &record)?;
            let version_stages = record
                .version(&token)
                .map(|v| v.stages.clone())
                .unwrap_or_default();
            Ok(PutSecretValueResponse {
                secret: record.reference(),
                version_id: token,
                version_stages,
            })
        })
    }

    fn update_secret(&self, request: UpdateSecretRequest) -> StoreResult<UpdateSecretResponse> {
        validate::secret_id(&request.secret_id)?;
        validate::client_request_token(request.client_request_token.as_deref())?;
        validate::description(request.description.as_deref())?;
        validate::kms_key_id(request.kms_key_id.as_deref())?;
        let value = validate::value(request.secret_string, request.secret_binary)?;
        let token = request.client_request_token.unwrap_or_else(new_token);
        self.write(|txn| {
            let mut record = self.resolve_live(txn, &request.secret_id)?;
            if let Some(description) = request.description {
                record.description = Some(description);
            }
            if let Some(kms_key_id) = request.kms_key_id {
                record.kms_key_id = Some(kms_key_id);
            }
            let version_id = match &value {
                Some(value) => {
                    self.add_version(txn, &mut record, &token, value, None)?;
                    Some(token)
                }
                None => None,
            };
            record.last_changed = Timestamp::now();
            self.save(txn, &record)?;
            Ok(UpdateSecretResponse {
                secret: record.reference(),
                version_id,
            })
        })
    }

    fn update_secret_version_stage(
        &self,
        request: UpdateSecretVersionStageRequest,
    ) -> StoreResult<SecretRef> {
        validate::secret_id(&request.secret_id)?;
        validate::version_stage("versionStage", &request.version_stage)?;
        validate::version_id(
            "removeFromVersionId",
            request.remove_from_version_id.as_deref(),
        )?;
        validate::version_id("moveToVersionId", request.move_to_version_id.as_deref())?;
        let label = request.version_stage.as_str();
        let remove = request.remove_from_version_id.as_deref();
        let target = request.move_to_version_id.as_deref();
        self.write(|txn| {
            let mut record = self.resolve_live(txn, &request.secret_id)?;
            for id in remove.into_iter().chain(target) {
                if record.version(id).is_none() {
                    return Err(StoreError::invalid_parameter(format!(
                        "Secrets Manager can't find the specified version {id} of the secret."
                    )));
                }
            }
            let holder = record.holder(label).map(str::to_owned);
            match target {
                Some(target) if holder.as_deref() == Some(target) => return Ok(record.reference()),
                Some(target) => {
                    if let Some(holder) = &holder {
                        match remove {
                            None => {
                                return Err(StoreError::invalid_parameter(format!(
                                    "The parameter RemoveFromVersionId can't be empty. Staging \
                                     label {label} is currently attached to version {holder}, so \
                                     you must explicitly reference that version in \
                                     RemoveFromVersionId."
                                )));
                            }
                            Some(remove) if remove != holder => {
                                return Err(not_attached(label, remove));
                            }
                            Some(_) => {}
                        }
                    } else if let Some(remove) = remove {
                        return Err(not_attached(label, remove));
                    }
                    record.move_label(label, target);
                    check_label_count(&record, target)?;
                }
                None => {
                    let Some(remove) = remove else {
                        return Err(StoreError::invalid_parameter(
                            "You must specify MoveToVersionId, RemoveFromVersionId or both.",
                        ));
                    };
                    if holder.as_deref() != Some(remove) {
                        return Err(not_attached(label, remove));
                    }
                    if label == AWSCURRENT {
                        return Err(StoreError::invalid_parameter(
                            "You can't remove the staging label AWSCURRENT from a version \
                             without moving it to another version.",
                        ));
                    }
                    record.remove_label(label);
                }
            }
            record.last_changed = Timestamp::now();
            self.save(txn, &record)?;
            Ok(record.reference())
        })
    }

    fn describe_secret(
        &self,
        request: DescribeSecretRequest,
    ) -> StoreResult<DescribeSecretResponse> {
        validate::secret_id(&request.secret_id)?;
        let txn = self.read_txn()?;
        Ok(self.resolve_in_read(&txn, &request.secret_id)?.describe())
    }

    fn list_secrets(&self, request: ListSecretsRequest) -> StoreResult<ListSecretsResponse> {
        let max = request.max_results.unwrap_or(100);
        validate::range("maxResults", max, 1, 100)?;
        validate::next_token(request.next_token.as_deref())?;
        let page = self.list_page(
            &request.filters,
            request.include_planned_deletion.unwrap_or(false),
            request.sort_order.unwrap_or_default(),
            max as usize,
            request.next_token.as_deref(),
            "ListSecrets",
        )?;
        Ok(ListSecretsResponse {
            secret_list: page.records.iter().map(SecretRecord::list_entry).collect(),
            next_token: page.next_token,
        })
    }

    /// One page of secrets in creation order, resuming after the cursor of `next_token`.
    fn list_page(
        &self,
        filters: &[Filter],
        include_planned_deletion: bool,
        order: SortOrder,
        max: usize,
        next_token: Option<&str>,
        operation: &str,
    ) -> StoreResult<Page> {
        filter::validate(filters)?;
        let query = paging::fingerprint(operation, filters, include_planned_deletion, order);
        let cursor = next_token
            .map(|token| self.tokens().open(token, &query))
            .transpose()?;
        let txn = self.read_txn()?;
        let secrets = txn.open_table(SECRETS).map_err(storage)?;
        let index = txn.open_table(BY_CREATED).map_err(storage)?;
        let (start, end) = match (&cursor, order) {
            (None, _) => (std::ops::Bound::Unbounded, std::ops::Bound::Unbounded),
            (Some(c), SortOrder::Asc) => (
                std::ops::Bound::Excluded((c.created, c.arn.as_str())),
                std::ops::Bound::Unbounded,
            ),
            (Some(c), SortOrder::Desc) => (
                std::ops::Bound::Unbounded,
                std::ops::Bound::Excluded((c.created, c.arn.as_str())),
            ),
        };
        let range = index.range::<(i64, &str)>((start, end)).map_err(storage)?;
        let entries: Box<dyn Iterator<Item = _>> = match order {
            SortOrder::Asc => Box::new(range),
            SortOrder::Desc => Box::new(range.rev()),
        };
        let now = Timestamp::now();
        let mut records = Vec::new();
        let mut more = false;
        for entry in entries {
            let (key, _) = entry.map_err(storage)?;
            let (_, arn) = key.value();
            let Some(record) = load(&secrets, arn)? else {
                continue;
            };
            if record.deletion_date.is_some_and(|d| d <= now)
                || (record.is_scheduled_for_deletion() && !include_planned_deletion)
                || !filter::matches(filters, &self.attributes(&record))
            {
                continue;
            }
            if records.len() == max {
                more = true;
                break;
            }
            records.push(record);
        }
        let next_token = match records.last() {
            Some(last) if more => Some(self.tokens().seal(
                &Cursor {
                    created: last.created.as_millis(),
                    arn: last.arn.clone(),
                },
                &query,
            )),
            _ => None,
        };
        Ok(Page {
            records,
            next_token,
        })
    }

    fn attributes<'a>(&'a self, record: &'a SecretRecord) -> filter::Attributes<'a> {
        filter::Attributes {
            name: &record.name,
            description: record.description.as_deref(),
            tags: &record.tags,
            owning_service: None,
            primary_region: &self.scope.region,
        }
    }

    fn list_secret_version_ids(
        &self,
        request: ListSecretVersionIdsRequest,
    ) -> StoreResult<ListSecretVersionIdsResponse> {
        validate::secret_id(&request.secret_id)?;
        let max = request.max_results.unwrap_or(100);
        validate::range("maxResults", max, 1, 100)?;
        validate::next_token(request.next_token.as_deref())?;
        let txn = self.read_txn()?;
        let record = self.resolve_in_read(&txn, &request.secret_id)?;
        let include_deprecated = request.include_deprecated.unwrap_or(false);
        let query = format!("ListSecretVersionIds\0{}\0{include_deprecated}", record.arn);
        let cursor = request
            .next_token
            .as_deref()
            .map(|t| self.tokens().open(t, &query))
            .transpose()?;
        let kms_key_ids = vec![
            record
                .kms_key_id
                .clone()
                .filter(|k| !k.is_empty())
                .unwrap_or_else(|| "DefaultEncryptionKey".into()),
        ];
        let mut versions: Vec<&VersionRecord> = record
            .versions
            .iter()
            .filter(|v| include_deprecated || !v.stages.is_empty())
            .collect();
        // Newest first; the cursor is the (created, id) of the last version returned.
        versions.sort_by(|a, b| (b.created, &b.id).cmp(&(a.created, &a.id)));
        if let Some(cursor) = &cursor {
            versions.retain(|v| {
                (v.created.as_millis(), v.id.as_str()) < (cursor.created, cursor.arn.as_str())
            });
        }
        let more = versions.len() > max as usize;
        versions.truncate(max as usize);
        let next_token = versions.last().filter(|_| more).map(|last| {
            self.tokens().seal(
                &Cursor {
                    created: last.created.as_millis(),
                    arn: last.id.clone(),
                },
                &query,
            )
        });
        Ok(ListSecretVersionIdsResponse {
            versions: versions
                .into_iter()
                .map(|v| SecretVersionsListEntry {
                    version_id: v.id.clone(),
                    version_stages: v.stages.clone(),
                    last_accessed_date: v.last_accessed,
                    created_date: v.created,
                    kms_key_ids: kms_key_ids.clone(),
                })
                .collect(),
            next_token,
            arn: record.arn.clone(),
            name: record.name.clone(),
        })
    }

    fn delete_secret(&self, request: DeleteSecretRequest) -> StoreResult<DeleteSecretResponse> {
        validate::secret_id(&request.secret_id)?;
        let force = request.force_delete_without_recovery.unwrap_or(false);
        if let Some(days) = request.recovery_window_in_days {
            if force {
                return Err(StoreError::invalid_parameter(
                    "You can't use ForceDeleteWithoutRecovery in conjunction with \
                     RecoveryWindowInDays.",
                ));
            }
            if !(7..=30).contains(&days) {
                return Err(StoreError::invalid_parameter(
                    "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).",
                ));
            }
        }
        let window = request.recovery_window_in_days.unwrap_or(30);
        self.write(|txn| {
            let now = Timestamp::now();
            let record = match self.resolve_in_write(txn, &request.secret_id) {
                Ok(record) => record,
                // Forced deletion of a secret that does not exist succeeds, as in the service.
                Err(err) if force && err.is(ErrorCode::ResourceNotFound) => {
                    let name = match self.scope.classify(&request.secret_id) {
                        SecretReference::Arn { resource, .. } => resource.to_owned(),
                        _ => request.secret_id.clone(),
                    };
                    return Ok(DeleteSecretResponse {
                        secret: SecretRef {
                            arn: self.scope.new_secret_arn(&name),
                            name,
                        },
                        deletion_date: now,
                    });
                }
                Err(err) => return Err(err),
            };
            if force {
                self.remove_secret(txn, &record)?;
                return Ok(DeleteSecretResponse {
                    secret: record.reference(),
                    deletion_date: now,
                });
            }
            if record.is_scheduled_for_deletion() {
                return Err(StoreError::invalid_request(
                    "You tried to perform the operation on a secret that's currently marked \
                     deleted.",
                ));
            }
            let mut record = record;
            let deletion_date = now.plus_days(window);
            record.deletion_date = Some(deletion_date);
            record.last_changed = now;
            self.save(txn, &record)?;
            Ok(DeleteSecretResponse {
                secret: record.reference(),
                deletion_date,
            })
        })
    }

    fn restore_secret(&self, request: RestoreSecretRequest) -> StoreResult<SecretRef> {
        validate::secret_id(&request.secret_id)?;
        self.write(|txn| {
            let mut record = self.resolve_in_write(txn, &request.secret_id)?;
            if record.deletion_date.take().is_some() {
                record.last_changed = Timestamp::now();
                self.save(txn, &record)?;
            }
            Ok(record.reference())
        })
    }

    fn tag_resource(&self, request: TagResourceRequest) -> StoreResult<Empty> {
        validate::secret_id(&request.secret_id)?;
        validate::tags(&request.tags)?;
        self.write(|txn| {
            let mut record = self.resolve_live(txn, &request.secret_id)?;
            for tag in request.tags {
                match record.tags.iter_mut().find(|t| t.key == tag.key) {
                    Some(existing) => existing.value = tag.value,
                    None => record.tags.push(tag),
                }
            }
            check_tag_count(record.tags.len())?;
            record.last_changed = Timestamp::now();
            self.save(txn, &record)?;
            Ok(Empty {})
        })
    }

    fn untag_resource(&self, request: UntagResourceRequest) -> StoreResult<Empty> {
        validate::secret_id(&request.secret_id)?;
        validate::tag_keys(&request.tag_keys)?;
        self.write(|txn| {
            let mut record = self.resolve_live(txn, &request.secret_id)?;
            record.tags.retain(|t| !request.tag_keys.contains(&t.key));
            record.last_changed = Timestamp::now();
            self.save(txn, &record)?;
            Ok(Empty {})
        })
    }

    fn update_rotation(&self, request: UpdateRotationRequest) -> StoreResult<SecretRef> {
        validate::secret_id(&request.secret_id)?;
        self.write(|txn| {
            let mut record = self.resolve_live(txn, &request.secret_id)?;
            let rotation = &mut record.rotation;
            match request.change {
                RotationChange::Configure {
                    lambda_arn,
                    rules,
                    next_rotation,
                } => {
                    rotation.enabled = Some(true);
                    rotation.lambda_arn = Some(lambda_arn);
                    rotation.rules = rules;
                    rotation.next_rotation = next_rotation;
                }
                RotationChange::Disable => rotation.enabled = Some(false),
                RotationChange::Rotated { at, next_rotation } => {
                    rotation.last_rotated = Some(at);
                    rotation.next_rotation = next_rotation;
                }
                RotationChange::Reschedule { next_rotation } => {
                    rotation.next_rotation = Some(next_rotation);
                }
            }
            record.last_changed = Timestamp::now();
            self.save(txn, &record)?;
            Ok(SecretRef {
                arn: record.arn.clone(),
                name: record.name.clone(),
            })
        })
    }

    fn check_ready(&self) -> StoreResult<()> {
        let txn = self.read_txn()?;
        txn.open_table(SECRETS)
            .map_err(storage)?
            .len()
            .map_err(storage)?;
        Ok(())
    }
}

struct Page {
    records: Vec<SecretRecord>,
    next_token: Option<String>,
}

fn not_attached(label: &str, version_id: &str) -> StoreError {
    StoreError::invalid_parameter(format!(
        "The staging label {label} is not attached to version {version_id}, so you can't \
         remove it from that version."
    ))
}

fn check_label_count(record: &SecretRecord, version_id: &str) -> StoreResult<()> {
    let count = record.version(version_id).map_or(0, |v| v.stages.len());
    if count > MAX_LABELS_PER_VERSION {
        return Err(StoreError::new(
            ErrorCode::LimitExceeded,
            format!("A version can't have more than {MAX_LABELS_PER_VERSION} staging labels."),
        ));
    }
    Ok(())
}

fn check_tag_count(count: usize) -> StoreResult<()> {
    if count > MAX_TAGS {
        return Err(StoreError::new(
            ErrorCode::LimitExceeded,
            format!("A secret can't have more than {MAX_TAGS} tags."),
        ));
    }
    Ok(())
}

/// Later tags with the same key replace earlier ones, as TagResource does.
fn dedup_tags(tags: Vec<Tag>) -> Vec<Tag> {
    let mut unique: Vec<Tag> = Vec::with_capacity(tags.len());
    for tag in tags {
        match unique.iter_mut().find(|t| t.key == tag.key) {
            Some(existing) => existing.value = tag.value,
            None => unique.push(tag),
        }
    }
    unique
}

#[async_trait]
impl SecretStore for EmbeddedStore {
    async fn create_secret(
        &self,
        request: CreateSecretRequest,
    ) -> StoreResult<CreateSecretResponse> {
        self.blocking(move |inner| inner.create_secret(request))
            .await
    }

    async fn get_secret_value(
        &self,
        request: GetSecretValueRequest,
    ) -> StoreResult<GetSecretValueResponse> {
        self.blocking(move |inner| inner.get_secret_value(request))
            .await
    }

    async fn batch_get_secret_value(
        &self,
        request: BatchGetSecretValueRequest,
    ) -> StoreResult<BatchGetSecretValueResponse> {
        self.blocking(move |inner| inner.batch_get_secret_value(request))
            .await
    }

    async fn put_secret_value(
        &self,
        request: PutSecretValueRequest,
    ) -> StoreResult<PutSecretValueResponse> {
        self.blocking(move |inner| inner.put_secret_value(request))
            .await
    }

    async fn update_secret(
        &self,
        request: UpdateSecretRequest,
    ) -> StoreResult<UpdateSecretResponse> {
        self.blocking(move |inner| inner.update_secret(request))
            .await
    }

    async fn update_secret_version_stage(
        &self,
        request: UpdateSecretVersionStageRequest,
    ) -> StoreResult<SecretRef> {
        self.blocking(move |inner| inner.update_secret_version_stage(request))
            .await
    }

    async fn describe_secret(
        &self,
        request: DescribeSecretRequest,
    ) -> StoreResult<DescribeSecretResponse> {
        self.blocking(move |inner| inner.describe_secret(request))
            .await
    }

    async fn list_secrets(&self, request: ListSecretsRequest) -> StoreResult<ListSecretsResponse> {
        self.blocking(move |inner| inner.list_secrets(request))
            .await
    }

    async fn list_secret_version_ids(
        &self,
        request: ListSecretVersionIdsRequest,
    ) -> StoreResult<ListSecretVersionIdsResponse> {
        self.blocking(move |inner| inner.list_secret_version_ids(request))
            .await
    }

    async fn delete_secret(
        &self,
        request: DeleteSecretRequest,
    ) -> StoreResult<DeleteSecretResponse> {
        self.blocking(move |inner| inner.delete_secret(request))
            .await
    }

    async fn restore_secret(&self, request: RestoreSecretRequest) -> StoreResult<SecretRef> {
        self.blocking(move |inner| inner.restore_secret(request))
            .await
    }

    async fn get_random_password(
        &self,
        request: GetRandomPasswordRequest,
    ) -> StoreResult<GetRandomPasswordResponse> {
        let random_password = PasswordPolicy::from_request(&request)?.generate()?;
        Ok(GetRandomPasswordResponse { random_password })
    }

    async fn tag_resource(&self, request: TagResourceRequest) -> StoreResult<Empty> {
        self.blocking(move |inner| inner.tag_resource(request))
            .await
    }

    async fn untag_resource(&self, request: UntagResourceRequest) -> StoreResult<Empty> {
        self.blocking(move |inner| inner.untag_resource(request))
            .await
    }

    async fn update_rotation(&self, request: UpdateRotationRequest) -> StoreResult<SecretRef> {
        self.blocking(move |inner| inner.update_rotation(request))
            .await
    }

    async fn check_ready(&self) -> StoreResult<()> {
        self.blocking(Inner::check_ready).await
    }
}
