//! Shared by the benchmark binaries: TLS material from PEM files, and the load generators'
//! summary line.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

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
