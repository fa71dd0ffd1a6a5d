//! The Secrets Manager JSON protocol's request decoding: an arbitrary `X-Amz-Target` (the
//! input's first line) names the operation, and the rest of the input, as the body, is decoded
//! into that operation's typed request, as `POST /` does before calling the service. Proves that
//! no target and no body makes decoding panic, that an echoed target stays short and printable,
//! and that the request checks which need no store (filters, passwords, rotation schedules, ARN
//! classification) do not panic on what decoding accepts.

#![no_main]

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use secrets_gateway::api::sm::{self, ApiError};
use secrets_gateway::operation::Operation;
use secrets_gateway::rotation::schedule::Schedule;
use secrets_gateway::store::arn::ArnScope;
use secrets_gateway::store::filter::{self, Attributes};
use secrets_gateway::store::password::PasswordPolicy;
use secrets_gateway::store::*;

fuzz_target!(|data: &[u8]| {
    let (target, body) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(target) {
        headers.insert("x-amz-target", value);
    }
    match sm::operation(&headers) {
        Ok(operation) => {
            let _ = decode_and_check(operation, body);
        }
        Err(err) => assert_short_and_printable(&err),
    }
});

/// A refusal of the target echoes at most 100 printable characters of it.
fn assert_short_and_printable(err: &ApiError) {
    assert!(err.message.len() <= 200, "an over-long message");
    assert!(
        err.message
            .chars()
            .all(|c| c == ' ' || c.is_ascii_graphic()),
        "an unprintable message"
    );
}

/// Decodes `body` as the request of `operation`, and runs the checks that need no store.
fn decode_and_check(operation: Operation, body: &[u8]) -> Result<(), ApiError> {
    let scope = ArnScope::default();
    match operation {
        Operation::CreateSecret => {
            let request: CreateSecretRequest = sm::decode(body)?;
            let _ = validate::name(&request.name);
            let _ = validate::tags(&request.tags);
            let _ = validate::value(request.secret_string, request.secret_binary);
        }
        Operation::GetSecretValue => {
            let request: GetSecretValueRequest = sm::decode(body)?;
            let _ = scope.classify(&request.secret_id);
            let _ = request.selector();
        }
        Operation::BatchGetSecretValue => {
            let request: BatchGetSecretValueRequest = sm::decode(body)?;
            if let Some(filters) = &request.filters {
                check_filters(filters);
            }
            for id in request.secret_id_list.iter().flatten() {
                let _ = scope.classify(id);
            }
        }
        Operation::PutSecretValue => {
            let request: PutSecretValueRequest = sm::decode(body)?;
            let _ = validate::version_stages(request.version_stages.as_deref().unwrap_or(&[]));
            let _ = validate::value(request.secret_string, request.secret_binary);
        }
        Operation::UpdateSecret => {
            let request: UpdateSecretRequest = sm::decode(body)?;
            let _ = validate::value(request.secret_string, request.secret_binary);
        }
        Operation::UpdateSecretVersionStage => {
            let _: UpdateSecretVersionStageRequest = sm::decode(body)?;
        }
        Operation::DescribeSecret | Operation::RestoreSecret => {
            let request: SecretIdRequest = sm::decode(body)?;
            let _ = scope.classify(&request.secret_id);
        }
        Operation::ListSecrets => {
            let request: ListSecretsRequest = sm::decode(body)?;
            check_filters(&request.filters);
        }
        Operation::ListSecretVersionIds => {
            let _: ListSecretVersionIdsRequest = sm::decode(body)?;
        }
        Operation::DeleteSecret => {
            let _: DeleteSecretRequest = sm::decode(body)?;
        }
        Operation::GetRandomPassword => {
            let request: GetRandomPasswordRequest = sm::decode(body)?;
            if let Ok(policy) = PasswordPolicy::from_request(&request)
                && let Ok(password) = policy.generate()
            {
                assert_eq!(password.expose().chars().count(), policy.length);
            }
        }
        Operation::TagResource => {
            let request: TagResourceRequest = sm::decode(body)?;
            let _ = validate::tags(&request.tags);
        }
        Operation::UntagResource => {
            let request: UntagResourceRequest = sm::decode(body)?;
            let _ = validate::tag_keys(&request.tag_keys);
        }
        Operation::RotateSecret => {
            let request: RotateSecretRequest = sm::decode(body)?;
            // As RotateSecret does: the rules are checked, then the next rotation computed.
            if let Ok(schedule) = Schedule::parse(request.rotation_rules.as_ref()) {
                let _ = schedule.next_after(Timestamp::from_millis(1_700_000_000_000));
            }
        }
        Operation::CancelRotateSecret => {
            let _: CancelRotateSecretRequest = sm::decode(body)?;
        }
    }
    Ok(())
}

/// Validates the filters and, when they pass, matches them against a fixed secret.
fn check_filters(filters: &[Filter]) {
    if filter::validate(filters).is_err() {
        return;
    }
    let tags = [Tag {
        key: "team".into(),
        value: "Checkout-Payments".into(),
    }];
    let secret = Attributes {
        name: "prod/checkout/db",
        description: Some("The checkout database's credentials, rotated monthly"),
        tags: &tags,
        owning_service: None,
        primary_region: "us-east-1",
    };
    let _ = filter::matches(filters, &secret);
}
