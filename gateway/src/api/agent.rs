//! The AWS Secrets Manager Agent's endpoint, for clients written against the Agent or the
//! Lambda extension:
//!
//! - `GET /secretsmanager/get?secretId=…[&versionId=…][&versionStage=…][&refreshNow=true]`
//! - `GET /v1/<secretId>[?versionId=…][&versionStage=…][&refreshNow=true]`
//!
//! As the Agent does, every request must carry the token in `X-Aws-Parameters-Secrets-Token`
//! (403 otherwise), forwarded requests are refused (`X-Forwarded-For`, 400), unknown
//! parameters are refused (400), and the answer is the GetSecretValue JSON with `CreatedDate`
//! as a string of fractional epoch seconds. Service errors are `{"__type", "message"}`.

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use crate::cache::{Encoding, Freshness};
use crate::metrics::Surface;
use crate::operation::Operation;
use crate::service::{RequestContext, SecretsService};
use crate::store::{
    GetSecretValueRequest, GetSecretValueResponse, SecretBytes, SecretText, StoreError,
};
use crate::tls::SharedPeer;

pub const TOKEN_HEADER: &str = "x-aws-parameters-secrets-token";

/// What the endpoint needs besides the service.
#[derive(Clone)]
pub struct AgentState {
    pub service: SecretsService,
    pub token: Arc<Zeroizing<String>>,
}

/// The parsed request.
#[derive(Debug, PartialEq, Eq)]
pub struct AgentQuery {
    pub secret_id: String,
    pub version_id: Option<String>,
    pub version_stage: Option<String>,
    pub refresh_now: bool,
}

/// A refusal before the service is asked: a status and a plain-text body, as the Agent sends.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal(pub StatusCode, pub String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, self.1).into_response()
    }
}

/// Parses the query string; `secret_id` comes from the path for `/v1/<secretId>`.
pub fn parse_query(query: Option<&str>, secret_id: Option<String>) -> Result<AgentQuery, Refusal> {
    let from_path = secret_id.is_some();
    let mut parsed = AgentQuery {
        secret_id: secret_id.unwrap_or_default(),
        version_id: None,
        version_stage: None,
        refresh_now: false,
    };
    for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match name.as_ref() {
            "secretId" if !from_path => parsed.secret_id = value.into_owned(),
            "versionId" => parsed.version_id = Some(value.into_owned()),
            "versionStage" => parsed.version_stage = Some(value.into_owned()),
            "refreshNow" => {
                parsed.refresh_now = match value.to_ascii_lowercase().as_str() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => {
                        return Err(Refusal(
                            StatusCode::BAD_REQUEST,
                            "invalid refreshNow value".into(),
                        ));
                    }
                }
            }
            other => {
                // Caller input is echoed only when short and printable.
                let shown: String = other
                    .chars()
                    .take(64)
                    .filter(|c| c.is_ascii_graphic())
                    .collect();
                return Err(Refusal(
                    StatusCode::BAD_REQUEST,
                    format!("unknown parameter: {shown}"),
                ));
            }
        }
    }
    if parsed.secret_id.is_empty() {
        let message = if from_path {
            "missing secret ID"
        } else {
            "missing parameter secretId"
        };
        return Err(Refusal(StatusCode::BAD_REQUEST, message.into()));
    }
    Ok(parsed)
}

/// The token and forwarding checks, in the Agent's order.
fn admit(headers: &HeaderMap, method: &Method, token: &str) -> Result<(), Refusal> {
    if headers.contains_key("x-forwarded-for") {
        return Err(Refusal(StatusCode::BAD_REQUEST, "Forwarded".into()));
    }
    let presented = headers
        .get(TOKEN_HEADER)
        .map(HeaderValue::as_bytes)
        .unwrap_or_default();
    if !bool::from(presented.ct_eq(token.as_bytes())) {
        tracing::warn!("Agent endpoint request refused: missing or wrong token");
        return Err(Refusal(StatusCode::FORBIDDEN, "Bad Token".into()));
    }
    if method != Method::GET {
        return Err(Refusal(
            StatusCode::METHOD_NOT_ALLOWED,
            "Not allowed".into(),
        ));
    }
    Ok(())
}

