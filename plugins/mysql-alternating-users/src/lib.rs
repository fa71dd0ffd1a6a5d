//! MySQL and MariaDB, alternating users: `user` and `user_clone`, each rotation setting the
//! password of the one that is not current through the master credential named by the
//! secret's `masterarn`, as the AWS `SecretsManagerRDSMySQLRotationMultiUser` template does.
//! The clone is created on first use with the current user's grants, copied from
//! `SHOW GRANTS`, and both accounts are `'name'@'%'`.

use rotation_kit::sql::{self, Dialect, Value};
use rotation_kit::{
    Context, Guest, Level, StepError, execute, fatal, log, login_as_master, new_pending,
    pending_to_set, sql_error, test_pending_login,
};

const EXCLUDED: &str = "/@\"'\\";
/// MySQL 5.7's limit on user names (MariaDB allows 80); the `username_character_limit`
/// setting changes it.
const DEFAULT_NAME_LIMIT: usize = 32;

struct AlternatingUsers;

impl Guest for AlternatingUsers {
    fn create_secret(context: Context) -> Result<Option<String>, StepError> {
        new_pending(&context, EXCLUDED, Some(name_limit(&context)?))
    }

    fn set_secret(context: Context) -> Result<(), StepError> {
        let Some(pending) = pending_to_set(&context)? else {
            return Ok(());
        };
        let (current, master) = login_as_master(&pending, &context, name_limit(&context)?)?;
        let account = |name: &str| {
            sql::quote_literal(Dialect::Mysql, name)
                .map(|name| format!("{name}@'%'"))
                .map_err(sql_error)
        };
        let (user, source) = (account(pending.username())?, account(current.username())?);
        let password = sql::quote_literal(Dialect::Mysql, pending.password()).map_err(sql_error)?;
        let exists = master
            .query(
                "SELECT User FROM mysql.user WHERE User = ?",
                &[Value::Text(pending.username().into())],
            )
            .map_err(sql_error)?;
        if exists.rows.is_empty() {
            execute(
                &master,
                &format!("CREATE USER {user} IDENTIFIED BY {password}"),
            )?;
            log(
                Level::Info,
                &format!(
                    "created {} with the grants of {}",
                    pending.username(),
                    current.username()
                ),
            );
        } else {
            execute(
                &master,
                &format!("ALTER USER {user} IDENTIFIED BY {password}"),
            )?;
            log(
                Level::Info,
                &format!("set the password of {}", pending.username()),
            );
        }
        // Every grant of the current user, again for the clone: GRANT … TO <clone>.
        let grants = master
            .query(&format!("SHOW GRANTS FOR {source}"), &[])
            .map_err(sql_error)?;
        for row in &grants.rows {
            let Some(Value::Text(grant)) = row.first() else {
                continue;
            };
            let Some((privileges, _)) = grant.split_once(" TO ") else {
                continue;
            };
            execute(&master, &format!("{privileges} TO {user}"))?;
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

fn name_limit(context: &Context) -> Result<usize, StepError> {
    match rotation_kit::setting(context, "username_character_limit") {
        None => Ok(DEFAULT_NAME_LIMIT),
        Some(limit) => limit.parse().map_err(|_| {
            fatal(format!(
                "username_character_limit {limit:?} is not a number"
            ))
        }),
    }
}

rotation_kit::export!(AlternatingUsers);
