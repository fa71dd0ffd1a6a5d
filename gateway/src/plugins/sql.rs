//! The SQL capability: connections to PostgreSQL and MySQL/MariaDB opened *as* a principal.
//! The host reads the address and the credential from the principal's secret, checks the
//! address against the grant, and hands the plugin a connection, never the password.

use std::time::Duration;

use bytes::BytesMut;
use mysql_async::prelude::Queryable as _;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use wasmtime::component::Resource;

use super::bindings::sql::{self, Dialect, Error, Principal, Rows, Value};
use super::state::HostState;
use crate::store::SecretText;

/// Connections one step may hold open at once.
const MAX_CONNECTIONS_PER_STEP: usize = 8;
/// Rows one query may return to the plugin.
const MAX_ROWS: usize = 10_000;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// An open connection, as the plugin's resource.
pub enum Connection {
    Postgres(tokio_postgres::Client),
    MySql(mysql_async::Conn),
}

impl Connection {
    fn dialect(&self) -> Dialect {
        match self {
            Self::Postgres(_) => Dialect::Postgres,
            Self::MySql(_) => Dialect::Mysql,
        }
    }
}

/// The connection fields of a secret, as the AWS rotation templates read them.
struct Endpoint {
    dialect: Dialect,
    host: String,
    port: u16,
    username: String,
    password: SecretText,
    dbname: Option<String>,
}

impl Endpoint {
    /// Reads the fields of `secret`; `fallback` (the rotated secret) supplies the engine and
    /// the database name when a master secret lacks them.
    fn parse(secret: &SecretText, fallback: Option<&SecretText>) -> Result<Self, String> {
        let fields = json_object(secret)?;
        let fallback = fallback.map(json_object).transpose()?.unwrap_or_default();
        let field = |name: &str| {
            fields
                .get(name)
                .or_else(|| fallback.get(name))
                .filter(|value| !value.is_null())
        };
        let text = |name: &str| match field(name) {
            Some(serde_json::Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(format!("the field {name:?} is not a string")),
            None => Ok(None),
        };
        let required = |name: &str| text(name)?.ok_or_else(|| format!("no {name:?} field"));
        let engine = required("engine")?;
        let dialect = match engine.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" | "aurora-postgresql" => Dialect::Postgres,
            "mysql" | "mariadb" | "aurora-mysql" | "aurora" => Dialect::Mysql,
            _ => return Err(format!("the engine {engine:?} is not PostgreSQL or MySQL")),
        };
        let port = match field("port") {
            None => match dialect {
                Dialect::Postgres => 5432,
                Dialect::Mysql => 3306,
            },
            Some(serde_json::Value::Number(port)) => port
                .as_u64()
                .and_then(|port| u16::try_from(port).ok())
                .ok_or("the field \"port\" is not a port number")?,
            Some(serde_json::Value::String(port)) => port
                .parse()
                .map_err(|_| "the field \"port\" is not a port number")?,
            Some(_) => return Err("the field \"port\" is not a port number".into()),
        };
        // The password is read from `fields` only: it must never come from the fallback.
        let password = match fields.get("password") {
            Some(serde_json::Value::String(password)) => SecretText::new(password.as_str()),
            _ => return Err("no \"password\" field".into()),
        };
        Ok(Self {
            dialect,
            host: required("host")?,
            port,
            username: required("username")?,
            password,
            dbname: text("dbname")?,
        })
    }

    async fn connect(&self) -> Result<Connection, Error> {
        let connecting = async {
            match self.dialect {
                Dialect::Postgres => {
                    let mut config = tokio_postgres::Config::new();
                    config
                        .host(&self.host)
                        .port(self.port)
                        .user(&self.username)
                        .password(self.password.expose())
                        .dbname(self.dbname.as_deref().unwrap_or("postgres"))
                        .application_name("secrets-gateway")
                        .connect_timeout(CONNECT_TIMEOUT);
                    let (client, connection) = config
                        .connect(tokio_postgres::NoTls)
                        .await
                        .map_err(postgres_error)?;
                    // Ends when the client is dropped, with the step's store at the latest.
                    tokio::spawn(connection);
                    Ok(Connection::Postgres(client))
                }
                Dialect::Mysql => {
                    let options = mysql_async::OptsBuilder::default()
                        .ip_or_hostname(self.host.clone())
                        .tcp_port(self.port)
                        .user(Some(self.username.clone()))
                        .pass(Some(self.password.expose().to_owned()))
                        .db_name(self.dbname.clone())
                        .prefer_socket(false);
                    let connection = mysql_async::Conn::new(options).await.map_err(mysql_error)?;
                    Ok(Connection::MySql(connection))
                }
            }
        };
        tokio::time::timeout(CONNECT_TIMEOUT, connecting)
            .await
            .unwrap_or_else(|_| {
                Err(Error::Unreachable(format!(
                    "{}:{} did not answer within {CONNECT_TIMEOUT:?}",
                    self.host, self.port
                )))
            })
    }
}

