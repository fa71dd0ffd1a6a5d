//! Outgoing HTTP for plugins: the standard `wasi:http/outgoing-handler`, so every language's
//! HTTP library works, with the grant checked on each request before anything is sent.

use std::future::Future;
use std::sync::{Arc, Mutex};

use http::uri::Scheme;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use super::grant::{Grant, HostPattern};

pub(super) struct HttpGate {
    plugin: Arc<str>,
    hosts: Vec<HostPattern>,
    refusals: Arc<Mutex<Vec<String>>>,
}

impl HttpGate {
    pub fn new(plugin: Arc<str>, grant: &Grant, refusals: Arc<Mutex<Vec<String>>>) -> Self {
        Self {
            plugin,
            hosts: grant.http_hosts.clone(),
            refusals,
        }
    }

    /// The request's destination as `host:port`, if the grant allows it.
    fn check(&self, request: &http::Request<WasiBody>) -> Result<(), String> {
        let uri = request.uri();
        let Some(authority) = uri.authority() else {
            return Err(format!("HTTP request without a host: {uri}"));
        };
        let port = authority.port_u16().unwrap_or(match uri.scheme() {
            Some(scheme) if *scheme == Scheme::HTTP => 80,
            _ => 443,
        });
        let host = authority.host();
        let grant = Grant {
            http_hosts: self.hosts.clone(),
            ..Grant::default()
        };
        if grant.allows_http(host, port) {
            Ok(())
        } else {
            Err(format!(
                "HTTP request to {host}:{port}: not in the plugin's http_hosts"
            ))
        }
    }
}

type ResponseFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), Error>> + Send>,
                ),
                Error,
            >,
        > + Send,
>;

impl WasiHttpHooks for HttpGate {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _response_errors: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> ResponseFuture {
        if let Err(refusal) = self.check(&request) {
            tracing::warn!(plugin = %self.plugin, "refused: {refusal}");
            self.refusals.lock().expect("not poisoned").push(refusal);
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }
        Box::new(async move {
            use http_body_util::BodyExt;
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}
