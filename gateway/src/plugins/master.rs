//! The master credential: the secret named by the rotated secret's `masterarn` field, which
//! the alternating-users strategies use to change another user's password. The SQL capability
//! connects with it; the `master-secret` interface hands it to plugins granted that.

use super::bindings::master_secret;
use super::state::{HostState, StepScope};
use crate::store::SecretText;

pub(super) enum Refusal {
    /// The grant does not name this master secret.
    NotGranted(String),
    /// There is no `masterarn`, or the secret it names cannot be read.
    Unavailable(String),
}

/// The master secret of the step's rotation, fetched once per step and learnt by the redactor.
pub(super) async fn fetch(scope: &mut StepScope) -> Result<SecretText, Refusal> {
    if let Some(master) = &scope.master {
        return Ok(master.clone());
    }
    let id = master_arn(scope)?;
    if !scope.grant.allows_master(&id) {
        let refusal = format!("master secret {id}: not in the plugin's master_secrets");
        scope.refusals.refuse(refusal.clone());
        return Err(Refusal::NotGranted(refusal));
    }
    let master = scope
        .lookup
        .secret_string(&id)
        .await
        .map_err(|problem| Refusal::Unavailable(format!("master secret {id}: {problem}")))?;
    scope.redactor.learn_secret_string(master.expose());
    scope.master = Some(master.clone());
    Ok(master)
}

fn master_arn(scope: &StepScope) -> Result<String, Refusal> {
    let current = scope
        .current
        .as_ref()
        .ok_or_else(|| Refusal::Unavailable("there is no AWSCURRENT version".into()))?;
    let fields: serde_json::Value = serde_json::from_str(current.expose())
        .map_err(|_| Refusal::Unavailable("the AWSCURRENT version is not JSON".into()))?;
    match fields.get("masterarn") {
        Some(serde_json::Value::String(id)) if !id.is_empty() => Ok(id.clone()),
        _ => Err(Refusal::Unavailable(
            "the AWSCURRENT version has no \"masterarn\" field".into(),
        )),
    }
}

impl master_secret::Host for HostState {
    async fn get(&mut self) -> Result<String, String> {
        match fetch(&mut self.scope).await {
            Ok(master) => Ok(master.expose().to_owned()),
            Err(Refusal::NotGranted(why) | Refusal::Unavailable(why)) => Err(why),
        }
    }
}
