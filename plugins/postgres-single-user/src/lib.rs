//! PostgreSQL, single user: the user changes its own password, as the AWS
//! `SecretsManagerRDSPostgreSQLRotationSingleUser` template does. Clients holding the old
//! AWSCURRENT fail between setSecret and finishSecret; where that matters, rotate alternating
//! users instead.

use rotation_kit::sql::Principal;
use rotation_kit::{
    Context, DbSecret, Guest, StepError, fatal, new_password, pending_to_set,
    set_postgres_password, test_pending_login, try_connect,
};

/// Characters that break connection strings and quoting, as the template excludes them.
const EXCLUDED: &str = ":/@\"'\\";

struct SingleUser;

impl Guest for SingleUser {
    fn create_secret(context: Context) -> Result<Option<String>, StepError> {
        let current = DbSecret::of(&context.current, "AWSCURRENT")?;
        let password = new_password(&context, EXCLUDED)?;
        Ok(Some(
            current.with_credentials(current.username(), &password),
        ))
    }

    fn set_secret(context: Context) -> Result<(), StepError> {
        let Some(pending) = pending_to_set(&context)? else {
            return Ok(());
        };
        let current = DbSecret::of(&context.current, "AWSCURRENT")?;
        same_account(&pending, &current, "AWSCURRENT")?;
        let mut connection = try_connect(Principal::Current)?;
        if connection.is_none() && context.previous.is_some() {
            // The database may still hold AWSPREVIOUS, e.g. after a value was written without
            // changing the database.
            let previous = DbSecret::of(&context.previous, "AWSPREVIOUS")?;
            same_account(&pending, &previous, "AWSPREVIOUS")?;
            connection = try_connect(Principal::Previous)?;
        }
        let connection = connection.ok_or_else(|| {
            fatal("cannot log in with the previous, current or pending credential")
        })?;
        set_postgres_password(&connection, pending.username(), pending.password())
    }

    fn test_secret(context: Context) -> Result<(), StepError> {
        test_pending_login(&context)
    }

    fn finish_secret(_context: Context) -> Result<(), StepError> {
        Ok(())
    }
}

/// The pending version must change the same user on the same host as `other`.
fn same_account(pending: &DbSecret, other: &DbSecret, label: &str) -> Result<(), StepError> {
    if pending.username() != other.username() || pending.host() != other.host() {
        return Err(fatal(format!(
            "the pending version names another user or host than {label}; refusing to change it"
        )));
    }
    Ok(())
}

rotation_kit::export!(SingleUser);
