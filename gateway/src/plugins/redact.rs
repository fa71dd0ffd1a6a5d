//! Replaces the secret values a step's host knows of in what the plugin says: its log lines,
//! its stdout and stderr, and its error messages.

use zeroize::Zeroizing;

pub const REDACTED: &str = "[REDACTED]";

/// Values shorter than this are not redacted: a password of three characters would turn every
/// `the` in a log line into `[REDACTED]`, and no generator here makes one.
const MIN_SECRET_LEN: usize = 6;

/// The keys of a secret's JSON whose values are not secret and stay readable in logs.
const PUBLIC_FIELDS: &[&str] = &[
    "engine",
    "host",
    "port",
    "username",
    "user",
    "dbname",
    "database",
    "masterarn",
    "dbClusterIdentifier",
    "dbInstanceIdentifier",
];

#[derive(Default)]
pub struct Redactor {
    secrets: Vec<Zeroizing<String>>,
}

impl Redactor {
    /// Learns a secret string: the whole of it, and if it is a JSON object, each of its string
    /// values except the ones naming where and who (host, username, …).
    pub fn learn_secret_string(&mut self, text: &str) {
        if let Ok(serde_json::Value::Object(fields)) = serde_json::from_str(text) {
            for (key, value) in &fields {
                if let serde_json::Value::String(value) = value
                    && !PUBLIC_FIELDS.contains(&key.as_str())
                {
                    self.learn(value);
                }
            }
        }
        self.learn(text);
    }

    pub fn learn(&mut self, secret: &str) {
        if secret.len() >= MIN_SECRET_LEN && !self.secrets.iter().any(|known| **known == secret) {
            self.secrets.push(Zeroizing::new(secret.to_owned()));
            // Longest first, so a value that contains another is replaced whole.
            self.secrets
                .sort_by_key(|known| std::cmp::Reverse(known.len()));
        }
    }

    pub fn redact(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), REDACTED);
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_values_of_secret_json_but_not_where_and_who() {
        let mut redactor = Redactor::default();
        redactor.learn_secret_string(
            r#"{"engine":"postgres","host":"db.internal","username":"app","password":"hunter2-long"}"#,
        );
        assert_eq!(
            redactor.redact("app@db.internal with hunter2-long"),
            "app@db.internal with [REDACTED]"
        );
    }

    #[test]
    fn the_longest_secret_wins() {
        let mut redactor = Redactor::default();
        redactor.learn("secret");
        redactor.learn("secret-and-more");
        assert_eq!(redactor.redact("x secret-and-more y"), "x [REDACTED] y");
    }

    #[test]
    fn short_values_are_left_alone() {
        let mut redactor = Redactor::default();
        redactor.learn("abc");
        assert_eq!(redactor.redact("abc"), "abc");
    }
}