/// `/secretsmanager/get?secretId=…`
pub async fn get_by_query(State(state): State<AgentState>, request: Request) -> Response {
    let (request, _) = request.into_parts();
    respond(&state, &request, |query| parse_query(query, None)).await
}

/// `/v1/<secretId>`
pub async fn get_by_path(State(state): State<AgentState>, request: Request) -> Response {
    let (request, _) = request.into_parts();
    respond(&state, &request, |query| {
        parse_path_query(request.uri.path(), query)
    })
    .await
}

/// Parses `/v1/<secretId>` and its query string.
pub fn parse_path_query(path: &str, query: Option<&str>) -> Result<AgentQuery, Refusal> {
    let encoded = path.strip_prefix("/v1/").unwrap_or_default();
    let secret_id = percent_encoding::percent_decode_str(encoded)
        .decode_utf8_lossy()
        .into_owned();
    parse_query(query, Some(secret_id).filter(|id| !id.is_empty()))
}

/// The loopback sidecar listener: the Agent's routes dispatched by path, without a router,
/// because this listener serves nothing else and is the hot path of sidecar deployments.
pub fn sidecar(state: AgentState) -> impl crate::server::App {
    let state = Arc::new(state);
    tower::service_fn(move |request: hyper::Request<axum::body::Body>| {
        let state = Arc::clone(&state);
        async move {
            let (parts, _) = request.into_parts();
            let path = parts.uri.path();
            let response = if path == "/ping" {
                ping().await.into_response()
            } else if path == "/secretsmanager/get" {
                respond(&state, &parts, |query| parse_query(query, None)).await
            } else if path.starts_with("/v1/") {
                respond(&state, &parts, |query| parse_path_query(path, query)).await
            } else {
                Refusal(StatusCode::NOT_FOUND, "Not found".into()).into_response()
            };
            Ok::<_, std::convert::Infallible>(response)
        }
    })
}

/// `/ping`: the Agent's health check, without a token.
pub async fn ping() -> &'static str {
    "healthy"
}

async fn respond(
    state: &AgentState,
    request: &Parts,
    parse: impl FnOnce(Option<&str>) -> Result<AgentQuery, Refusal>,
) -> Response {
    let started = Instant::now();
    let operation = Operation::GetSecretValue;
    tracing::Span::current().record("operation", tracing::field::display(operation));
    let outcome = async {
        let peer = request
            .extensions
            .get::<SharedPeer>()
            .cloned()
            .ok_or_else(|| Refusal(StatusCode::FORBIDDEN, "No caller identity".into()))?;
        let ctx = RequestContext::new(peer, Surface::Agent);
        let admitted = admit(&request.headers, &request.method, &state.token)
            .and_then(|()| parse(request.uri.query()));
        let query = match admitted {
            Ok(query) => query,
            Err(refusal) => {
                state
                    .service
                    .audit_refused(&ctx, Some(operation), refusal.code())
                    .map_err(service_error)?;
                return Err(refusal.into());
            }
        };
        let freshness = if query.refresh_now {
            Freshness::Refresh
        } else {
            Freshness::Cached
        };
        let request = GetSecretValueRequest {
            secret_id: query.secret_id,
            version_id: query.version_id,
            version_stage: query.version_stage,
        };
        state
            .service
            .get_secret_value(&ctx, request, freshness)
            .await
            .map_err(service_error)
    }
    .await;
    let (response, outcome) = match outcome {
        Ok(secret) => {
            let body = secret.encoded(Encoding::AgentJson, encode);
            let mut response = Response::new(Body::from(body));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            (response, Ok(()))
        }
        Err((response, code)) => (response, Err(code)),
    };
    state.service.metrics().request(
        Surface::Agent,
        Some(operation),
        outcome,
        started.elapsed().as_secs_f64(),
    );
    response
}

fn service_error(err: StoreError) -> (Response, &'static str) {
    let label = err.code.as_str();
    if err.code.is_server_fault() {
        let body = r#"{"__type":"InternalFailure"}"#;
        return (
            (StatusCode::INTERNAL_SERVER_ERROR, body).into_response(),
            label,
        );
    }
    #[derive(Serialize)]
    struct ErrorBody<'a> {
        #[serde(rename = "__type")]
        code: &'a str,
        message: &'a str,
    }
    let body = serde_json::to_vec(&ErrorBody {
        code: label,
        message: &err.message,
    })
    .unwrap_or_default();
    let mut response = (StatusCode::BAD_REQUEST, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    (response, label)
}