fn json_object(secret: &SecretText) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    match serde_json::from_str(secret.expose()) {
        Ok(serde_json::Value::Object(fields)) => Ok(fields),
        _ => Err("the secret is not a JSON object".into()),
    }
}

impl HostState {
    /// The secret a principal connects with; for the master, after checking the grant.
    async fn principal_secret(&mut self, principal: Principal) -> Result<SecretText, Error> {
        let scope = &mut self.scope;
        let version = |version: &Option<SecretText>, label: &str| {
            version
                .as_ref()
                .cloned()
                .ok_or_else(|| Error::BadSecret(format!("there is no {label} version")))
        };
        match principal {
            Principal::Current => version(&scope.current, "AWSCURRENT"),
            Principal::Pending => version(&scope.pending, "AWSPENDING"),
            Principal::Previous => version(&scope.previous, "AWSPREVIOUS"),
            Principal::Master => {
                let master =
                    super::master::fetch(scope)
                        .await
                        .map_err(|refusal| match refusal {
                            super::master::Refusal::NotGranted(why) => Error::NotGranted(why),
                            super::master::Refusal::Unavailable(why) => Error::BadSecret(why),
                        })?;
                Ok(master)
            }
        }
    }
}

impl sql::Host for HostState {
    async fn connect(
        &mut self,
        principal: Principal,
    ) -> wasmtime::Result<Result<Resource<Connection>, Error>> {
        if self.scope.open_connections >= MAX_CONNECTIONS_PER_STEP {
            return Ok(Err(Error::NotGranted(format!(
                "a step may hold at most {MAX_CONNECTIONS_PER_STEP} connections"
            ))));
        }
        let secret = match self.principal_secret(principal).await {
            Ok(found) => found,
            Err(error) => return Ok(Err(error)),
        };
        // A master secret takes what it lacks (engine, database) from the rotated secret.
        let fallback = match principal {
            Principal::Master => self.scope.current.as_ref(),
            _ => None,
        };
        let endpoint = match Endpoint::parse(&secret, fallback) {
            Ok(endpoint) => endpoint,
            Err(problem) => {
                return Ok(Err(Error::BadSecret(format!(
                    "the {principal:?} secret: {problem}"
                ))));
            }
        };
        if let Some(current) = fallback {
            // The master may only act on its own server: a masterarn naming another server's
            // superuser would create the clone there.
            let rotated = match Endpoint::parse(current, None) {
                Ok(rotated) => rotated,
                Err(problem) => {
                    return Ok(Err(Error::BadSecret(format!(
                        "the Current secret: {problem}"
                    ))));
                }
            };
            if !rotated.host.eq_ignore_ascii_case(&endpoint.host) || rotated.port != endpoint.port {
                return Ok(Err(Error::BadSecret(format!(
                    "the master secret is for {}:{}, not {}:{}, the rotated secret's server",
                    endpoint.host, endpoint.port, rotated.host, rotated.port
                ))));
            }
        }
        if !self.scope.grant.allows_sql(&endpoint.host, endpoint.port) {
            let refusal = format!(
                "SQL connection to {}:{}: not in the plugin's sql_hosts",
                endpoint.host, endpoint.port
            );
            self.scope.refusals.refuse(refusal.clone());
            return Ok(Err(Error::NotGranted(refusal)));
        }
        match endpoint.connect().await {
            Ok(connection) => {
                self.scope.open_connections += 1;
                Ok(Ok(self.table.push(connection)?))
            }
            Err(error) => Ok(Err(error)),
        }
    }

    async fn quote_identifier(
        &mut self,
        dialect: Dialect,
        name: String,
    ) -> wasmtime::Result<Result<String, Error>> {
        Ok(quote_identifier(dialect, &name))
    }

    async fn quote_literal(
        &mut self,
        dialect: Dialect,
        value: String,
    ) -> wasmtime::Result<Result<String, Error>> {
        Ok(quote_literal(dialect, &value))
    }
}

