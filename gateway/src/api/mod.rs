//! The wire surfaces. Each one decodes its protocol and calls the [`SecretsService`]; none of
//! them touches the store directly.

pub mod agent;
pub mod grpc;
pub mod ops;
pub mod sm;

use axum::Router;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{any, get, post};

use crate::service::SecretsService;
use agent::AgentState;

/// The routes of the mTLS listener: the Secrets Manager protocol, gRPC, the Agent endpoint
/// (when a token is configured) and the operations endpoints.
pub async fn router(service: SecretsService, agent: Option<AgentState>) -> Router {
    let mut router = Router::new()
        .route("/", post(sm::handle))
        .merge(ops_router(service.clone()));
    if let Some(agent) = agent {
        router = router.merge(agent_routes(agent));
    }
    // The gRPC routes bring tonic's fallback; ours replaces it after the merge.
    router
        .with_state(service.clone())
        .merge(grpc::routes(service).await)
        .fallback(not_found)
}

/// The routes of the plain-HTTP Agent listener (sidecar mode).
pub fn agent_router(agent: AgentState) -> Router {
    agent_routes(agent)
        .route("/ping", get(agent::ping))
        .fallback(not_found)
}

/// The routes of the plain-HTTP operations listener.
pub fn ops_router<S>(service: SecretsService) -> Router<S> {
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .with_state(service)
}

fn agent_routes<S>(agent: AgentState) -> Router<S> {
    Router::new()
        .route("/secretsmanager/get", any(agent::get_by_query))
        .route("/v1/{*secret_id}", any(agent::get_by_path))
        .with_state(agent)
}

async fn not_found() -> Response {
    let error = sm::ApiError::new(
        StatusCode::NOT_FOUND,
        "UnknownOperationException",
        "No such resource: Secrets Manager requests are POST /.",
    );
    error.into_response(crate::service::RequestId::next())
}
