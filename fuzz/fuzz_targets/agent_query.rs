//! The Agent endpoint's request parsing: an arbitrary request target (`path?query`) read both
//! as `/secretsmanager/get?secretId=…` and as `/v1/<secretId>?…`. Proves that no target makes
//! parsing panic, that an accepted request always names a secret, and that a refusal echoes
//! at most a short, printable piece of the caller's input.

#![no_main]

use libfuzzer_sys::fuzz_target;
use secrets_gateway::api::agent::{AgentQuery, Refusal, parse_path_query, parse_query};

fuzz_target!(|data: &[u8]| {
    // Hyper hands the endpoint a path and a query that are valid UTF-8.
    let Ok(target) = std::str::from_utf8(data) else {
        return;
    };
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    check(parse_query(query, None));
    check(parse_path_query(path, query));
});

fn check(parsed: Result<AgentQuery, Refusal>) {
    match parsed {
        Ok(query) => assert!(
            !query.secret_id.is_empty(),
            "an accepted request without an id"
        ),
        Err(Refusal(status, message)) => {
            assert!(
                status.is_client_error(),
                "a refusal that is not the caller's fault"
            );
            assert!(message.len() <= 100, "an over-long refusal");
            assert!(
                message.chars().all(|c| c == ' ' || c.is_ascii_graphic()),
                "an unprintable refusal"
            );
        }
    }
}
