//! The Secrets Manager wire protocol: AWS JSON 1.1 over `POST /`.
//!
//! The operation comes from `X-Amz-Target: secretsmanager.<Operation>`, the request and the
//! response are JSON objects, and errors are `{"__type": <code>, "Message": <text>}` with 400 for
//! the caller's faults and 500 for ours. SigV4 headers are accepted and ignored: the caller is
//! authenticated by its client certificate.

use std::future::Future;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt as _;
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::cache::{Encoding, Freshness};
use crate::metrics::Surface;
use crate::service::{Operation, RequestContext, RequestId, SecretsService};
use crate::store::{ErrorCode, StoreError};
use crate::tls::SharedPeer;

pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// The largest request body accepted. The largest valid request (a 64 KiB SecretBinary in
/// base64 plus metadata) is about 90 KiB.
pub const BODY_LIMIT: usize = 256 * 1024;

/// Operations of the Secrets Manager API that this gateway does not serve.
const UNSUPPORTED: [&str; 9] = [
    "GetResourcePolicy",
    "PutResourcePolicy",
    "DeleteResourcePolicy",
    "ValidateResourcePolicy",
    "ReplicateSecretToRegions",
    "RemoveRegionsFromReplication",
    "StopReplicationToReplica",
    "BatchGetSecretValues",
    "ListSecretsV2",
];

/// A protocol-level error: a `__type` code, a message and a status.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Whether the service has audited the request already (its errors are), or it was
    /// refused before reaching an operation and still needs its audit record.
    audited: bool,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            audited: false,
        }
    }

    fn client(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        let status = if err.code.is_server_fault() {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::BAD_REQUEST
        };
        Self {
            status,
            code: err.code.as_str(),
            message: err.message,
            audited: true,
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    #[serde(rename = "__type")]
    code: &'a str,
    #[serde(rename = "Message")]
    message: &'a str,
}

impl ApiError {
    pub fn into_response(self, request_id: RequestId) -> Response {
        let body = serde_json::to_vec(&ErrorBody {
            code: self.code,
            message: &self.message,
        })
        .unwrap_or_default();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        headers.insert("x-amzn-ErrorType", HeaderValue::from_static(self.code));
        insert_request_id(headers, request_id);
        response
    }
}

fn insert_request_id(headers: &mut HeaderMap, request_id: RequestId) {
    if let Ok(value) = HeaderValue::from_str(&request_id.to_string()) {
        headers.insert("x-amzn-RequestId", value);
    }
}

/// `POST /`: one Secrets Manager operation.
pub async fn handle(State(service): State<SecretsService>, request: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let Some(peer) = parts.extensions.get::<SharedPeer>().cloned() else {
        return ApiError::client("AccessDeniedException", "No caller identity.")
            .into_response(RequestId::next());
    };
    let ctx = RequestContext::new(peer, Surface::SecretsManager);
    let operation = operation(&parts.headers);
    let known = operation.as_ref().ok().copied();
    if let Some(operation) = known {
        tracing::Span::current().record("operation", tracing::field::display(operation));
    }
    let mut result = match operation {
        Ok(operation) => match read_body(&parts.headers, body).await {
            Ok(body) => dispatch(&service, &ctx, operation, &body).await,
            Err(err) => Err(err),
        },
        Err(err) => Err(err),
    };
    if let Err(err) = &result
        && !err.audited
        && let Err(unaudited) = service.audit_refused(&ctx, known, err.code)
    {
        result = Err(unaudited.into());
    }
    let outcome = result.as_ref().map(|_| ()).map_err(|err| err.code);
    service.metrics().request(
        Surface::SecretsManager,
        known,
        outcome,
        started.elapsed().as_secs_f64(),
    );
    match result {
        Ok(json) => {
            tracing::debug!("request served");
            let mut response = Response::new(Body::from(json));
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
            insert_request_id(headers, ctx.request_id);
            response
        }
        Err(err) => {
            if err.status.is_server_error() {
                tracing::error!(code = err.code, message = %err.message, "request failed");
            } else {
                tracing::debug!(code = err.code, "request refused");
            }
            err.into_response(ctx.request_id)
        }
    }
}

/// The operation `X-Amz-Target` names, or the refusal of a missing, unknown or unsupported one.
pub fn operation(headers: &HeaderMap) -> Result<Operation, ApiError> {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::client(
                "UnknownOperationException",
                "The X-Amz-Target header is missing.",
            )
        })?;
    let name = target.strip_prefix("secretsmanager.").unwrap_or("");
    if let Some(operation) = Operation::parse(name) {
        return Ok(operation);
    }
    if UNSUPPORTED.contains(&name) {
        return Err(ApiError::client(
            ErrorCode::InvalidRequest.as_str(),
            format!("secrets-gateway does not support the {name} operation."),
        ));
    }
    // The target is echoed only when it is short and printable: it is caller input.
    let shown: String = target
        .chars()
        .take(100)
        .filter(|c| c.is_ascii_graphic())
        .collect();
    Err(ApiError::client(
        "UnknownOperationException",
        format!("Unknown operation {shown}."),
    ))
}

