//! Policy statements and their evaluation: deny by default, an explicit deny wins.

use std::sync::Arc;

use serde::Deserialize;
use wildmatch::WildMatch;

use crate::operation::Operation;

/// The service prefix of every action name, as in IAM.
const ACTION_PREFIX: &str = "secretsmanager:";

/// A statement as written in the configuration or a policy file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatementSpec {
    /// A name for the statement in errors and logs; `statement N` when absent.
    pub sid: Option<String>,
    pub effect: Effect,
    /// Caller identities (SPIFFE ID, DNS name or common name), `*` and `?` wildcards.
    pub identities: Vec<String>,
    /// Action names such as `secretsmanager:GetSecretValue` or `secretsmanager:List*`.
    pub actions: Vec<String>,
    /// Secret names such as `prod/checkout/*`. Actions that name no secret
    /// (ListSecrets, GetRandomPassword) match only statements that list `*`.
    pub secrets: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    Allow,
    Deny,
}

/// What an action applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource<'a> {
    Secret(&'a str),
    /// Account-level actions such as ListSecrets and GetRandomPassword.
    Account,
}

#[derive(Debug, thiserror::Error)]
#[error("{statement}: {problem}")]
pub struct PolicyError {
    pub statement: String,
    pub problem: String,
}

/// A validated set of statements.
#[derive(Debug, Default)]
pub struct Policy {
    statements: Vec<Statement>,
}

#[derive(Debug)]
struct Statement {
    sid: Arc<str>,
    effect: Effect,
    identities: Vec<WildMatch>,
    /// The operations the action patterns match, one bit per [`Operation::index`].
    actions: u64,
    secrets: Vec<WildMatch>,
    any_secret: bool,
}

/// The outcome of evaluating a request, naming the deciding statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow {
        sid: Arc<str>,
    },
    /// Denied by an explicit deny statement.
    Deny {
        sid: Arc<str>,
    },
    /// No statement allows it.
    NoMatch,
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allow { .. })
    }
}

impl Policy {
    /// Validates `specs`; `first_index` numbers unnamed statements after those of other sources.
    pub fn new(specs: &[StatementSpec], first_index: usize) -> Result<Self, PolicyError> {
        let statements = specs
            .iter()
            .enumerate()
            .map(|(i, spec)| Statement::new(spec, first_index + i + 1))
            .collect::<Result<_, _>>()?;
        Ok(Self { statements })
    }

    /// Parses a policy file: a TOML document of `[[statement]]` tables.
    pub fn parse_file(text: &str) -> Result<Vec<StatementSpec>, PolicyError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            #[serde(default)]
            statement: Vec<StatementSpec>,
        }
        let file: File = toml::from_str(text).map_err(|err| PolicyError {
            statement: "policy file".into(),
            problem: err.message().to_owned(),
        })?;
        Ok(file.statement)
    }

    pub fn extend(&mut self, other: Policy) {
        self.statements.extend(other.statements);
    }

    pub fn len(&self) -> usize {
        self.statements.len()
    }

    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    pub fn decide(&self, identity: &str, operation: Operation, resource: Resource<'_>) -> Decision {
        let mut allowed = None;
        for statement in &self.statements {
            if !statement.applies(identity, operation, resource) {
                continue;
            }
            match statement.effect {
                Effect::Deny => {
                    return Decision::Deny {
                        sid: Arc::clone(&statement.sid),
                    };
                }
                Effect::Allow => allowed = allowed.or(Some(&statement.sid)),
            }
        }
        match allowed {
            Some(sid) => Decision::Allow {
                sid: Arc::clone(sid),
            },
            None => Decision::NoMatch,
        }
    }

    /// Whether some statement allows `operation` to `identity` on some secret: the gate for
    /// operations whose results are then filtered secret by secret (ListSecrets,
    /// BatchGetSecretValue).
    pub fn allows_some(&self, identity: &str, operation: Operation) -> bool {
        self.statements.iter().any(|statement| {
            statement.effect == Effect::Allow
                && statement.actions & (1 << operation.index()) != 0
                && statement.identities.iter().any(|p| p.matches(identity))
        })
    }
}

impl Statement {
    fn new(spec: &StatementSpec, index: usize) -> Result<Self, PolicyError> {
        let sid = match &spec.sid {
            Some(sid) => format!("statement {sid:?}"),
            None => format!("statement {index}"),
        };
        let fail = |problem: String| PolicyError {
            statement: sid.clone(),
            problem,
        };
        for (field, patterns) in [
            ("identities", &spec.identities),
            ("actions", &spec.actions),
            ("secrets", &spec.secrets),
        ] {
            if patterns.is_empty() {
                return Err(fail(format!("{field} must list at least one pattern")));
            }
            if let Some(empty) = patterns.iter().find(|p| p.trim().is_empty()) {
                return Err(fail(format!("{field} holds an empty pattern {empty:?}")));
            }
        }
        let mut actions = 0u64;
        for pattern in &spec.actions {
            let Some(name) = pattern
                .get(..ACTION_PREFIX.len())
                .filter(|prefix| prefix.eq_ignore_ascii_case(ACTION_PREFIX))
                .map(|_| &pattern[ACTION_PREFIX.len()..])
            else {
                return Err(fail(format!(
                    "action {pattern:?} must start with {ACTION_PREFIX:?}"
                )));
            };
            let matcher = WildMatch::new_case_insensitive(name);
            let matched = Operation::ALL
                .iter()
                .filter(|operation| matcher.matches(operation.as_str()))
                .fold(0u64, |bits, operation| bits | 1 << operation.index());
            if matched == 0 {
                return Err(fail(format!("action {pattern:?} matches no known action")));
            }
            actions |= matched;
        }
        Ok(Self {
            sid: spec.sid.clone().unwrap_or_else(|| index.to_string()).into(),
            effect: spec.effect,
            identities: spec.identities.iter().map(|p| WildMatch::new(p)).collect(),
            actions,
            any_secret: spec.secrets.iter().any(|p| p.chars().all(|c| c == '*')),
            secrets: spec.secrets.iter().map(|p| WildMatch::new(p)).collect(),
        })
    }

