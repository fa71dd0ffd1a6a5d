//! What the database rotation plugins share: the bindings of the rotator world, the connection
//! fields of a secret, password options from the plugin's settings, and logging in the way the
//! AWS rotation templates do (a refused credential is an answer, an unreachable server a
//! retryable error).

wit_bindgen::generate!({
    path: "../../wit",
    world: "rotator",
    pub_export_macro: true,
    default_bindings_module: "rotation_kit",
});

pub use exports::secrets_gateway::rotation::steps::Guest;
pub use secrets_gateway::rotation::log::{Level, log};
pub use secrets_gateway::rotation::sql;
pub use secrets_gateway::rotation::types::{Context, SecretVersion, StepError};

use secrets_gateway::rotation::password;

/// The connection fields of one version of a database secret, with every other field kept as
/// it is.
pub struct DbSecret {
    fields: serde_json::Map<String, serde_json::Value>,
}

impl DbSecret {
    /// The version labelled `label` in `version`, which must exist and hold a JSON object with
    /// `username`, `password` and `host`.
    pub fn of(version: &Option<SecretVersion>, label: &str) -> Result<Self, StepError> {
        let version = version
            .as_ref()
            .ok_or_else(|| fatal(format!("the secret has no {label} version")))?;
        let fields = match serde_json::from_str(&version.secret_string) {
            Ok(serde_json::Value::Object(fields)) => fields,
            _ => return Err(fatal(format!("the {label} version is not a JSON object"))),
        };
        for required in ["username", "password", "host"] {
            if !fields
                .get(required)
                .is_some_and(serde_json::Value::is_string)
            {
                return Err(fatal(format!(
                    "the {label} version has no {required:?} field"
                )));
            }
        }
        Ok(Self { fields })
    }

    pub fn username(&self) -> &str {
        self.text("username")
    }

    pub fn password(&self) -> &str {
        self.text("password")
    }

    pub fn host(&self) -> &str {
        self.text("host")
    }

    fn text(&self, field: &str) -> &str {
        self.fields[field]
            .as_str()
            .expect("checked by DbSecret::of")
    }

    /// This secret's JSON with another username and password.
    pub fn with_credentials(&self, username: &str, password: &str) -> String {
        let mut fields = self.fields.clone();
        fields.insert("username".into(), username.into());
        fields.insert("password".into(), password.into());
        serde_json::Value::Object(fields).to_string()
    }
}

/// A setting of the plugin, by name.
pub fn setting<'a>(context: &'a Context, name: &str) -> Option<&'a str> {
    context
        .settings
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// A new password, with the options of the AWS templates' environment variables as settings:
/// `exclude_characters` (default `default_excluded`), `password_length` (32),
/// `exclude_numbers`, `exclude_punctuation`, `exclude_uppercase`, `exclude_lowercase` (false)
/// and `require_each_included_type` (true); booleans are true for true, 1, y or yes.
pub fn new_password(context: &Context, default_excluded: &str) -> Result<String, StepError> {
    let flag = |name: &str, default: bool| {
        setting(context, name).map_or(default, |value| {
            matches!(
                value.to_ascii_lowercase().as_str(),
                "true" | "1" | "y" | "yes"
            )
        })
    };
    let length = match setting(context, "password_length") {
        Some(length) => Some(
            length
                .parse()
                .map_err(|_| fatal(format!("password_length {length:?} is not a number")))?,
        ),
        None => Some(32),
    };
    let options = password::Options {
        length,
        exclude_characters: setting(context, "exclude_characters")
            .unwrap_or(default_excluded)
            .to_owned(),
        exclude_numbers: flag("exclude_numbers", false),
        exclude_punctuation: flag("exclude_punctuation", false),
        exclude_uppercase: flag("exclude_uppercase", false),
        exclude_lowercase: flag("exclude_lowercase", false),
        include_space: false,
        require_each_included_type: flag("require_each_included_type", true),
    };
    password::generate(&options).map_err(fatal)
}

/// Logs in as `principal`: `Ok(None)` when the server refuses the credential (or there is no
/// such version), a retryable error when it cannot be reached.
pub fn try_connect(principal: sql::Principal) -> Result<Option<sql::Connection>, StepError> {
    match sql::connect(principal) {
        Ok(connection) => Ok(Some(connection)),
        Err(sql::Error::Authentication(_)) => Ok(None),
        Err(error) => Err(sql_error(error)),
    }
}

/// The first move of every database template's setSecret: the pending version, unless its
/// credential already logs in (a retry after the password was set), when there is nothing to do.
pub fn pending_to_set(context: &Context) -> Result<Option<DbSecret>, StepError> {
    let pending = DbSecret::of(&context.pending, "AWSPENDING")?;
    if try_connect(sql::Principal::Pending)?.is_some() {
        log(Level::Info, "the pending password already works");
        return Ok(None);
    }
    Ok(Some(pending))
}

