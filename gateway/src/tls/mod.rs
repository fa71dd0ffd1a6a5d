//! Mutual TLS: the server configuration, client-certificate verification and caller identity.
//!
//! A client must present a certificate that chains to the configured CA bundle, is within its
//! validity period and (when a CRL is configured) not revoked; anything else is refused during
//! the handshake, before a single request byte is read.

mod identity;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::server::{ServerConfig, WebPkiClientVerifier};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};

pub use identity::{ClientIdentity, IdentityKind, Peer, SharedPeer};

/// The files that make up the server's TLS material.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The server's certificate chain (PEM), leaf first.
    pub cert: PathBuf,
    /// The server's private key (PEM, PKCS#8, SEC1 or PKCS#1).
    pub key: PathBuf,
    /// The CA certificates client certificates must chain to (PEM bundle).
    pub client_ca: PathBuf,
    /// Revoked client certificates (PEM CRLs), optional.
    pub crl: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {what} {path}")]
    Read {
        what: &'static str,
        path: PathBuf,
        source: rustls_pki_types::pem::Error,
    },
    #[error("{what} {path} holds no PEM {expected}")]
    Empty {
        what: &'static str,
        path: PathBuf,
        expected: &'static str,
    },
    #[error("client CA bundle {path} is not usable")]
    ClientCa {
        path: PathBuf,
        source: rustls::Error,
    },
    #[error("cannot build the client certificate verifier")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    #[error("the server certificate and key do not form a usable pair: {0}")]
    ServerIdentity(rustls::Error),
}

/// The crypto provider for every TLS context of the gateway, chosen explicitly so the
/// configuration never depends on which providers other crates enable.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Builds the server configuration from the files, offering HTTP/2 and HTTP/1.1 over ALPN.
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = crypto_provider();
    let chain = read_certificates("server certificate", &files.cert)?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|source| TlsError::Read {
        what: "server key",
        path: files.key.clone(),
        source,
    })?;

    let mut roots = RootCertStore::empty();
    for certificate in read_certificates("client CA bundle", &files.client_ca)? {
        roots
            .add(certificate)
            .map_err(|source| TlsError::ClientCa {
                path: files.client_ca.clone(),
                source,
            })?;
    }
    let crls = match &files.crl {
        Some(path) => read_crls(path)?,
        None => Vec::new(),
    };
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
            .with_crls(crls)
            .build()?;

    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::ServerIdentity)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(TlsError::ServerIdentity)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn read_certificates(
    what: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let read_err = |source| TlsError::Read {
        what,
        path: path.to_owned(),
        source,
    };
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(read_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_err)?;
    if certificates.is_empty() {
        return Err(TlsError::Empty {
            what,
            path: path.to_owned(),
            expected: "certificate",
        });
    }
    Ok(certificates)
}

fn read_crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, TlsError> {
    let what = "certificate revocation list";
    let read_err = |source| TlsError::Read {
        what,
        path: path.to_owned(),
        source,
    };
    let crls = CertificateRevocationListDer::pem_file_iter(path)
        .map_err(read_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_err)?;
    if crls.is_empty() {
        return Err(TlsError::Empty {
            what,
            path: path.to_owned(),
            expected: "X509 CRL",
        });
    }
    Ok(crls)
}

/// The server configuration in force, rebuilt from its files on [`LiveTlsConfig::reload`].
/// Each handshake takes the configuration current at that moment, so open connections keep
/// the one they were made with.
pub struct LiveTlsConfig {
    files: TlsFiles,
    current: ArcSwap<ServerConfig>,
}

impl LiveTlsConfig {
    pub fn load(files: TlsFiles) -> Result<Self, TlsError> {
        let config = server_config(&files)?;
        Ok(Self {
            files,
            current: ArcSwap::new(config),
        })
    }

    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    pub fn current(&self) -> Arc<ServerConfig> {
        self.current.load_full()
    }

    /// Rebuilds the configuration; on error the one in force stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        self.current.store(server_config(&self.files)?);
        Ok(())
    }
}
