//! Outgoing HTTP for plugins: the standard `wasi:http/outgoing-handler`, so every language's
//! HTTP library works, with the grant checked on each request before anything is sent.

use std::future::Future;
use std::sync::Arc;

use http::uri::Scheme;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use super::grant::Grant;
use super::state::Refusals;

pub(super) struct HttpGate {
    grant: Arc<Grant>,
    refusals: Arc<Refusals>,
}

impl HttpGate {
    pub fn new(grant: Arc<Grant>, refusals: Arc<Refusals>) -> Self {
        Self { grant, refusals }
    }

    /// Whether the grant allows the request's destination; if not, why.
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
        if self.grant.allows_http(host, port) {
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
            self.refusals.refuse(refusal);
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
