//! The vocabulary of operations, shared by the surfaces, the policy, the audit trail and the
//! metrics.

use std::fmt;

/// The Secrets Manager operations the gateway serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    CreateSecret,
    GetSecretValue,
    BatchGetSecretValue,
    PutSecretValue,
    UpdateSecret,
    UpdateSecretVersionStage,
    DescribeSecret,
    ListSecrets,
    ListSecretVersionIds,
    DeleteSecret,
    RestoreSecret,
    GetRandomPassword,
    TagResource,
    UntagResource,
    RotateSecret,
    CancelRotateSecret,
}

impl Operation {
    pub const ALL: [Operation; 16] = [
        Self::CreateSecret,
        Self::GetSecretValue,
        Self::BatchGetSecretValue,
        Self::PutSecretValue,
        Self::UpdateSecret,
        Self::UpdateSecretVersionStage,
        Self::DescribeSecret,
        Self::ListSecrets,
        Self::ListSecretVersionIds,
        Self::DeleteSecret,
        Self::RestoreSecret,
        Self::GetRandomPassword,
        Self::TagResource,
        Self::UntagResource,
        Self::RotateSecret,
        Self::CancelRotateSecret,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreateSecret => "CreateSecret",
            Self::GetSecretValue => "GetSecretValue",
            Self::BatchGetSecretValue => "BatchGetSecretValue",
            Self::PutSecretValue => "PutSecretValue",
            Self::UpdateSecret => "UpdateSecret",
            Self::UpdateSecretVersionStage => "UpdateSecretVersionStage",
            Self::DescribeSecret => "DescribeSecret",
            Self::ListSecrets => "ListSecrets",
            Self::ListSecretVersionIds => "ListSecretVersionIds",
            Self::DeleteSecret => "DeleteSecret",
            Self::RestoreSecret => "RestoreSecret",
            Self::GetRandomPassword => "GetRandomPassword",
            Self::TagResource => "TagResource",
            Self::UntagResource => "UntagResource",
            Self::RotateSecret => "RotateSecret",
            Self::CancelRotateSecret => "CancelRotateSecret",
        }
    }

    /// Whether the operation changes a secret.
    pub fn is_change(self) -> bool {
        matches!(
            self,
            Self::CreateSecret
                | Self::PutSecretValue
                | Self::UpdateSecret
                | Self::UpdateSecretVersionStage
                | Self::DeleteSecret
                | Self::RestoreSecret
                | Self::TagResource
                | Self::UntagResource
                | Self::RotateSecret
                | Self::CancelRotateSecret
        )
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.as_str() == name)
    }

    /// The position in [`Operation::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
