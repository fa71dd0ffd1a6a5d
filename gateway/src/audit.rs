//! The audit trail: one JSON line per request, written before the response leaves.
//!
//! Writing is fail-closed: the caller of [`AuditLog::write`] refuses the request when the
//! record cannot be written, so nothing is served unaudited. A record names secrets, versions
//! and outcomes, never a secret value: [`Record`] has no field that could hold one.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

/// Where audit records go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuditSink {
    Stdout,
    /// Appended to; reopened on SIGHUP so log rotation can move it away.
    File(PathBuf),
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("cannot open audit log {path}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the audit record")]
    Write(#[source] std::io::Error),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Served.
    Ok,
    /// Refused by the policy.
    Denied,
    /// Failed with an error.
    Error,
}

/// One audit line. Fields that are unknown for a request are left out.
#[derive(Debug, Serialize)]
pub struct Record<'a> {
    pub time: String,
    pub request_id: String,
    pub identity: &'a str,
    pub source: SocketAddr,
    pub surface: &'static str,
    pub operation: &'static str,
    /// The secret's name, or the id the caller gave when the secret was not resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub version_stages: &'a [String],
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
    /// The policy statement that allowed or denied the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement: Option<&'a str>,
    /// For a rotation's records: the step (createSecret, …) and the plugin that ran it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin: Option<&'a str>,
    pub latency_ms: f64,
}

pub struct AuditLog {
    sink: AuditSink,
    file: Mutex<Option<File>>,
    /// Whether the last write failed; cleared by a successful write or a reopen.
    failing: AtomicBool,
}

impl AuditLog {
    pub fn open(sink: AuditSink) -> Result<Self, AuditError> {
        let file = match &sink {
            AuditSink::Stdout => None,
            AuditSink::File(path) => Some(open(path)?),
        };
        Ok(Self {
            sink,
            file: Mutex::new(file),
            failing: AtomicBool::new(false),
        })
    }

    pub fn sink(&self) -> &AuditSink {
        &self.sink
    }

    /// Opens the file again under its configured path (after log rotation). On error the
    /// file open until now stays in use.
    pub fn reopen(&self) -> Result<(), AuditError> {
        if let AuditSink::File(path) = &self.sink {
            let file = open(path)?;
            *self.file.lock().unwrap_or_else(|e| e.into_inner()) = Some(file);
        }
        self.failing.store(false, Ordering::Relaxed);
        Ok(())
    }

    /// Writes one record as one line, in a single write so concurrent records never
    /// interleave.
    pub fn write(&self, record: &Record<'_>) -> Result<(), AuditError> {
        let mut line = Vec::with_capacity(384);
        serde_json::to_writer(&mut line, record)
            .map_err(|err| AuditError::Write(std::io::Error::other(err)))?;
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        match file.as_mut() {
            Some(file) => file.write_all(&line),
            None => {
                let mut stdout = std::io::stdout().lock();
                stdout.write_all(&line).and_then(|()| stdout.flush())
            }
        }
        .map_err(AuditError::Write)
        .inspect(|()| self.failing.store(false, Ordering::Relaxed))
        .inspect_err(|_| self.failing.store(true, Ordering::Relaxed))
    }

    /// Whether the last record could not be written. Changes are refused up front while it
    /// holds, so that a change is never applied and then refused for want of its record.
    pub fn is_failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }
}

fn open(path: &PathBuf) -> Result<File, AuditError> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .map_err(|source| AuditError::Open {
            path: path.clone(),
            source,
        })
}

/// The current time as audit records carry it: RFC 3339, UTC, milliseconds.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(outcome: Outcome) -> Record<'static> {
        Record {
            time: now(),
            request_id: "r".into(),
            identity: "spiffe://corp/a",
            source: "127.0.0.1:4000".parse().unwrap(),
            surface: "secretsmanager",
            operation: "GetSecretValue",
            secret: Some("prod/a/db"),
            arn: None,
            version_id: None,
            version_stages: &[],
            outcome,
            error: None,
            statement: Some("a-reads"),
            step: None,
            plugin: None,
            latency_ms: 0.25,
        }
    }

    #[test]
    fn writes_one_json_line_per_record_and_reopens_after_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let log = AuditLog::open(AuditSink::File(path.clone())).unwrap();
        log.write(&record(Outcome::Ok)).unwrap();
        std::fs::rename(&path, dir.path().join("audit.log.1")).unwrap();
        log.reopen().unwrap();
        log.write(&record(Outcome::Denied)).unwrap();

        let rotated = std::fs::read_to_string(dir.path().join("audit.log.1")).unwrap();
        let current = std::fs::read_to_string(&path).unwrap();
        let first: serde_json::Value = serde_json::from_str(rotated.trim_end()).unwrap();
        let second: serde_json::Value = serde_json::from_str(current.trim_end()).unwrap();
        assert_eq!(first["outcome"], "ok");
        assert_eq!(second["outcome"], "denied");
        assert_eq!(second["secret"], "prod/a/db");
        assert!(second.get("arn").is_none());
    }

    #[test]
    fn a_full_disk_is_an_error_the_caller_sees() {
        let log = AuditLog::open(AuditSink::File("/dev/full".into())).unwrap();
        assert!(matches!(
            log.write(&record(Outcome::Ok)),
            Err(AuditError::Write(_))
        ));
        assert!(log.is_failing());
    }
}
