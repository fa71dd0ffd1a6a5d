//! secrets-gateway: a gateway in front of AWS Secrets Manager or its own encrypted store,
//! serving secrets over mutual TLS in the Secrets Manager wire protocol.
//!
//! The request path reads `api` → `service` → `store`; `tls` and `server` carry connections
//! to it, `config` and `daemon` assemble it, and `cli` is the command line.

pub mod api;
pub mod cache;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod metrics;
pub mod operation;
pub mod pki;
pub mod server;
pub mod service;
pub mod store;
pub mod tls;
