//! Keeps file-backed material current: the policy file and the TLS files are re-read when
//! their contents change and on SIGHUP, which also reopens the audit log.
//!
//! Changes are found by polling a digest of each file's contents rather than by inotify:
//! orchestrators replace mounted secrets by swapping a symlinked directory, which a watch on
//! the old inode never reports, while a poll of a few small files every couple of seconds
//! costs nothing measurable. A file caught half-written fails to load, keeps the material in
//! force, and loads on the next poll once complete.

use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};

use crate::audit::AuditLog;
use crate::authz::Authorizer;
use crate::metrics::{ReloadLabels, SharedMetrics};
use crate::tls::LiveTlsConfig;

/// Material that can be reloaded from files.
pub enum Reloadable {
    Policy(Arc<Authorizer>),
    Tls(Arc<LiveTlsConfig>),
}

impl Reloadable {
    fn what(&self) -> &'static str {
        match self {
            Self::Policy(_) => "policy",
            Self::Tls(_) => "tls",
        }
    }

    fn files(&self) -> Vec<PathBuf> {
        match self {
            Self::Policy(authz) => authz.file().map(|f| f.to_owned()).into_iter().collect(),
            Self::Tls(tls) => {
                let files = tls.files();
                let mut paths = vec![
                    files.cert.clone(),
                    files.key.clone(),
                    files.client_ca.clone(),
                ];
                paths.extend(files.crl.clone());
                paths
            }
        }
    }

    fn reload(&self) -> Result<(), String> {
        match self {
            Self::Policy(authz) => authz
                .reload()
                .map(|statements| tracing::info!(statements, "policy reloaded"))
                .map_err(|err| crate::error_chain(&err)),
            Self::Tls(tls) => tls
                .reload()
                .map(|()| tracing::info!("TLS certificates, client CAs and CRL reloaded"))
                .map_err(|err| crate::error_chain(&err)),
        }
    }
}

/// A digest of the files' contents; a file that cannot be read counts as its own state.
fn fingerprint(files: &[PathBuf]) -> u64 {
    let mut hasher = DefaultHasher::new();
    for file in files {
        match std::fs::read(file) {
            Ok(bytes) => bytes.hash(&mut hasher),
            Err(err) => err.kind().hash(&mut hasher),
        }
    }
    hasher.finish()
}

pub struct Reloader {
    items: Vec<(Reloadable, u64)>,
    audit: Arc<AuditLog>,
    metrics: SharedMetrics,
}

impl Reloader {
    pub fn new(items: Vec<Reloadable>, audit: Arc<AuditLog>, metrics: SharedMetrics) -> Self {
        let items = items
            .into_iter()
            .map(|item| {
                let digest = fingerprint(&item.files());
                (item, digest)
            })
            .collect();
        Self {
            items,
            audit,
            metrics,
        }
    }

    /// Polls every `interval` and listens for SIGHUP, forever.
    pub async fn run(mut self, interval: Duration) {
        let mut hangup = match signal(SignalKind::hangup()) {
            Ok(hangup) => Some(hangup),
            Err(err) => {
                tracing::warn!(error = %err, "no SIGHUP handler: reloads happen on file change only");
                None
            }
        };
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => self.poll(false),
                Some(()) = async { hangup.as_mut()?.recv().await } => {
                    tracing::info!("SIGHUP: reloading");
                    if let Err(err) = self.audit.reopen() {
                        tracing::error!(error = %crate::error_chain(&err), "audit log not reopened; still writing to the file open before");
                    }
                    self.poll(true);
                }
            }
        }
    }

    fn poll(&mut self, force: bool) {
        for (item, digest) in &mut self.items {
            let now = fingerprint(&item.files());
            if now == *digest && !force {
                continue;
            }
            *digest = now;
            let what = item.what();
            let outcome = match item.reload() {
                Ok(()) => "ok",
                Err(error) => {
                    tracing::error!(what, %error, "new {what} rejected; the one in force stays");
                    "rejected"
                }
            };
            self.metrics
                .reloads
                .get_or_create(&ReloadLabels { what, outcome })
                .inc();
        }
    }
}
