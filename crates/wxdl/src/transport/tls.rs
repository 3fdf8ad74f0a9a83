//! TLS client configuration: platform roots plus the host's extra CAs, ALPN per protocol set.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

/// The TLS configurations a client uses (one per ALPN offer), sharing one trust store.
#[derive(Debug, Clone)]
pub(crate) struct TlsConfigs {
    /// ALPN `http/1.1` only.
    pub http1: Arc<ClientConfig>,
    /// ALPN `h2, http/1.1`.
    pub h2: Arc<ClientConfig>,
    /// ALPN `h3`, TLS 1.3 only (for QUIC).
    pub h3: Arc<ClientConfig>,
}

impl TlsConfigs {
    /// Builds the trust store from the platform roots (when `platform_roots`) and `extra_pems`.
    pub fn new(extra_pems: &[Vec<u8>], platform_roots: bool) -> Result<TlsConfigs, String> {
        let mut roots = RootCertStore::empty();
        if platform_roots {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                // A platform root rustls cannot parse is skipped, as browsers do.
                let _ = roots.add(cert);
            }
        }
        for pem in extra_pems {
            let mut any = false;
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| format!("CA certificate PEM: {e}"))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("CA certificate: {e}"))?;
                any = true;
            }
            if !any {
                return Err("CA certificate PEM: no CERTIFICATE block found".into());
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut h3 = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
        h3.alpn_protocols = vec![b"h3".to_vec()];
        let base = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http1 = base.clone();
        http1.alpn_protocols = vec![b"http/1.1".to_vec()];
        let mut h2 = base;
        h2.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(TlsConfigs {
            http1: Arc::new(http1),
            h2: Arc::new(h2),
            h3: Arc::new(h3),
        })
    }
}