impl sql::HostConnection for HostState {
    async fn dialect(&mut self, connection: Resource<Connection>) -> wasmtime::Result<Dialect> {
        Ok(self.table.get(&connection)?.dialect())
    }

    async fn query(
        &mut self,
        connection: Resource<Connection>,
        statement: String,
        params: Vec<Value>,
    ) -> wasmtime::Result<Result<Rows, Error>> {
        Ok(match self.table.get_mut(&connection)? {
            Connection::Postgres(client) => postgres_query(client, &statement, &params).await,
            Connection::MySql(connection) => mysql_query(connection, &statement, params).await,
        })
    }

    async fn execute(
        &mut self,
        connection: Resource<Connection>,
        statement: String,
        params: Vec<Value>,
    ) -> wasmtime::Result<Result<u64, Error>> {
        Ok(match self.table.get_mut(&connection)? {
            Connection::Postgres(client) => {
                let params: Vec<PostgresParam<'_>> = params.iter().map(PostgresParam).collect();
                let params: Vec<&(dyn ToSql + Sync)> = params
                    .iter()
                    .map(|param| param as &(dyn ToSql + Sync))
                    .collect();
                client
                    .execute(statement.as_str(), &params)
                    .await
                    .map_err(postgres_error)
            }
            Connection::MySql(connection) => {
                let result = if params.is_empty() {
                    connection.query_drop(statement.as_str()).await
                } else {
                    connection
                        .exec_drop(statement.as_str(), mysql_params(params))
                        .await
                };
                result
                    .map(|()| connection.affected_rows())
                    .map_err(mysql_error)
            }
        })
    }

    async fn drop(&mut self, connection: Resource<Connection>) -> wasmtime::Result<()> {
        let connection = self.table.delete(connection)?;
        self.scope.open_connections -= 1;
        if let Connection::MySql(connection) = connection {
            // A polite goodbye; the server drops the session either way.
            let _ = connection.disconnect().await;
        }
        Ok(())
    }
}

/// A plugin's value bound to whatever type PostgreSQL inferred for the parameter.
#[derive(Debug)]
struct PostgresParam<'a>(&'a Value);

impl ToSql for PostgresParam<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Boolean(value) => value.to_sql(ty, out),
            Value::Int(value) => match *ty {
                Type::INT2 => i16::try_from(*value)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*value)?.to_sql(ty, out),
                Type::OID => u32::try_from(*value)?.to_sql(ty, out),
                Type::FLOAT8 => (*value as f64).to_sql(ty, out),
                _ => value.to_sql(ty, out),
            },
            Value::Float(value) => match *ty {
                Type::FLOAT4 => (*value as f32).to_sql(ty, out),
                _ => value.to_sql(ty, out),
            },
            Value::Text(value) => value.as_str().to_sql(ty, out),
            Value::Bytes(value) => value.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        // Checked per value in `to_sql`, where the value is known.
        true
    }

    to_sql_checked!();
}

async fn postgres_query(
    client: &tokio_postgres::Client,
    statement: &str,
    params: &[Value],
) -> Result<Rows, Error> {
    let prepared = client.prepare(statement).await.map_err(postgres_error)?;
    let bound: Vec<PostgresParam<'_>> = params.iter().map(PostgresParam).collect();
    let bound: Vec<&(dyn ToSql + Sync)> = bound
        .iter()
        .map(|param| param as &(dyn ToSql + Sync))
        .collect();
    let rows = client
        .query(&prepared, &bound)
        .await
        .map_err(postgres_error)?;
    if rows.len() > MAX_ROWS {
        return Err(too_many_rows(rows.len()));
    }
    let columns = prepared.columns();
    let mut values = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut row_values = Vec::with_capacity(columns.len());
        for (index, column) in columns.iter().enumerate() {
            row_values.push(
                postgres_value(row, index, column.type_()).map_err(|problem| {
                    Error::Statement(format!("column {:?}: {problem}", column.name()))
                })?,
            );
        }
        values.push(row_values);
    }
    Ok(Rows {
        columns: columns
            .iter()
            .map(|column| column.name().to_owned())
            .collect(),
        rows: values,
    })
}

