//! Policy files: arbitrary text parsed as a TOML document of `[[statement]]` tables, validated,
//! and the resulting policy evaluated against fixed requests. Proves that no file makes parsing,
//! validation or evaluation panic, and that evaluation keeps its invariants: a policy that
//! allows a request allows the operation somewhere (the ListSecrets/BatchGet gate), and an
//! account-level request is allowed only by a statement over every secret.

#![no_main]

use libfuzzer_sys::fuzz_target;
use secrets_gateway::authz::{Decision, Policy, Resource};
use secrets_gateway::operation::Operation;

const IDENTITIES: [&str; 4] = [
    "spiffe://corp/ns/checkout/sa/web",
    "b.corp.internal",
    "admin",
    "",
];

const SECRETS: [&str; 4] = ["prod/checkout/db", "dev/x", "*", ""];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(specs) = Policy::parse_file(text) else {
        return;
    };
    let Ok(policy) = Policy::new(&specs, 0) else {
        return;
    };
    assert_eq!(policy.len(), specs.len());
    for identity in IDENTITIES {
        for operation in Operation::ALL {
            let some = policy.allows_some(identity, operation);
            for secret in SECRETS {
                let decision = policy.decide(identity, operation, Resource::Secret(secret));
                if decision.is_allowed() {
                    assert!(some, "allowed on a secret, but on none by allows_some");
                }
            }
            let account = policy.decide(identity, operation, Resource::Account);
            if let Decision::Allow { .. } = account {
                // A statement over every secret also allows any one secret, unless denied.
                let named = policy.decide(identity, operation, Resource::Secret("any/name"));
                assert!(
                    matches!(named, Decision::Allow { .. } | Decision::Deny { .. }),
                    "allowed on the account, but not even considered for a secret"
                );
            }
        }
    }
});
