//! MySQL and MariaDB, single user: the user changes its own password, as the AWS
//! `SecretsManagerRDSMySQLRotationSingleUser` template does, with the statement each server
//! accepts from a user without privileges on other accounts.

use rotation_kit::sql::{self, Dialect};
use rotation_kit::{
    Context, Guest, StepError, execute, is_mariadb, login_for_own_change, new_pending,
    pending_to_set, sql_error, test_pending_login,
};

/// Characters that break connection strings and quoting, as the template excludes them.
const EXCLUDED: &str = "/@\"'\\";

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
        let password = sql::quote_literal(Dialect::Mysql, pending.password()).map_err(sql_error)?;
        // MariaDB lets a user without CREATE USER change only its own password, and only by
        // SET PASSWORD; MySQL 5.7.6 and later take ALTER USER for the current user.
        let statement = if is_mariadb(&connection)? {
            format!("SET PASSWORD = PASSWORD({password})")
        } else {
            format!("ALTER USER CURRENT_USER() IDENTIFIED BY {password}")
        };
        execute(&connection, &statement)
    }

    fn test_secret(context: Context) -> Result<(), StepError> {
        test_pending_login(&context)
    }

    fn finish_secret(_context: Context) -> Result<(), StepError> {
        Ok(())
    }
}

rotation_kit::export!(SingleUser);
