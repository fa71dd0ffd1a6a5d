//! The mTLS listener: accepts connections, completes the handshake, learns who the caller is,
//! and serves HTTP/1.1 and HTTP/2 on the connection with that identity attached.
//!
//! The defaults bound what one client can hold: a handshake, a request's headers and its body
//! must arrive within their timeouts, and connections beyond the limit wait in the accept queue.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use std::convert::Infallible;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;
use tracing::Instrument as _;

use crate::tls::{ClientIdentity, Peer};

/// How long open connections get to finish their requests after shutdown begins.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Debug)]
pub struct Limits {
    pub max_connections: usize,
    pub handshake_timeout: Duration,
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
}

/// Where each new connection gets its TLS configuration, so certificates can change under a
/// running server without touching open connections.
pub trait TlsSource: Send + Sync + 'static {
    fn current(&self) -> Arc<ServerConfig>;
}

impl TlsSource for Arc<ServerConfig> {
    fn current(&self) -> Arc<ServerConfig> {
        Arc::clone(self)
    }
}

impl TlsSource for Arc<crate::tls::LiveTlsConfig> {
    fn current(&self) -> Arc<ServerConfig> {
        crate::tls::LiveTlsConfig::current(self)
    }
}

/// How a listener learns who its callers are.
#[derive(Clone)]
pub enum Transport {
    /// Mutual TLS: each caller is the identity in its client certificate.
    Tls(Arc<dyn TlsSource>),
    /// Plain HTTP: every caller acts as `identity` (none for listeners whose routes need no
    /// caller, such as health checks).
    Plain { identity: Option<ClientIdentity> },
}

/// What a listener serves: an axum `Router`, or any service of the same shape.
pub trait App:
    tower::Service<
        hyper::Request<Body>,
        Response = Response<Body>,
        Error = Infallible,
        Future: Send,
    > + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> App for S where
    S: tower::Service<
            hyper::Request<Body>,
            Response = Response<Body>,
            Error = Infallible,
            Future: Send,
        > + Clone
        + Send
        + Sync
        + 'static
{
}

/// Serves `app` on `listener` until `shutdown` completes, then drains open connections.
pub async fn serve<A: App>(
    listener: TcpListener,
    transport: Transport,
    app: A,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopping) = watch::channel(false);
    let connections = TaskTracker::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Duration::from_secs(60));
    let builder = Arc::new(builder);

    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, address) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, say: back off instead of spinning.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let connection = Connection {
            transport: match &transport {
                Transport::Tls(tls) => Accept::Tls(TlsAcceptor::from(tls.current())),
                Transport::Plain { identity } => Accept::Plain(identity.clone()),
            },
            app: app.clone(),
            builder: Arc::clone(&builder),
            handshake_timeout: limits.handshake_timeout,
            body_read_timeout: limits.body_read_timeout,
            stopping: stopping.clone(),
        };
        connections.spawn(async move {
            connection.run(stream, address).await;
            drop(slot);
        });
    }
    tracing::info!(
        open = connections.len(),
        "shutting down: draining connections"
    );
    let _ = stop.send(true);
    connections.close();
    if tokio::time::timeout(DRAIN_TIMEOUT, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            open = connections.len(),
            "connections still open after the drain timeout"
        );
    }
}

enum Accept {
    Tls(TlsAcceptor),
    Plain(Option<ClientIdentity>),
}

struct Connection<A> {
    transport: Accept,
    app: A,
    builder: Arc<auto::Builder<TokioExecutor>>,
    handshake_timeout: Duration,
    body_read_timeout: Duration,
    stopping: watch::Receiver<bool>,
}

impl<A: App> Connection<A> {
    async fn run(self, stream: TcpStream, address: SocketAddr) {
        let _ = stream.set_nodelay(true);
        match &self.transport {
            Accept::Plain(identity) => {
                let peer = identity
                    .clone()
                    .map(|identity| Arc::new(Peer { identity, address }));
                self.serve_http(TokioIo::new(stream), peer, address).await;
            }
            Accept::Tls(acceptor) => {
                let handshake =
                    tokio::time::timeout(self.handshake_timeout, acceptor.accept(stream));
                let stream = match handshake.await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(err)) => {
                        tracing::info!(client = %address, reason = %err, "TLS handshake refused");
                        return;
                    }
                    Err(_) => {
                        tracing::info!(client = %address, "TLS handshake timed out");
                        return;
                    }
                };
                let identity = stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|chain| chain.first())
                    .and_then(|leaf| ClientIdentity::from_certificate(leaf));
                let Some(identity) = identity else {
                    tracing::info!(client = %address, "client certificate names no identity; closing");
                    return;
                };
                let peer = Arc::new(Peer { identity, address });
                self.serve_http(TokioIo::new(stream), Some(peer), address)
                    .await;
            }
        }
    }

    async fn serve_http<IO>(&self, io: TokioIo<IO>, peer: Option<Arc<Peer>>, address: SocketAddr)
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        // The connection's span carries who is calling; each request's span, a child of it,
        // carries the operation and secret. Requests are instrumented with the connection's
        // span when their own is disabled, so every log line of a request names its caller.
        let connection_span = match &peer {
            Some(peer) => {
                tracing::info_span!("connection", identity = %peer.identity, client = %peer.address)
            }
            None => tracing::info_span!("connection", client = %address),
        };
        let app = self.app.clone();
        let parent = connection_span.clone();
        let body_read_timeout = self.body_read_timeout;
        let service = tower::service_fn(move |request: hyper::Request<Incoming>| {
            let mut request =
                request.map(|body| Body::new(DeadlineBody::new(body, body_read_timeout)));
            if let Some(peer) = &peer {
                request.extensions_mut().insert(Arc::clone(peer));
            }
            let span = tracing::debug_span!(
                parent: &parent,
                "request",
                operation = tracing::field::Empty,
                secret = tracing::field::Empty,
            );
            let span = if span.is_disabled() {
                parent.clone()
            } else {
                span
            };
            app.clone().oneshot(request).instrument(span)
        });
        let connection = self
            .builder
            .serve_connection(io, TowerToHyperService::new(service));
        tokio::pin!(connection);
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(err) = result {
                    tracing::debug!(client = %address, error = %err, "connection ended with an error");
                }
            }
            () = stopped(self.stopping.clone()) => {
                connection.as_mut().graceful_shutdown();
                let _ = connection.await;
            }
        }
    }
}

async fn stopped(mut stopping: watch::Receiver<bool>) {
    let _ = stopping.wait_for(|stop| *stop).await;
}

/// A request body that fails once its deadline passes before it has arrived in full: the
/// header timeout does not cover the body, and a client sending one byte now and then would
/// otherwise hold its connection for ever. (tower-http's body timeout restarts at every
/// frame, which such a client satisfies.)
struct DeadlineBody {
    inner: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl DeadlineBody {
    fn new(inner: Incoming, timeout: Duration) -> Self {
        Self {
            inner,
            deadline: Box::pin(tokio::time::sleep(timeout)),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within the body read timeout")]
struct BodyTimedOut;

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(BodyTimedOut.into()))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