/// The single-user strategies' setSecret login: the current credential, or else the previous
/// one (the database may still hold AWSPREVIOUS, e.g. after a value was written without
/// changing the database), each only if it names the pending version's user and host.
pub fn login_for_own_change(
    context: &Context,
    pending: &DbSecret,
) -> Result<sql::Connection, StepError> {
    let current = DbSecret::of(&context.current, "AWSCURRENT")?;
    same_account(pending, &current, "AWSCURRENT")?;
    let mut connection = try_connect(sql::Principal::Current)?;
    if connection.is_none() && context.previous.is_some() {
        let previous = DbSecret::of(&context.previous, "AWSPREVIOUS")?;
        same_account(pending, &previous, "AWSPREVIOUS")?;
        connection = try_connect(sql::Principal::Previous)?;
    }
    connection
        .ok_or_else(|| fatal("cannot log in with the previous, current or pending credential"))
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

/// createSecret of the database strategies: the current JSON with a new password, for the
/// same user, or (with `alternate_within`, the longest name the server takes) for the other of
/// `user` and `user_clone`.
pub fn new_pending(
    context: &Context,
    excluded: &str,
    alternate_within: Option<usize>,
) -> Result<Option<String>, StepError> {
    let current = DbSecret::of(&context.current, "AWSCURRENT")?;
    let password = new_password(context, excluded)?;
    let username = match alternate_within {
        Some(max_name_bytes) => alternate(current.username(), max_name_bytes)?,
        None => current.username().to_owned(),
    };
    Ok(Some(current.with_credentials(&username, &password)))
}

/// The alternating strategies' setSecret login: checks that the pending version is the other
/// user of the current one on the same host and that the current credential works (the master
/// is never used for a secret whose own credential is not valid), then logs in as the master,
/// which must not be either rotated user. Returns the current version and the connection.
pub fn login_as_master(
    pending: &DbSecret,
    context: &Context,
    max_name_bytes: usize,
) -> Result<(DbSecret, sql::Connection), StepError> {
    let current = DbSecret::of(&context.current, "AWSCURRENT")?;
    if pending.username() != alternate(current.username(), max_name_bytes)?
        || pending.host() != current.host()
    {
        return Err(fatal(
            "the pending version is not the other user of the current one on the same host",
        ));
    }
    if try_connect(sql::Principal::Current)?.is_none() {
        return Err(fatal("the current credential does not log in"));
    }
    let master = try_connect(sql::Principal::Master)?
        .ok_or_else(|| fatal("the master credential does not log in"))?;
    let master_user = current_user(&master)?;
    if master_user == current.username() || master_user == pending.username() {
        return Err(fatal(format!(
            "the master user {master_user} is one of the rotated users; give the secret \
             another masterarn"
        )));
    }
    Ok((current, master))
}

/// testSecret as every database template does it: log in with the pending credential and run
/// a query. A refused login is retryable, as setSecret may not have reached the database.
pub fn test_pending_login(context: &Context) -> Result<(), StepError> {
    DbSecret::of(&context.pending, "AWSPENDING")?;
    let connection = try_connect(sql::Principal::Pending)?
        .ok_or_else(|| StepError::Retryable("the pending credential does not log in".into()))?;
    let statement = match connection.dialect() {
        sql::Dialect::Postgres => "SELECT now()::text",
        sql::Dialect::Mysql => "SELECT CAST(NOW() AS CHAR)",
    };
    connection.query(statement, &[]).map_err(sql_error)?;
    Ok(())
}

/// `ALTER USER … WITH PASSWORD …` on PostgreSQL, quoted by the host: a utility statement
/// takes no bound parameters.
pub fn set_postgres_password(
    connection: &sql::Connection,
    username: &str,
    password: &str,
) -> Result<(), StepError> {
    let statement = format!(
        "ALTER USER {} WITH PASSWORD {}",
        sql::quote_identifier(sql::Dialect::Postgres, username).map_err(sql_error)?,
        sql::quote_literal(sql::Dialect::Postgres, password).map_err(sql_error)?,
    );
    execute(connection, &statement)?;
    log(Level::Info, &format!("set the password of {username}"));
    Ok(())
}

/// Whether a MySQL-dialect connection is to MariaDB, whose statements for passwords differ.
pub fn is_mariadb(connection: &sql::Connection) -> Result<bool, StepError> {
    let rows = connection
        .query("SELECT VERSION()", &[])
        .map_err(sql_error)?;
    Ok(matches!(
        rows.rows.first().and_then(|row| row.first()),
        Some(sql::Value::Text(version)) if version.contains("MariaDB")
    ))
}

/// `user` ↔ `user_clone`, for the alternating-users strategies; longer than `max_bytes` fails.
pub fn alternate(username: &str, max_bytes: usize) -> Result<String, StepError> {
    let other = match username.strip_suffix("_clone") {
        Some(original) => original.to_owned(),
        None => format!("{username}_clone"),
    };
    if other.len() > max_bytes {
        return Err(fatal(format!(
            "{other:?} is longer than the server's {max_bytes}-byte limit on user names"
        )));
    }
    Ok(other)
}

/// The name the server knows the connection's user by.
pub fn current_user(connection: &sql::Connection) -> Result<String, StepError> {
    let statement = match connection.dialect() {
        sql::Dialect::Postgres => "SELECT current_user::text",
        sql::Dialect::Mysql => "SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1)",
    };
    let rows = connection.query(statement, &[]).map_err(sql_error)?;
    match rows.rows.first().and_then(|row| row.first()) {
        Some(sql::Value::Text(user)) => Ok(user.clone()),
        _ => Err(fatal("the server did not say who is logged in")),
    }
}

/// Runs a statement that needs no rows back.
pub fn execute(connection: &sql::Connection, statement: &str) -> Result<(), StepError> {
    connection
        .execute(statement, &[])
        .map(drop)
        .map_err(sql_error)
}

/// An unreachable server may come back; anything else will not by waiting.
pub fn sql_error(error: sql::Error) -> StepError {
    match error {
        sql::Error::Unreachable(message) => StepError::Retryable(message),
        sql::Error::NotGranted(message)
        | sql::Error::BadSecret(message)
        | sql::Error::Authentication(message)
        | sql::Error::Statement(message) => StepError::Fatal(message),
    }
}

pub fn fatal(message: impl Into<String>) -> StepError {
    StepError::Fatal(message.into())
}
