//! TLS on the daemon's listener: the certificate chain and private key from PEM files
//! (`daemon.tls_cert`, `daemon.tls_key`), made into a rustls server configuration.
//!
//! Owns: reading and checking the two files (every error names the file; a key that does
//! not belong to the certificate is refused before anything starts). Does not own: the
//! listener or the reload on SIGHUP (the daemon swaps the configuration this returns).

use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The TLS files could not be made into a server configuration.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TlsError(pub String);

/// Reads `cert` (PEM, the server certificate first, then its chain) and `key` (PEM,
/// PKCS#8, PKCS#1 or SEC1) into a rustls server configuration offering HTTP/2 and
/// HTTP/1.1.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let read = |file: &Path, what: &str| {
        std::fs::read(file).map_err(|e| {
            TlsError(format!(
                "cannot read the TLS {what} `{}`: {e}",
                file.display()
            ))
        })
    };
    let cert_pem = read(cert, "certificate (`daemon.tls_cert`)")?;
    let key_pem = read(key, "key (`daemon.tls_key`)")?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| {
            TlsError(format!(
                "`{}` (`daemon.tls_cert`) is not a PEM certificate chain: {e}",
                cert.display()
            ))
        })?;
    if chain.is_empty() {
        return Err(TlsError(format!(
            "`{}` (`daemon.tls_cert`) holds no `CERTIFICATE` block",
            cert.display()
        )));
    }
    let private = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        TlsError(format!(
            "`{}` (`daemon.tls_key`) holds no PEM private key: {e}",
            key.display()
        ))
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError(format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| {
            TlsError(format!(
                "the TLS key `{}` does not fit the certificate `{}`: {e}",
                key.display(),
                cert.display()
            ))
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
