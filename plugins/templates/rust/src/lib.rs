//! A rotation plugin for the secrets gateway. Replace each step's body with what your target
//! needs; the README next to this file says how to build, check and try it.

wit_bindgen::generate!({
    // The gateway's WIT package. When you copy this template out of the repository, copy the
    // `wit/` directory along and point this path at it.
    path: "../../../wit",
    world: "rotator",
});

use exports::secrets_gateway::rotation::steps::Guest;
use secrets_gateway::rotation::log::{Level, log};
use secrets_gateway::rotation::types::{Context, StepError};

struct Plugin;

impl Guest for Plugin {
    /// Return `Some(secret_string)` to choose the new value yourself, or `None` to let the
    /// gateway copy the current JSON with a new `password`.
    fn create_secret(_context: Context) -> Result<Option<String>, StepError> {
        Ok(None)
    }

    /// Make the target accept `context.pending`. Must also succeed if it already does.
    fn set_secret(context: Context) -> Result<(), StepError> {
        log(
            Level::Info,
            &format!(
                "setSecret for {} (token {})",
                context.secret_id, context.token
            ),
        );
        Ok(())
    }

    /// Prove that `context.pending` works against the target.
    fn test_secret(_context: Context) -> Result<(), StepError> {
        Ok(())
    }

    /// Runs after AWSCURRENT moved to the new version: revoke what must be revoked.
    fn finish_secret(_context: Context) -> Result<(), StepError> {
        Ok(())
    }
}

export!(Plugin);