impl Refusal {
    /// The label of a refusal in metrics and the audit trail.
    fn code(&self) -> &'static str {
        match self.0 {
            StatusCode::FORBIDDEN => "BadToken",
            StatusCode::METHOD_NOT_ALLOWED => "MethodNotAllowed",
            StatusCode::NOT_FOUND => "NotFound",
            _ => "BadRequest",
        }
    }
}

impl From<Refusal> for (Response, &'static str) {
    fn from(refusal: Refusal) -> Self {
        let code = refusal.code();
        (refusal.into_response(), code)
    }
}

/// The Agent's JSON: the GetSecretValue members, `CreatedDate` as a string.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AgentValue<'a> {
    #[serde(rename = "ARN")]
    arn: &'a str,
    name: &'a str,
    version_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_string: Option<&'a SecretText>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_binary: Option<&'a SecretBytes>,
    version_stages: &'a [String],
    created_date: String,
}

fn encode(response: &GetSecretValueResponse) -> Bytes {
    let millis = response.created_date.as_millis();
    let value = AgentValue {
        arn: &response.secret.arn,
        name: &response.secret.name,
        version_id: &response.version_id,
        secret_string: response.secret_string.as_ref(),
        secret_binary: response.secret_binary.as_ref(),
        version_stages: &response.version_stages,
        created_date: format!("{}.{:03}", millis.div_euclid(1000), millis.rem_euclid(1000)),
    };
    crate::api::sm::encode(&value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_agent_query_forms() {
        let parsed = parse_query(
            Some("secretId=prod%2Fdb&versionStage=AWSPREVIOUS&refreshNow=TRUE"),
            None,
        )
        .unwrap();
        assert_eq!(
            parsed,
            AgentQuery {
                secret_id: "prod/db".into(),
                version_id: None,
                version_stage: Some("AWSPREVIOUS".into()),
                refresh_now: true
            }
        );
        let by_path = parse_query(Some("versionId=v1"), Some("prod/db".into())).unwrap();
        assert_eq!(
            (by_path.secret_id.as_str(), by_path.version_id.as_deref()),
            ("prod/db", Some("v1"))
        );
    }

    #[test]
    fn refuses_unknown_and_missing_parameters() {
        assert_eq!(
            parse_query(Some("secretId=a&abc=1"), None),
            Err(Refusal(
                StatusCode::BAD_REQUEST,
                "unknown parameter: abc".into()
            ))
        );
        assert_eq!(
            parse_query(Some("versionId=x"), None),
            Err(Refusal(
                StatusCode::BAD_REQUEST,
                "missing parameter secretId".into()
            ))
        );
        assert_eq!(
            parse_query(Some("secretId=a&refreshNow=yes"), None),
            Err(Refusal(
                StatusCode::BAD_REQUEST,
                "invalid refreshNow value".into()
            ))
        );
        // On the path form, secretId is not a parameter.
        assert!(parse_query(Some("secretId=b"), Some("a".into())).is_err());
    }

    #[test]
    fn token_and_forwarding_checks() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            admit(&headers, &Method::GET, "t0ken").unwrap_err().0,
            StatusCode::FORBIDDEN
        );
        headers.insert(TOKEN_HEADER, HeaderValue::from_static("wrong"));
        assert_eq!(
            admit(&headers, &Method::GET, "t0ken").unwrap_err().0,
            StatusCode::FORBIDDEN
        );
        headers.insert(TOKEN_HEADER, HeaderValue::from_static("t0ken"));
        assert!(admit(&headers, &Method::GET, "t0ken").is_ok());
        assert_eq!(
            admit(&headers, &Method::POST, "t0ken").unwrap_err().0,
            StatusCode::METHOD_NOT_ALLOWED
        );
        headers.insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        assert_eq!(
            admit(&headers, &Method::GET, "t0ken").unwrap_err().0,
            StatusCode::BAD_REQUEST
        );
    }
}