    fn applies(&self, identity: &str, operation: Operation, resource: Resource<'_>) -> bool {
        self.actions & (1 << operation.index()) != 0
            && match resource {
                Resource::Account => self.any_secret,
                Resource::Secret(name) => self.secrets.iter().any(|p| p.matches(name)),
            }
            && self.identities.iter().any(|p| p.matches(identity))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(text: &str) -> Result<Policy, PolicyError> {
        Policy::new(&Policy::parse_file(text)?, 0)
    }

    const TWO_TEAMS: &str = r#"
        [[statement]]
        sid = "a-reads"
        effect = "allow"
        identities = ["spiffe://corp/ns/a/*"]
        actions = ["secretsmanager:GetSecretValue", "secretsmanager:Describe*"]
        secrets = ["prod/a/*"]

        [[statement]]
        sid = "b-writes"
        effect = "allow"
        identities = ["b.corp.internal"]
        actions = ["secretsmanager:*"]
        secrets = ["dev/*"]

        [[statement]]
        sid = "no-one-deletes-prod"
        effect = "deny"
        identities = ["*"]
        actions = ["secretsmanager:DeleteSecret"]
        secrets = ["prod/*"]

        [[statement]]
        effect = "allow"
        identities = ["admin"]
        actions = ["secretsmanager:*"]
        secrets = ["*"]
    "#;

    #[test]
    fn deny_by_default_and_patterns_match_identities_actions_and_names() {
        let policy = policy(TWO_TEAMS).unwrap();
        let a = "spiffe://corp/ns/a/sa/web";
        let get = Operation::GetSecretValue;
        assert_eq!(
            policy.decide(a, get, Resource::Secret("prod/a/db")),
            Decision::Allow {
                sid: "a-reads".into()
            }
        );
        assert!(
            policy
                .decide(a, Operation::DescribeSecret, Resource::Secret("prod/a/x/y"))
                .is_allowed()
        );
        assert_eq!(
            policy.decide(a, Operation::PutSecretValue, Resource::Secret("prod/a/db")),
            Decision::NoMatch
        );
        assert_eq!(
            policy.decide(a, get, Resource::Secret("prod/b/db")),
            Decision::NoMatch
        );
        assert_eq!(
            policy.decide(a, get, Resource::Secret("dev/x")),
            Decision::NoMatch
        );
        assert!(
            policy
                .decide(
                    "b.corp.internal",
                    Operation::PutSecretValue,
                    Resource::Secret("dev/x")
                )
                .is_allowed()
        );
        assert_eq!(
            policy.decide("b.corp.internal", get, Resource::Secret("prod/a/db")),
            Decision::NoMatch
        );
        assert_eq!(
            policy.decide("unknown", get, Resource::Secret("dev/x")),
            Decision::NoMatch
        );
    }

    #[test]
    fn an_explicit_deny_wins_over_any_allow() {
        let policy = policy(TWO_TEAMS).unwrap();
        assert!(
            policy
                .decide("admin", Operation::DeleteSecret, Resource::Secret("dev/x"))
                .is_allowed()
        );
        assert_eq!(
            policy.decide(
                "admin",
                Operation::DeleteSecret,
                Resource::Secret("prod/a/db")
            ),
            Decision::Deny {
                sid: "no-one-deletes-prod".into()
            }
        );
    }

    #[test]
    fn account_actions_need_a_statement_over_every_secret() {
        let policy = policy(TWO_TEAMS).unwrap();
        assert!(
            !policy
                .decide("b.corp.internal", Operation::ListSecrets, Resource::Account)
                .is_allowed()
        );
        assert_eq!(
            policy.decide("admin", Operation::GetRandomPassword, Resource::Account),
            Decision::Allow { sid: "4".into() }
        );
    }

    #[test]
    fn action_names_are_case_insensitive_as_in_iam() {
        let policy = policy(
            r#"[[statement]]
            effect = "allow"
            identities = ["x"]
            actions = ["SecretsManager:getsecretvalue"]
            secrets = ["*"]"#,
        )
        .unwrap();
        assert!(
            policy
                .decide("x", Operation::GetSecretValue, Resource::Secret("s"))
                .is_allowed()
        );
    }

    #[test]
    fn errors_name_the_statement() {
        let cases = [
            (
                r#"[[statement]]
                sid = "typo"
                effect = "allow"
                identities = ["x"]
                actions = ["secretsmanager:GetSecretVal"]
                secrets = ["*"]"#,
                r#"statement "typo": action "secretsmanager:GetSecretVal" matches no known action"#,
            ),
            (
                r#"[[statement]]
                effect = "allow"
                identities = ["x"]
                actions = ["s3:GetObject"]
                secrets = ["*"]"#,
                r#"statement 1: action "s3:GetObject" must start with "secretsmanager:""#,
            ),
            (
                r#"[[statement]]
                effect = "allow"
                identities = []
                actions = ["secretsmanager:*"]
                secrets = ["*"]"#,
                "statement 1: identities must list at least one pattern",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(policy(text).unwrap_err().to_string(), expected);
        }
        let unknown = policy(
            r#"[[statement]]
            effect = "permit"
            identities = ["x"]
            actions = ["secretsmanager:*"]
            secrets = ["*"]"#,
        )
        .unwrap_err();
        assert!(
            unknown
                .to_string()
                .starts_with("policy file: unknown variant `permit`")
        );
    }
}
