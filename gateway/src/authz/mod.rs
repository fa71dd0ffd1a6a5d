//! Who may do what: deny-by-default policies over (caller identity, action, secret name).
//!
//! The policy is the statements of the configuration followed by those of an optional policy
//! file. The file is re-read when it changes or on SIGHUP; a new version that does not
//! validate leaves the running policy in place.

mod policy;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;

pub use policy::{Decision, Effect, Policy, PolicyError, Resource, StatementSpec};

#[derive(Debug, thiserror::Error)]
pub enum AuthzError {
    #[error("cannot read policy file {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The problem is part of the message, not a source, so error chains name it once.
    #[error("policy file {path}: {problem}")]
    File { path: PathBuf, problem: PolicyError },
    #[error("policy: {0}")]
    Inline(PolicyError),
}

/// Where the policy comes from.
#[derive(Clone, Debug, Default)]
pub struct PolicySource {
    /// Statements fixed at start-up (the configuration's, or dev mode's).
    pub statements: Vec<StatementSpec>,
    /// A file of `[[statement]]` tables, re-read on change.
    pub file: Option<PathBuf>,
}

impl PolicySource {
    pub fn load(&self) -> Result<Policy, AuthzError> {
        let mut policy = Policy::new(&self.statements, 0).map_err(AuthzError::Inline)?;
        if let Some(path) = &self.file {
            policy.extend(load_file(path, self.statements.len())?);
        }
        Ok(policy)
    }
}

fn load_file(path: &Path, first_index: usize) -> Result<Policy, AuthzError> {
    let text = std::fs::read_to_string(path).map_err(|source| AuthzError::Read {
        path: path.to_owned(),
        source,
    })?;
    let file_err = |problem| AuthzError::File {
        path: path.to_owned(),
        problem,
    };
    let specs = Policy::parse_file(&text).map_err(file_err)?;
    Policy::new(&specs, first_index).map_err(file_err)
}

/// The policy in force, swapped whole on reload so a request sees one version of it.
pub struct Authorizer {
    source: PolicySource,
    current: ArcSwap<Policy>,
}

impl Authorizer {
    pub fn new(source: PolicySource) -> Result<Self, AuthzError> {
        let policy = source.load()?;
        Ok(Self {
            source,
            current: ArcSwap::from_pointee(policy),
        })
    }

    pub fn policy(&self) -> arc_swap::Guard<Arc<Policy>> {
        self.current.load()
    }

    /// The file the policy reloads from, if any.
    pub fn file(&self) -> Option<&Path> {
        self.source.file.as_deref()
    }

    /// Loads the policy again; on error the policy in force stays.
    pub fn reload(&self) -> Result<usize, AuthzError> {
        let policy = self.source.load()?;
        let statements = policy.len();
        self.current.store(Arc::new(policy));
        Ok(statements)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operation::Operation;

    fn write(path: &Path, secrets: &str) {
        std::fs::write(
            path,
            format!(
                r#"[[statement]]
                effect = "allow"
                identities = ["reader"]
                actions = ["secretsmanager:GetSecretValue"]
                secrets = ["{secrets}"]"#
            ),
        )
        .unwrap();
    }

    #[test]
    fn a_broken_file_keeps_the_policy_in_force() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.toml");
        write(&path, "prod/a/*");
        let authz = Authorizer::new(PolicySource {
            statements: Vec::new(),
            file: Some(path.clone()),
        })
        .unwrap();
        let allowed = |name| {
            authz
                .policy()
                .decide("reader", Operation::GetSecretValue, Resource::Secret(name))
                .is_allowed()
        };
        assert!(allowed("prod/a/db"));

        write(&path, "prod/b/*");
        assert_eq!(authz.reload().unwrap(), 1);
        assert!(!allowed("prod/a/db"));
        assert!(allowed("prod/b/db"));

        std::fs::write(&path, "[[statement]]\neffect = \"allow\"\n").unwrap();
        let err = authz.reload().unwrap_err();
        assert!(
            format!("{err}").starts_with(&format!("policy file {}: ", path.display())),
            "{err}"
        );
        assert!(allowed("prod/b/db"));
    }

    #[test]
    fn a_missing_file_is_an_error_at_start() {
        let source = PolicySource {
            statements: Vec::new(),
            file: Some("/nonexistent/policy.toml".into()),
        };
        let err = Authorizer::new(source).err().unwrap();
        assert_eq!(
            err.to_string(),
            "cannot read policy file /nonexistent/policy.toml"
        );
    }
}