fn postgres_value(row: &tokio_postgres::Row, index: usize, ty: &Type) -> Result<Value, String> {
    fn get<'a, T: tokio_postgres::types::FromSql<'a>>(
        row: &'a tokio_postgres::Row,
        index: usize,
        wrap: impl FnOnce(T) -> Value,
    ) -> Result<Value, String> {
        row.try_get::<_, Option<T>>(index)
            .map(|value| value.map_or(Value::Null, wrap))
            .map_err(|error| error.to_string())
    }
    match *ty {
        Type::BOOL => get(row, index, Value::Boolean),
        Type::INT2 => get(row, index, |value: i16| Value::Int(value.into())),
        Type::INT4 => get(row, index, |value: i32| Value::Int(value.into())),
        Type::INT8 => get(row, index, Value::Int),
        Type::OID => get(row, index, |value: u32| Value::Int(value.into())),
        Type::FLOAT4 => get(row, index, |value: f32| Value::Float(value.into())),
        Type::FLOAT8 => get(row, index, Value::Float),
        Type::BYTEA => get(row, index, Value::Bytes),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
            get(row, index, Value::Text)
        }
        _ => Err(format!("the type {ty} is not supported; cast it to text")),
    }
}

async fn mysql_query(
    connection: &mut mysql_async::Conn,
    statement: &str,
    params: Vec<Value>,
) -> Result<Rows, Error> {
    if params.is_empty() {
        let result = connection
            .query_iter(statement)
            .await
            .map_err(mysql_error)?;
        mysql_rows(result).await
    } else {
        let result = connection
            .exec_iter(statement, mysql_params(params))
            .await
            .map_err(mysql_error)?;
        mysql_rows(result).await
    }
}

