//! PostgreSQL, single user: the user changes its own password, as the AWS
//! `SecretsManagerRDSPostgreSQLRotationSingleUser` template does. Clients holding the old
//! AWSCURRENT fail between setSecret and finishSecret; where that matters, rotate alternating
//! users instead.

use rotation_kit::{
    Context, Guest, StepError, login_for_own_change, new_pending, pending_to_set,
    set_postgres_password, test_pending_login,
};

/// Characters that break connection strings and quoting, as the template excludes them.
const EXCLUDED: &str = ":/@\"'\\";

struct SingleUser;

impl Guest for SingleUser {
    fn create_secret(context: Context) -> Result<Option<String>, StepError> {
        new_pending(&context, EXCLUDED, None)
    }

    fn set_secret(context: Context) -> Result<(), StepError> {
        let Some(pending) = pending_to_set(&context)? else {
            return Ok(());
        };
        let connection = login_for_own_change(&context, &pending)?;
        set_postgres_password(&connection, pending.username(), pending.password())
    }

    fn test_secret(context: Context) -> Result<(), StepError> {
        test_pending_login(&context)
    }

    fn finish_secret(_context: Context) -> Result<(), StepError> {
        Ok(())
    }
}

rotation_kit::export!(SingleUser);
