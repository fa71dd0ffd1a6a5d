//! PostgreSQL, alternating users: two login roles, `user` and `user_clone`; each rotation sets
//! the password of the one that is not current, using the master credential named by the
//! secret's `masterarn`, so clients holding AWSCURRENT keep working throughout. As the AWS
//! `SecretsManagerRDSPostgreSQLRotationMultiUser` template does, the clone is created on first
//! use as a member of the original role, so it has its privileges.

use rotation_kit::sql::{self, Dialect, Principal, Value};
use rotation_kit::{
    Context, DbSecret, Guest, Level, StepError, current_user, execute, fatal, log, new_password,
    pending_to_set, set_postgres_password, sql_error, test_pending_login, try_connect,
};

const EXCLUDED: &str = ":/@\"'\\";
const CLONE_SUFFIX: &str = "_clone";
/// PostgreSQL's identifier limit, in bytes.
const MAX_NAME_BYTES: usize = 63;

struct AlternatingUsers;

impl Guest for AlternatingUsers {
    fn create_secret(context: Context) -> Result<Option<String>, StepError> {
        let current = DbSecret::of(&context.current, "AWSCURRENT")?;
        let password = new_password(&context, EXCLUDED)?;
        Ok(Some(current.with_credentials(
            &alternate(current.username())?,
            &password,
        )))
    }

    fn set_secret(context: Context) -> Result<(), StepError> {
        let Some(pending) = pending_to_set(&context)? else {
            return Ok(());
        };
        let current = DbSecret::of(&context.current, "AWSCURRENT")?;
        if pending.username() != alternate(current.username())? || pending.host() != current.host()
        {
            return Err(fatal(
                "the pending version is not the other user of the current one on the same host",
            ));
        }
        // Never use the master for a secret whose own credential is not valid.
        if try_connect(Principal::Current)?.is_none() {
            return Err(fatal("the current credential does not log in"));
        }
        let master = try_connect(Principal::Master)?
            .ok_or_else(|| fatal("the master credential does not log in"))?;
        let master_user = current_user(&master)?;
        if master_user == current.username() || master_user == pending.username() {
            return Err(fatal(format!(
                "the master user {master_user} is one of the rotated users; give the secret \
                 another masterarn"
            )));
        }
        let quote = |name: &str| sql::quote_identifier(Dialect::Postgres, name).map_err(sql_error);
        let (user, role) = (quote(pending.username())?, quote(current.username())?);
        let password =
            sql::quote_literal(Dialect::Postgres, pending.password()).map_err(sql_error)?;
        let exists = master
            .query(
                "SELECT 1 FROM pg_roles WHERE rolname = $1",
                &[Value::Text(pending.username().into())],
            )
            .map_err(sql_error)?;
        if exists.rows.is_empty() {
            execute(
                &master,
                &format!("CREATE ROLE {user} WITH LOGIN PASSWORD {password}"),
            )?;
            execute(&master, &format!("GRANT {role} TO {user}"))?;
            log(
                Level::Info,
                &format!(
                    "created {} as a member of {}",
                    pending.username(),
                    current.username()
                ),
            );
        } else {
            set_postgres_password(&master, pending.username(), pending.password())?;
        }
        Ok(())
    }

    fn test_secret(context: Context) -> Result<(), StepError> {
        test_pending_login(&context)
    }

    fn finish_secret(_context: Context) -> Result<(), StepError> {
        Ok(())
    }
}

/// `user` ↔ `user_clone`.
fn alternate(username: &str) -> Result<String, StepError> {
    let other = match username.strip_suffix(CLONE_SUFFIX) {
        Some(original) => original.to_owned(),
        None => format!("{username}{CLONE_SUFFIX}"),
    };
    if other.len() > MAX_NAME_BYTES {
        return Err(fatal(format!(
            "{other:?} is longer than PostgreSQL's {MAX_NAME_BYTES}-byte limit on names"
        )));
    }
    Ok(other)
}

rotation_kit::export!(AlternatingUsers);
