//! What a plugin may reach: the hosts its SQL and HTTP capabilities may connect to, and the
//! master secrets it may use. Checked at the door of each capability.

use std::fmt;
use std::str::FromStr;

use wildmatch::WildMatch;

/// The capabilities a plugin is granted. Empty lists grant nothing: a plugin that imports the
/// SQL interface without `sql_hosts` is refused at load.
#[derive(Clone, Debug, Default)]
pub struct Grant {
    /// Where SQL connections may go.
    pub sql_hosts: Vec<HostPattern>,
    /// Where outgoing HTTP requests may go.
    pub http_hosts: Vec<HostPattern>,
    /// Names or ARNs (with `*` and `?` wildcards) of the master secrets the plugin may connect
    /// as, when a rotated secret's `masterarn` names one.
    pub master_secrets: Vec<String>,
    /// Whether the plugin may read a master secret's value itself (the `master-secret`
    /// interface), not only connect with it through the SQL capability.
    pub master_secret_read: bool,
}

impl Grant {
    pub fn allows_sql(&self, host: &str, port: u16) -> bool {
        self.sql_hosts
            .iter()
            .any(|pattern| pattern.matches(host, port))
    }

    pub fn allows_http(&self, host: &str, port: u16) -> bool {
        self.http_hosts
            .iter()
            .any(|pattern| pattern.matches(host, port))
    }

    pub fn allows_master(&self, id: &str) -> bool {
        self.master_secrets
            .iter()
            .any(|pattern| WildMatch::new(pattern).matches(id))
    }
}

/// `host` (any port) or `host:port`; an IPv6 address with a port is written in brackets,
/// `[::1]:5432`.
/// Host names compare without regard to case, and are not resolved: `localhost` does not grant
/// `127.0.0.1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPattern {
    host: String,
    port: Option<u16>,
}

impl HostPattern {
    pub fn matches(&self, host: &str, port: u16) -> bool {
        let host = host
            .strip_prefix('[')
            .and_then(|host| host.strip_suffix(']'))
            .unwrap_or(host);
        self.host.eq_ignore_ascii_case(host) && self.port.is_none_or(|allowed| allowed == port)
    }
}

impl FromStr for HostPattern {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || format!("{text:?} is not a host or host:port");
        let (host, port) = if text.parse::<std::net::Ipv6Addr>().is_ok() {
            (text, None)
        } else if let Some(rest) = text.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(invalid)?;
            match after {
                "" => (host, None),
                _ => (host, Some(after.strip_prefix(':').ok_or_else(invalid)?)),
            }
        } else {
            match text.rsplit_once(':') {
                Some((host, port)) if !host.contains(':') => (host, Some(port)),
                Some(_) => return Err(format!("{text:?}: write an IPv6 address as [addr]:port")),
                None => (text, None),
            }
        };
        let valid_host = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_'));
        if !valid_host {
            return Err(invalid());
        }
        let port = port
            .map(|port| port.parse::<u16>().map_err(|_| invalid()))
            .transpose()?;
        Ok(Self {
            host: host.to_owned(),
            port,
        })
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.port {
            Some(port) => write!(f, "{host}:{port}"),
            None => f.write_str(&host),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> HostPattern {
        text.parse().unwrap()
    }

    #[test]
    fn host_patterns_match_host_and_port() {
        assert!(pattern("127.0.0.1:5432").matches("127.0.0.1", 5432));
        assert!(!pattern("127.0.0.1:5432").matches("127.0.0.1", 5433));
        assert!(pattern("DB.internal").matches("db.internal", 1));
        assert!(pattern("[::1]:3306").matches("::1", 3306));
        assert!(pattern("[::1]:3306").matches("[::1]", 3306));
        assert!(pattern("::1").matches("::1", 5432));
        assert!(!pattern("localhost").matches("127.0.0.1", 80));
    }

    #[test]
    fn bad_host_patterns_are_refused() {
        for bad in [
            "",
            ":80",
            "host:port",
            "fe80::1::2",
            "a b",
            "host:99999",
            "[::1",
        ] {
            assert!(bad.parse::<HostPattern>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn master_secrets_match_wildcards() {
        let grant = Grant {
            master_secrets: vec!["prod/db/*-master".into()],
            ..Grant::default()
        };
        assert!(grant.allows_master("prod/db/orders-master"));
        assert!(!grant.allows_master("prod/db/orders"));
    }
}
