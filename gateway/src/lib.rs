//! secrets-gateway: a gateway in front of AWS Secrets Manager or its own encrypted store,
//! serving secrets over mutual TLS in the Secrets Manager wire protocol.
//!
//! The request path reads `api` → `service` (where `authz` and `audit` are applied) →
//! `cache` → `store`; `tls` and `server` carry connections to it, `reload` keeps the policy
//! and the certificates current, `config` and `daemon` assemble it, and `cli` is the command
//! line.

pub mod api;
pub mod audit;
pub mod authz;
pub mod cache;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod metrics;
pub mod operation;
pub mod pki;
pub mod plugins;
pub mod reload;
pub mod rotation;
pub mod server;
pub mod service;
pub mod store;
pub mod tls;

/// An error and its sources, `: `-separated, for log fields (errors here never repeat their
/// source in their own message).
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(err) = source {
        text.push_str(": ");
        text.push_str(&err.to_string());
        source = err.source();
    }
    text
}
