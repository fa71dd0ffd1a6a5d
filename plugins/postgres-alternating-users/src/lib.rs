//! PostgreSQL, alternating users: two login roles, `user` and `user_clone`; each rotation sets
//! the password of the one that is not current, using the master credential named by the
//! secret's `masterarn`, so clients holding AWSCURRENT keep working throughout. As the AWS
//! `SecretsManagerRDSPostgreSQLRotationMultiUser` template does, the clone is created on first
//! use as a member of the original role, so it has its privileges.

use rotation_kit::sql::{self, Dialect, Value};
use rotation_kit::{
    Context, DbSecret, Guest, Level, StepError, execute, log, login_as_master, new_pending,
    pending_to_set, set_postgres_password, sql_error, test_pending_login,
};

const EXCLUDED: &str = ":/@\"'\\";
/// PostgreSQL's identifier limit, in bytes.
const MAX_NAME_BYTES: usize = 63;

struct AlternatingUsers;

impl Guest for AlternatingUsers {
    fn create_secret(context: Context) -> Result<Option<String>, StepError> {
        new_pending(&context, EXCLUDED, Some(MAX_NAME_BYTES))
    }

    fn set_secret(context: Context) -> Result<(), StepError> {
        let pending = DbSecret::of(&context.pending, "AWSPENDING")?;
        let password_set = pending_to_set(&context)?.is_none();
        let (current, master) = login_as_master(&pending, &context, MAX_NAME_BYTES)?;
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
        if password_set {
            // A retry: the password is set, and only the membership may be missing.
        } else if exists.rows.is_empty() {
            execute(
                &master,
                &format!("CREATE ROLE {user} WITH LOGIN PASSWORD {password}"),
            )?;
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
        // Whenever the clone is the one set, not only when it is created: a database that
        // died between CREATE ROLE and GRANT leaves a clone that logs in without the
        // membership, which the retry must still grant. Granted twice, it is only a notice.
        if pending.username() == format!("{}_clone", current.username()) {
            execute(&master, &format!("GRANT {role} TO {user}"))?;
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

rotation_kit::export!(AlternatingUsers);