async fn read_body(headers: &HeaderMap, body: Body) -> Result<Zeroizing<Vec<u8>>, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLargeException",
            format!("The request body exceeds the limit of {BODY_LIMIT} bytes."),
        )
    };
    // A declared length over the limit is refused before a byte of the body is read.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > BODY_LIMIT as u64) {
        return Err(too_large());
    }
    let limited = http_body_util::Limited::new(body, BODY_LIMIT);
    match limited.collect().await {
        Ok(collected) => Ok(Zeroizing::new(collected.to_bytes().to_vec())),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(_) => Err(ApiError::client(
            "SerializationException",
            "The request body could not be read.",
        )),
    }
}

async fn dispatch(
    service: &SecretsService,
    ctx: &RequestContext,
    operation: Operation,
    body: &[u8],
) -> Result<Bytes, ApiError> {
    match operation {
        Operation::CreateSecret => call(body, |r| service.create_secret(ctx, r)).await,
        Operation::GetSecretValue => {
            let request = decode(body)?;
            let secret = service
                .get_secret_value(ctx, request, Freshness::Cached)
                .await?;
            Ok(secret.encoded(Encoding::SecretsManagerJson, |response| {
                encode(response).unwrap_or_default()
            }))
        }
        Operation::BatchGetSecretValue => {
            call(body, |r| service.batch_get_secret_value(ctx, r)).await
        }
        Operation::PutSecretValue => call(body, |r| service.put_secret_value(ctx, r)).await,
        Operation::UpdateSecret => call(body, |r| service.update_secret(ctx, r)).await,
        Operation::UpdateSecretVersionStage => {
            call(body, |r| service.update_secret_version_stage(ctx, r)).await
        }
        Operation::DescribeSecret => call(body, |r| service.describe_secret(ctx, r)).await,
        Operation::ListSecrets => call(body, |r| service.list_secrets(ctx, r)).await,
        Operation::ListSecretVersionIds => {
            call(body, |r| service.list_secret_version_ids(ctx, r)).await
        }
        Operation::DeleteSecret => call(body, |r| service.delete_secret(ctx, r)).await,
        Operation::RestoreSecret => call(body, |r| service.restore_secret(ctx, r)).await,
        Operation::GetRandomPassword => call(body, |r| service.get_random_password(ctx, r)).await,
        Operation::TagResource => call(body, |r| service.tag_resource(ctx, r)).await,
        Operation::RotateSecret => call(body, |r| service.rotate_secret(ctx, r)).await,
        Operation::CancelRotateSecret => call(body, |r| service.cancel_rotate_secret(ctx, r)).await,
        Operation::UntagResource => call(body, |r| service.untag_resource(ctx, r)).await,
    }
}

/// Decodes the request, runs the operation and encodes its response.
async fn call<Request, Answer, Run, Fut>(body: &[u8], run: Run) -> Result<Bytes, ApiError>
where
    Request: DeserializeOwned,
    Answer: Serialize,
    Run: FnOnce(Request) -> Fut,
    Fut: Future<Output = Result<Answer, StoreError>>,
{
    let request = decode(body)?;
    let answer = run(request).await?;
    encode(&answer).ok_or_else(|| StoreError::internal("The response could not be encoded.").into())
}

