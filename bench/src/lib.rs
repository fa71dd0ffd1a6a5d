//! Shared by the benchmark binaries: TLS material from PEM files, HTTP/1.1 connections to a
//! target URL, and the load generators' summary line.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;

pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

pub fn certificates(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    CertificateDer::pem_file_iter(path)
        .with_context(|| format!("reading {}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("parsing {}", path.display()))
}

pub fn private_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path).with_context(|| format!("reading {}", path.display()))
}

/// A client configuration trusting `ca`, presenting `cert`/`key` when given.
pub fn client_config(
    ca: &Path,
    identity: Option<(&Path, &Path)>,
) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for certificate in certificates(ca)? {
        roots.add(certificate)?;
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    let config = match identity {
        Some((cert, key)) => {
            builder.with_client_auth_cert(certificates(cert)?, private_key(key)?)?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// Where a load generator sends its requests: host, port and path of an `http://` or
/// `https://` URL, with the TLS connector an `https://` one needs.
pub struct Target {
    pub host: String,
    pub port: u16,
    pub path: String,
    tls: Option<tokio_rustls::TlsConnector>,
}

impl Target {
    /// Parses `url`; an `https://` one needs `ca`, and presents `identity` (certificate and
    /// key files) when given.
    pub fn new(
        url: &str,
        ca: Option<&Path>,
        identity: Option<(&Path, &Path)>,
    ) -> anyhow::Result<Self> {
        let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            bail!("the URL must start with http:// or https://");
        };
        let (authority, path) = rest
            .split_once('/')
            .map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
        let (host, port) = authority.rsplit_once(':').context("the URL needs a port")?;
        let tls = if tls {
            let ca = ca.context("https needs a CA certificate (--cacert)")?;
            let mut config = (*client_config(ca, identity)?).clone();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Some(tokio_rustls::TlsConnector::from(Arc::new(config)))
        } else {
            None
        };
        Ok(Self {
            host: host.trim_matches(['[', ']']).to_owned(),
            port: port.parse().context("the URL's port")?,
            path,
            tls,
        })
    }

    /// The value of the Host header.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// Opens one keep-alive HTTP/1.1 connection (TLS for `https://`), driven by a task of its
    /// own; the sender fails once the connection is gone.
    pub async fn connect(&self) -> anyhow::Result<http1::SendRequest<Full<Bytes>>> {
        let stream = TcpStream::connect((self.host.as_str(), self.port)).await?;
        stream.set_nodelay(true)?;
        match &self.tls {
            Some(connector) => {
                let name = ServerName::try_from(self.host.clone())?;
                let stream = connector.connect(name, stream).await?;
                let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
                tokio::spawn(connection);
                Ok(sender)
            }
            None => {
                let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
                tokio::spawn(connection);
                Ok(sender)
            }
        }
    }
}

/// The JSON line a load generator prints: throughput and latency quantiles in microseconds.
pub fn summary(
    label: &str,
    connections: usize,
    seconds: f64,
    latencies: &hdrhistogram::Histogram<u64>,
    errors: u64,
    non_2xx: u64,
) -> serde_json::Value {
    serde_json::json!({
        "label": label,
        "connections": connections,
        "seconds": seconds,
        "requests": latencies.len(),
        "rps": (latencies.len() as f64 / seconds).round(),
        "p50_us": latencies.value_at_quantile(0.50),
        "p90_us": latencies.value_at_quantile(0.90),
        "p99_us": latencies.value_at_quantile(0.99),
        "p999_us": latencies.value_at_quantile(0.999),
        "max_us": latencies.max(),
        "errors": errors,
        "non_2xx": non_2xx,
    })
}