async fn mysql_rows<P: mysql_async::prelude::Protocol>(
    mut result: mysql_async::QueryResult<'_, '_, P>,
) -> Result<Rows, Error> {
    let columns: Vec<String> = result
        .columns()
        .map(|columns| {
            columns
                .iter()
                .map(|column| column.name_str().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let rows: Vec<mysql_async::Row> = result.collect().await.map_err(mysql_error)?;
    if rows.len() > MAX_ROWS {
        return Err(too_many_rows(rows.len()));
    }
    let rows = rows
        .into_iter()
        .map(|row| row.unwrap().into_iter().map(mysql_value).collect())
        .collect();
    Ok(Rows { columns, rows })
}

fn mysql_params(params: Vec<Value>) -> mysql_async::Params {
    mysql_async::Params::Positional(
        params
            .into_iter()
            .map(|value| match value {
                Value::Null => mysql_async::Value::NULL,
                Value::Boolean(value) => mysql_async::Value::Int(value.into()),
                Value::Int(value) => mysql_async::Value::Int(value),
                Value::Float(value) => mysql_async::Value::Double(value),
                Value::Text(value) => mysql_async::Value::Bytes(value.into_bytes()),
                Value::Bytes(value) => mysql_async::Value::Bytes(value),
            })
            .collect(),
    )
}

fn mysql_value(value: mysql_async::Value) -> Value {
    use mysql_async::Value as My;
    match value {
        My::NULL => Value::Null,
        My::Bytes(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Value::Text(text),
            Err(error) => Value::Bytes(error.into_bytes()),
        },
        My::Int(value) => Value::Int(value),
        My::UInt(value) => i64::try_from(value).map_or(Value::Text(value.to_string()), Value::Int),
        My::Float(value) => Value::Float(value.into()),
        My::Double(value) => Value::Float(value),
        other @ (My::Date(..) | My::Time(..)) => {
            Value::Text(other.as_sql(true).trim_matches('\'').to_owned())
        }
    }
}

fn too_many_rows(count: usize) -> Error {
    Error::Statement(format!(
        "the query returned {count} rows; a plugin may read at most {MAX_ROWS}"
    ))
}

fn postgres_error(error: tokio_postgres::Error) -> Error {
    use tokio_postgres::error::SqlState;
    match error.as_db_error() {
        Some(db) => {
            let message = format!("{}: {}", db.code().code(), db.message());
            if [
                SqlState::INVALID_PASSWORD,
                SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
            ]
            .contains(db.code())
            {
                Error::Authentication(message)
            } else {
                Error::Statement(message)
            }
        }
        None if error.is_closed() => Error::Unreachable("the connection was closed".into()),
        None => Error::Unreachable(crate::error_chain(&error)),
    }
}

fn mysql_error(error: mysql_async::Error) -> Error {
    /// ER_ACCESS_DENIED_ERROR, ER_DBACCESS_DENIED_ERROR, and MariaDB's
    /// ER_ACCESS_DENIED_NO_PASSWORD_ERROR (an account that does not exist, say).
    const ACCESS_DENIED: [u16; 3] = [1045, 1044, 1698];
    match error {
        mysql_async::Error::Server(server) if ACCESS_DENIED.contains(&server.code) => {
            Error::Authentication(format!("{}: {}", server.code, server.message))
        }
        mysql_async::Error::Server(server) => {
            Error::Statement(format!("{}: {}", server.code, server.message))
        }
        mysql_async::Error::Io(error) => Error::Unreachable(error.to_string()),
        other => Error::Unreachable(other.to_string()),
    }
}

/// `quote-identifier` of the WIT.
pub fn quote_identifier(dialect: Dialect, name: &str) -> Result<String, Error> {
    refuse_nul(name)?;
    Ok(match dialect {
        Dialect::Postgres => format!("\"{}\"", name.replace('"', "\"\"")),
        Dialect::Mysql => format!("`{}`", name.replace('`', "``")),
    })
}

/// `quote-literal` of the WIT.
pub fn quote_literal(dialect: Dialect, value: &str) -> Result<String, Error> {
    refuse_nul(value)?;
    Ok(match dialect {
        Dialect::Postgres => {
            // As PostgreSQL's own quote_literal: E'' when there is a backslash, which reads the
            // same whatever standard_conforming_strings says.
            let doubled = value.replace('\'', "''");
            if value.contains('\\') {
                format!("E'{}'", doubled.replace('\\', "\\\\"))
            } else {
                format!("'{doubled}'")
            }
        }
        Dialect::Mysql => {
            let mut quoted = String::with_capacity(value.len() + 2);
            quoted.push('\'');
            for c in value.chars() {
                match c {
                    '\\' => quoted.push_str("\\\\"),
                    '\'' => quoted.push_str("\\'"),
                    '"' => quoted.push_str("\\\""),
                    '\n' => quoted.push_str("\\n"),
                    '\r' => quoted.push_str("\\r"),
                    '\u{1a}' => quoted.push_str("\\Z"),
                    c => quoted.push(c),
                }
            }
            quoted.push('\'');
            quoted
        }
    })
}

fn refuse_nul(text: &str) -> Result<(), Error> {
    if text.contains('\0') {
        return Err(Error::Statement(
            "a NUL character cannot be quoted: neither server stores it in text".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_literals_per_dialect() {
        let tricky = r#"it's a \ "test" ✓"#;
        assert_eq!(
            quote_literal(Dialect::Postgres, tricky).unwrap(),
            r#"E'it''s a \\ "test" ✓'"#
        );
        assert_eq!(
            quote_literal(Dialect::Postgres, "plain'one").unwrap(),
            "'plain''one'"
        );
        assert_eq!(
            quote_literal(Dialect::Mysql, tricky).unwrap(),
            r#"'it\'s a \\ \"test\" ✓'"#
        );
        assert!(quote_literal(Dialect::Mysql, "nul\0").is_err());
    }

    #[test]
    fn quotes_identifiers_per_dialect() {
        assert_eq!(
            quote_identifier(Dialect::Postgres, r#"app"user"#).unwrap(),
            r#""app""user""#
        );
        assert_eq!(
            quote_identifier(Dialect::Mysql, "app`user").unwrap(),
            "`app``user`"
        );
    }

    #[test]
    fn reads_the_connection_fields_of_a_secret() {
        let secret = SecretText::new(
            r#"{"engine":"postgres","host":"127.0.0.1","port":"5433","username":"app","password":"pw","masterarn":"m"}"#,
        );
        let endpoint = Endpoint::parse(&secret, None).unwrap();
        assert_eq!((endpoint.host.as_str(), endpoint.port), ("127.0.0.1", 5433));
        assert_eq!(endpoint.dbname, None);

        let master =
            SecretText::new(r#"{"username":"admin","password":"root-pw","host":"127.0.0.1"}"#);
        let endpoint = Endpoint::parse(&master, Some(&secret)).unwrap();
        assert_eq!(endpoint.username, "admin");
        assert_eq!(endpoint.dialect, Dialect::Postgres);

        let no_password = SecretText::new(r#"{"engine":"mysql","host":"h","username":"u"}"#);
        assert!(Endpoint::parse(&no_password, Some(&secret)).is_err());
    }
}