/// Encodes a response into a buffer that is wiped when the last reference to it goes.
pub fn encode(answer: &impl Serialize) -> Option<Bytes> {
    let mut buffer = Zeroizing::new(Vec::with_capacity(512));
    serde_json::to_writer(&mut *buffer, answer).ok()?;
    Some(Bytes::from_owner(buffer))
}

/// Decodes a JSON object into a request. Error messages name the member and the position,
/// never the offending value, which may be a secret.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = match body.iter().find(|b| !b.is_ascii_whitespace()) {
        None => b"{}".as_slice(),
        Some(b'{') => body,
        // serde would also read a struct from a JSON array, positionally: refuse that shape.
        Some(_) => {
            return Err(ApiError::client(
                "SerializationException",
                "The request body must be a JSON object.",
            ));
        }
    };
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let result: Result<T, _> = serde_path_to_error::deserialize(&mut deserializer);
    let value = result.map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let message = match inner.classify() {
            serde_json::error::Category::Data => format!(
                "The value at '{path}' has the wrong type or format (line {}, column {}).",
                inner.line(),
                inner.column()
            ),
            _ => format!(
                "The request body is not valid JSON (line {}, column {}).",
                inner.line(),
                inner.column()
            ),
        };
        ApiError::client("SerializationException", message)
    })?;
    deserializer.end().map_err(|_| {
        ApiError::client(
            "SerializationException",
            "The request body has trailing characters.",
        )
    })?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{CreateSecretRequest, GetRandomPasswordRequest};

    #[test]
    fn decode_errors_never_echo_values() {
        let err =
            decode::<CreateSecretRequest>(br#"{"Name":"a","SecretString":12345678}"#).unwrap_err();
        assert_eq!(err.code, "SerializationException");
        assert!(err.message.contains("SecretString"), "{}", err.message);
        assert!(!err.message.contains("12345678"), "{}", err.message);

        let err = decode::<CreateSecretRequest>(br#"{"Name": "x", "SecretString": "hunter2"#)
            .unwrap_err();
        assert!(!err.message.contains("hunter2"), "{}", err.message);

        let err = decode::<GetRandomPasswordRequest>(b"[1,2]").unwrap_err();
        assert_eq!(err.message, "The request body must be a JSON object.");
    }

    #[test]
    fn empty_body_is_an_empty_object_and_unknown_members_are_ignored() {
        let request: GetRandomPasswordRequest = decode(b"").unwrap();
        assert_eq!(request.password_length, None);
        let request: GetRandomPasswordRequest =
            decode(br#"{"PasswordLength": 12, "FutureMember": {"x": 1}}"#).unwrap();
        assert_eq!(request.password_length, Some(12));
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_refused_with_or_without_a_length() {
        let chunks = (0..8).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; 64 * 1024])));
        let streamed = Body::from_stream(futures_util::stream::iter(chunks));
        let err = read_body(&HeaderMap::new(), streamed).await.unwrap_err();
        assert_eq!(
            (err.status, err.code),
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLargeException"
            )
        );

        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("10485760"));
        let err = read_body(&headers, Body::empty()).await.unwrap_err();
        assert_eq!(err.status, StatusCode::PAYLOAD_TOO_LARGE);

        let exact = Body::from(vec![b' '; BODY_LIMIT]);
        assert_eq!(
            read_body(&HeaderMap::new(), exact).await.unwrap().len(),
            BODY_LIMIT
        );
    }

    #[test]
    fn operations_come_from_the_target_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            operation(&headers).unwrap_err().code,
            "UnknownOperationException"
        );
        headers.insert(
            "x-amz-target",
            HeaderValue::from_static("secretsmanager.GetSecretValue"),
        );
        assert_eq!(operation(&headers).unwrap(), Operation::GetSecretValue);
        headers.insert(
            "x-amz-target",
            HeaderValue::from_static("secretsmanager.Nope"),
        );
        assert_eq!(
            operation(&headers).unwrap_err().code,
            "UnknownOperationException"
        );
        headers.insert(
            "x-amz-target",
            HeaderValue::from_static("secretsmanager.PutResourcePolicy"),
        );
        assert_eq!(
            operation(&headers).unwrap_err().code,
            "InvalidRequestException"
        );
    }
}
